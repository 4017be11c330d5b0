import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import parley_bench

/// The load generator's WebSocket client is our own code on the byte level: these
/// feed it what a server writes, cut at every byte boundary, and check the frames it
/// hands on and the frames it writes. Its use against real servers is `bench.sh`
/// (and the smoke run in `Tests/interop/test_bench.py`).
@Suite("parley-bench: the WebSocket client's framing")
struct BenchWireTests {
    final class Seen: Sendable {
        let frames = Mutex<[String]>([])
        let upgraded = Mutex(false)
        let closed = Mutex<String?>(nil)
    }

    private func channel(_ seen: Seen, replyTo ping: String? = nil) throws -> EmbeddedChannel {
        let events = BenchWireHandler.Events(
            upgraded: { seen.upgraded.withLock { $0 = true } },
            text: { frame, reply in
                seen.frames.withLock { $0.append(frame.text) }
                if let ping, frame.text == ping { reply("pong to \(ping)") }
            },
            closed: { error in seen.closed.withLock { $0 = error.map { "\($0)" } ?? "clean" } })
        let channel = EmbeddedChannel(
            handler: BenchWireHandler(host: "127.0.0.1", port: 8080, path: "/ws", headers: [("Authorization", "Bearer t")], events: events))
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        return channel
    }

    /// A server frame: unmasked, with the length in the form its size asks for.
    private func serverFrame(_ text: String, opcode: UInt8 = 0x1, fin: Bool = true) -> [UInt8] {
        let payload = Array(text.utf8)
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            out.append(UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        return out + payload
    }

    /// Undoes a client frame's mask: (opcode, payload).
    private func unmask(_ buffer: ByteBuffer) -> (UInt8, String) {
        let bytes = Array(buffer.readableBytesView)
        var length = Int(bytes[1] & 0x7F)
        var at = 2
        if length == 126 {
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            at = 4
        }
        #expect(bytes[1] & 0x80 != 0, "a client frame must be masked")
        let key = Array(bytes[at..<at + 4])
        let payload = (0..<length).map { bytes[at + 4 + $0] ^ key[$0 & 3] }
        return (bytes[0] & 0x0F, String(decoding: payload, as: UTF8.self))
    }

    @Test("the upgrade request, then frames cut at every byte boundary: each delivered once, whole, in order")
    func framesAcrossReads() throws {
        let long = String(repeating: "y", count: 300)
        let huge = String(repeating: "z", count: 70_000)
        let upgrade = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".utf8)
        let stream = upgrade + serverFrame(#"{"type":"message:new","n":1}"#) + serverFrame(long) + serverFrame("par", fin: false)
            + serverFrame("t", opcode: 0x0, fin: false) + serverFrame("s", opcode: 0x0) + serverFrame(huge) + serverFrame("last")
        let expected = [#"{"type":"message:new","n":1}"#, long, "parts", huge, "last"]
        for cut in [1, 2, 3, 7, 64, 1000, stream.count] {
            let seen = Seen()
            let channel = try self.channel(seen)
            let request = try #require(try channel.readOutbound(as: ByteBuffer.self))
            let head = String(buffer: request)
            #expect(head.hasPrefix("GET /ws HTTP/1.1\r\n") && head.contains("Authorization: Bearer t\r\n") && head.hasSuffix("\r\n\r\n"))
            #expect(head.contains("Upgrade: websocket\r\n") && head.contains("Sec-WebSocket-Version: 13\r\n"))
            var at = 0
            while at < stream.count {
                try channel.writeInbound(ByteBuffer(bytes: stream[at..<min(at + cut, stream.count)]))
                at += cut
            }
            #expect(seen.upgraded.withLock { $0 })
            #expect(seen.frames.withLock { $0 } == expected, "cut every \(cut) bytes")
            _ = try channel.finish()
        }
    }

    @Test("a ping gets its pong, a reply goes out masked, a close closes; a refused upgrade is an error")
    func controlFramesAndReplies() throws {
        let seen = Seen()
        let channel = try self.channel(seen, replyTo: "2")
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(bytes: Array("HTTP/1.1 101 Switching Protocols\r\n\r\n".utf8) + serverFrame("hi", opcode: 0x9) + serverFrame("2")))
        let pong = unmask(try #require(try channel.readOutbound(as: ByteBuffer.self)))
        #expect(pong.0 == 0xA && pong.1 == "hi")
        let reply = unmask(try #require(try channel.readOutbound(as: ByteBuffer.self)))
        #expect(reply.0 == 0x1 && reply.1 == "pong to 2")
        let sent = unmask(BenchWireHandler.frame(text: String(repeating: "é", count: 100), allocator: ByteBufferAllocator()))
        #expect(sent.1 == String(repeating: "é", count: 100))
        try channel.writeInbound(ByteBuffer(bytes: serverFrame("", opcode: 0x8)))
        #expect(!channel.isActive)
        #expect(seen.closed.withLock { $0 } == "clean")

        let refused = Seen()
        let other = try self.channel(refused)
        try other.writeInbound(ByteBuffer(string: "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"))
        #expect(!other.isActive)
        #expect(refused.closed.withLock { $0 }?.contains("401") == true)
        #expect(refused.frames.withLock { $0 }.isEmpty)
    }

    @Test("frames are classified and the send stamp read from the bytes")
    func classifyAndStamp() {
        #expect(BenchSocket.kind(of: BenchFrame(#"{"type":"message:new","data":{}}"#)) == .messageNew)
        #expect(BenchSocket.kind(of: BenchFrame(#"{"type":"ack","id":"1","ok":true}"#)) == .ack)
        #expect(BenchSocket.kind(of: BenchFrame(#"42["sync:done",{}]"#)) == .syncDone)
        #expect(BenchSocket.kind(of: BenchFrame(#"42["message:new",{"type":"message:new"}]"#)) == .messageNew)
        #expect(BenchSocket.kind(of: BenchFrame("3")) == .other)
        #expect(Stamp.read(BenchFrame(#"{"data":{"text":"t=123456789;xx"}}"#)) == 123_456_789)
        #expect(Stamp.read(BenchFrame(#"{"data":{"text":"hello"}}"#)) == nil)
        let frame = BenchFrame("aaab aab ab")
        #expect(frame.offset(of: "ab") == 2 && frame.offset(of: "aab ") == 1 && frame.offset(of: " ab") == 8 && frame.offset(of: "ba") == nil)
        #expect(frame.hasPrefix("aaab") && !frame.hasPrefix("aab") && !BenchFrame("a").hasPrefix("ab"))
        #expect(BenchFrame("").hasPrefix("") && !BenchFrame("").hasPrefix("a") && BenchFrame("").offset(of: "a") == nil)
    }
}
