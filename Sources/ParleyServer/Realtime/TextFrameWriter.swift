import NIOCore
import NIOWebSocket

/// Writes a socket's queued text payloads as RFC 6455 text frames in one buffer:
/// the fan-out's hot path.
///
/// A payload is shared by every recipient, so its frame header cannot be put in
/// front of it; a frame of its own per payload (NIO's `WebSocketFrameEncoder`) was
/// a header buffer and two of the channel's pending writes each, and a stored batch
/// of 20 messages to 1,000 sockets made 20,000 headers. Here each write is one
/// buffer: headers and payloads copied in order (a server's frames are not masked).
/// The socket handlers frame everything themselves (`WebSocketReader` inbound), so
/// the write goes from the handler's context straight to the socket, in order with
/// its control frames (`WebSocketChannelOps`).
enum TextFrameWriter {
    /// A payload this large is written as its own buffer after its header rather than
    /// copied: the copy would cost more than the pending write it saves.
    static let copyLimit = 16 * 1024

    /// Writes `payloads` as text frames, in order, with one flush.
    static func write(_ payloads: [ByteBuffer], context: ChannelHandlerContext) {
        guard !payloads.isEmpty else { return }
        var chunk = context.channel.allocator.buffer(capacity: copiedSize(payloads[...]))
        for (i, payload) in payloads.enumerated() {
            appendHeader(opcode: .text, length: payload.readableBytes, to: &chunk)
            if payload.readableBytes <= copyLimit {
                chunk.writeImmutableBuffer(payload)
            } else {
                context.write(NIOAny(chunk), promise: nil)
                context.write(NIOAny(payload), promise: nil)
                // The next chunk holds what follows, sized for it at once.
                chunk = context.channel.allocator.buffer(capacity: copiedSize(payloads[(i + 1)...]))
            }
        }
        if chunk.readableBytes > 0 { context.write(NIOAny(chunk), promise: nil) }
        context.flush()
    }

    /// The bytes `write` copies: every header, and the payloads under `copyLimit`.
    static func copiedSize(_ payloads: ArraySlice<ByteBuffer>) -> Int {
        payloads.reduce(0) { sum, p in
            sum + headerSize(length: p.readableBytes) + (p.readableBytes <= copyLimit ? p.readableBytes : 0)
        }
    }

    static func headerSize(length: Int) -> Int { length <= 125 ? 2 : length <= 0xFFFF ? 4 : 10 }

    /// A final, unmasked frame's header for a payload of `length` bytes.
    static func appendHeader(opcode: WebSocketOpcode, length: Int, to buffer: inout ByteBuffer) {
        buffer.writeInteger(0x80 | UInt8(webSocketOpcode: opcode))  // FIN
        switch length {
        case 0...125:
            buffer.writeInteger(UInt8(length))
        case 126...0xFFFF:
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }
}
