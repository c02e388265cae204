import TetherReactor

/// Received buffer slices feed the frame decoder directly: payloads stay in the reactor's
/// provided buffers until the stream's reader is done with them.
extension BufferSlice: FrameByteChunk {
    public func byte(at index: Int) -> UInt8 { self[index] }
}
