import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import ParleyServer

/// The socket handlers' frames, written as bytes (`TextFrameWriter`,
/// `WebSocketChannelOps`), read back by NIO's own frame decoder.
@Suite("Frames written as bytes")
struct TextFrameWriterTests {
    /// Stands where a socket handler stands: alone in the pipeline, writing bytes.
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

    /// A channel with a socket handler's place in it, and that place's context.
    static func channel() throws -> (EmbeddedChannel, ChannelHandlerContext) {
        let channel = EmbeddedChannel()
        let writer = Writer()
        try channel.pipeline.syncOperations.addHandler(writer)
        return (channel, try #require(writer.context))
    }

    @Test("every header size, in order, unmasked and final; small payloads share one buffer, a large one goes as its own")
    func framesDecode() throws {
        let (channel, context) = try Self.channel()
        let lengths = [0, 1, 125, 126, 300, 0xFFFF, 0x1_0000, 70_000, 300, 2]
        let payloads = lengths.enumerated().map { Self.payload($0.element, UInt8($0.offset)) }
        TextFrameWriter.write(payloads, context: context)

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

    @Test("a stored batch to one socket is one write, in order after a control frame written before it")
    func oneWritePerBatch() throws {
        let payloads = (0..<20).map { Self.payload(200 + $0, UInt8($0)) }
        let (channel, context) = try Self.channel()
        WebSocketChannelOps.pong(ByteBuffer(string: "hi"), context: context)
        TextFrameWriter.write(payloads, context: context)
        let bytes = try Self.written(channel)
        #expect(bytes.count == 2)
        let frames = try Self.decoded(bytes)
        #expect(frames.map(\.opcode) == [.pong] + Array(repeating: .text, count: 20))
        #expect(frames.first?.data == ByteBuffer(string: "hi"))
        #expect(frames.dropFirst().map(\.data) == payloads)
        #expect(try channel.finish().isClean)
    }

    @Test("a close frame carries its code and at most 123 bytes of reason, cut at a character")
    func closePayload() throws {
        let long = String(repeating: "é", count: 100)  // 200 bytes
        let payload = WebSocketChannelOps.closePayload(.protocolError, reason: long, allocator: ByteBufferAllocator())
        #expect(payload.readableBytes == 2 + 122)
        var read = payload
        #expect(read.readWebSocketErrorCode() == .protocolError)
        #expect(read.readString(length: read.readableBytes) == String(repeating: "é", count: 61))
        let short = WebSocketChannelOps.closePayload(.goingAway, reason: "bye", allocator: ByteBufferAllocator())
        #expect(short.readableBytes == 5)
    }
}
