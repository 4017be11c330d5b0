import NIOCore
import NIOWebSocket

/// Writes a socket's queued text payloads as RFC 6455 text frames in one buffer,
/// past NIO's `WebSocketFrameEncoder`: the fan-out's hot path.
///
/// Through the encoder every frame was a boxed `WebSocketFrame` through the
/// pipeline, a frame header of its own (the payload is shared by every recipient,
/// so the header cannot be put in front of it) and two of the channel's pending
/// writes; a stored batch of 20 messages to 1,000 sockets made 20,000 headers.
/// Here each write is one buffer: headers and payloads copied in order (a server's
/// frames are not masked), written on the encoder's own context so it goes straight
/// to the socket, in order with anything else the pipeline writes.
struct TextFrameWriter {
    /// A payload this large is written as its own buffer after its header rather than
    /// copied: the copy would cost more than the pending write it saves.
    static let copyLimit = 16 * 1024

    /// The frame encoder's context: writing on it passes the encoder by.
    private let raw: ChannelHandlerContext?

    /// Finds the frame encoder in front of `context`'s handler; without one (no
    /// upgrade ran) frames go through the pipeline one by one.
    init(context: ChannelHandlerContext) {
        raw = try? context.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
    }

    /// Writes `payloads` as text frames, in order, with one flush.
    func write(_ payloads: [ByteBuffer], context: ChannelHandlerContext) {
        guard !payloads.isEmpty else { return }
        guard let raw else {
            for payload in payloads {
                context.write(NIOAny(WebSocketFrame(fin: true, opcode: .text, data: payload)), promise: nil)
            }
            context.flush()
            return
        }
        var chunk = context.channel.allocator.buffer(capacity: Self.copiedSize(payloads[...]))
        for (i, payload) in payloads.enumerated() {
            Self.appendHeader(length: payload.readableBytes, to: &chunk)
            if payload.readableBytes <= Self.copyLimit {
                chunk.writeImmutableBuffer(payload)
            } else {
                raw.write(NIOAny(chunk), promise: nil)
                raw.write(NIOAny(payload), promise: nil)
                // The next chunk holds what follows, sized for it at once.
                chunk = context.channel.allocator.buffer(capacity: Self.copiedSize(payloads[(i + 1)...]))
            }
        }
        if chunk.readableBytes > 0 { raw.write(NIOAny(chunk), promise: nil) }
        raw.flush()
    }

    /// The bytes `write` copies: every header, and the payloads under `copyLimit`.
    static func copiedSize(_ payloads: ArraySlice<ByteBuffer>) -> Int {
        payloads.reduce(0) { sum, p in
            sum + headerSize(length: p.readableBytes) + (p.readableBytes <= copyLimit ? p.readableBytes : 0)
        }
    }

    static func headerSize(length: Int) -> Int { length <= 125 ? 2 : length <= 0xFFFF ? 4 : 10 }

    /// A final, unmasked text frame's header for a payload of `length` bytes.
    static func appendHeader(length: Int, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0x81))  // FIN, text
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
