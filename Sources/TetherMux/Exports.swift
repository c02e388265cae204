// The protocol's types (errors, configuration, frames, the state machine) are part of this
// module's API: a user of sessions and streams imports TetherMux alone.
@_exported import TetherYamux
