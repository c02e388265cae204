// The element of a `ByteStream`: code that sends or reads raw bytes needs it without importing the
// reactor.
@_exported import struct TetherReactor.BufferSlice
