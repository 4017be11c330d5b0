import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import ParleyServer

/// The socket handlers' text frames, written past NIO's frame encoder
/// (`TextFrameWriter`), read back by NIO's own frame decoder.
@Suite("Text frames past the encoder")
struct TextFrameWriterTests {
    /// Stands where a socket handler stands: after the encoder, writing through it.
    final class Writer: ChannelInboundHandler {
        typealias InboundIn = Never
        var context: ChannelHandlerContext?
        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    }

    /// The bytes a channel wrote, one buffer per write that reached the socket.
    static func written(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        while let b = try channel.readOutbound(as: ByteBuffer.self) { out.append(b) }
        return out
    }

    /// `bytes` read as a client reads them: NIO's decoder, frame by frame.
    static func decoded(_ bytes: [ByteBuffer]) throws -> [WebSocketFrame] {
        let client = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
        for b in bytes { try client.writeInbound(b) }
        var frames: [WebSocketFrame] = []
        while let f = try client.readInbound(as: WebSocketFrame.self) { frames.append(f) }
        _ = try client.finish()
        return frames
    }

    static func payload(_ length: Int, _ seed: UInt8) -> ByteBuffer {
        ByteBuffer(bytes: (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    }

    /// A channel with a socket handler's place behind the frame encoder (as after an
    /// upgrade), or with no encoder at all; and that place's context.
    static func channel(upgraded: Bool = true) throws -> (EmbeddedChannel, ChannelHandlerContext) {
        let channel = EmbeddedChannel()
        let writer = Writer()
        if upgraded { try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder()) }
        try channel.pipeline.syncOperations.addHandler(writer)
        return (channel, try #require(writer.context))
    }

    @Test("every header size, in order, unmasked and final; small payloads share one buffer, a large one goes as its own")
    func framesDecode() throws {
        let (channel, context) = try Self.channel()
        let lengths = [0, 1, 125, 126, 300, 0xFFFF, 0x1_0000, 70_000, 300, 2]
        let payloads = lengths.enumerated().map { Self.payload($0.element, UInt8($0.offset)) }
        TextFrameWriter(context: context).write(payloads, context: context)

        let bytes = try Self.written(channel)
        // Headers and payloads under the copy limit go in one buffer; each large payload
        // splits it: [0, 1, 125, 126, 300, header] 65535 | [header] 65536 | [header] 70000 | [300, 2].
        #expect(bytes.count == 7)
        let frames = try Self.decoded(bytes)
        #expect(frames.map(\.data.readableBytes) == lengths)
        for (frame, payload) in zip(frames, payloads) {
            #expect(frame.fin && frame.opcode == .text && frame.maskKey == nil)
            #expect(frame.data == payload)
        }
        #expect(try channel.finish().isClean)
    }

    @Test("a stored batch to one socket is one write; without an encoder in front (no upgrade) frames go one by one")
    func oneWritePerBatch() throws {
        let payloads = (0..<20).map { Self.payload(200 + $0, UInt8($0)) }

        let (upgraded, context) = try Self.channel()
        TextFrameWriter(context: context).write(payloads, context: context)
        let bytes = try Self.written(upgraded)
        #expect(bytes.count == 1)
        #expect(try Self.decoded(bytes).map(\.data) == payloads)

        let (bare, bareContext) = try Self.channel(upgraded: false)
        TextFrameWriter(context: bareContext).write(payloads, context: bareContext)
        var frames: [WebSocketFrame] = []
        while let f = try bare.readOutbound(as: WebSocketFrame.self) { frames.append(f) }
        #expect(frames.map(\.data) == payloads)
    }
}
