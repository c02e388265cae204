// The protocol's configuration, errors and roles (`MuxConfiguration`, `MuxError`, `MuxRole`) are
// part of a session's API, so importing TetherMux brings the protocol module with it.
@_exported import TetherYamux
