public import NIOCore

extension ByteBuffer {
    /// These bytes on storage of their own when they are a small slice of something much larger (a request body, a
    /// WebSocket frame with other fields): what is kept for long must hold what it counts, not the message it came in.
    public func owned() -> ByteBuffer {
        guard self.storageCapacity > self.readableBytes + self.readableBytes / 4 + 256 else { return self }
        var own = ByteBufferAllocator().buffer(capacity: self.readableBytes)
        own.writeImmutableBuffer(self)
        return own
    }
}
