import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import ParleyServer

/// The socket handlers' inbound framing (`WebSocketReader`) on its own, fed the
/// bytes NIO's frame encoder writes as a client (masked). On real sockets:
/// `WebSocketTests` (fragments, 1002, 1009, 1007), `test_fuzz.py`, `test_limits.py`.
@Suite("Reading a client's frames")
struct WebSocketReaderTests {
    /// `frames` as a client sends them: masked, one buffer.
    static func wire(_ frames: [WebSocketFrame]) throws -> ByteBuffer {
        let client = EmbeddedChannel(handler: WebSocketFrameEncoder())
        for frame in frames { try client.writeOutbound(frame) }
        var out = ByteBuffer()
        while var b = try client.readOutbound(as: ByteBuffer.self) { out.writeBuffer(&b) }
        _ = try client.finish()
        return out
    }

    static func frame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true, masked: Bool = true) -> WebSocketFrame {
        WebSocketFrame(fin: fin, opcode: opcode, maskKey: masked ? .random() : nil, data: ByteBuffer(string: text))
    }

    struct Read {
        var messages: [(WebSocketOpcode, String)] = []
        var failure: WebSocketReader.Failure?
    }

    /// Reads `bytes` in pieces of `step` bytes (all at once when nil).
    static func read(_ bytes: ByteBuffer, step: Int? = nil, max: Int = 1 << 20) -> Read {
        var reader = WebSocketReader(maxMessageBytes: max)
        var result = Read()
        var rest = bytes
        while rest.readableBytes > 0 {
            let piece = rest.readSlice(length: Swift.min(step ?? rest.readableBytes, rest.readableBytes))!
            do {
                try reader.read(piece, allocator: ByteBufferAllocator()) { m in
                    result.messages.append((m.opcode, String(buffer: m.data)))
                }
            } catch {
                result.failure = error
                break
            }
        }
        return result
    }

    @Test("messages of every header size come out unmasked and in order, however the bytes are split")
    func everySplit() throws {
        let texts = ["", "a", String(repeating: "b", count: 125), String(repeating: "c", count: 126), String(repeating: "d", count: 70_000)]
        let bytes = try Self.wire(texts.map { Self.frame(.text, $0) } + [Self.frame(.ping, "p"), Self.frame(.binary, "bin")])
        for step in [nil, 1, 7, 1_000] {
            let read = Self.read(bytes, step: step)
            #expect(read.failure == nil)
            #expect(read.messages.map(\.1) == texts + ["p", "bin"], "step \(String(describing: step))")
            #expect(read.messages.map(\.0) == Array(repeating: .text, count: texts.count) + [.ping, .binary])
        }
    }

    @Test("fragments are joined into one message, with a control frame between them passed at once")
    func fragments() throws {
        let bytes = try Self.wire([
            Self.frame(.text, "Hel", fin: false), Self.frame(.ping, "between"), Self.frame(.continuation, "lo, ", fin: false),
            Self.frame(.continuation, "world"), Self.frame(.binary, "b1", fin: false), Self.frame(.continuation, "b2"),
        ])
        for step in [nil, 3] {
            let read = Self.read(bytes, step: step)
            #expect(read.failure == nil)
            #expect(read.messages.map(\.1) == ["between", "Hello, world", "b1b2"])
            #expect(read.messages.map(\.0) == [.ping, .text, .binary])
        }
    }

    @Test("out-of-order fragments, reserved bits and opcodes, unmasked and bad control frames fail with 1002")
    func protocolErrors() throws {
        var reserved = try Self.wire([Self.frame(.text, "x")])
        reserved.setInteger(reserved.getInteger(at: 0, as: UInt8.self)! | 0x40, at: 0)
        var opcode = try Self.wire([Self.frame(.text, "x")])
        opcode.setInteger(UInt8(0x83), at: 0)
        let cases: [(String, ByteBuffer)] = [
            ("continuation first", try Self.wire([Self.frame(.continuation, "x")])),
            ("new message mid-fragments", try Self.wire([Self.frame(.text, "a", fin: false), Self.frame(.text, "b")])),
            ("unmasked", try Self.wire([Self.frame(.text, "x", masked: false)])),
            ("fragmented ping", try Self.wire([Self.frame(.ping, "x", fin: false)])),
            ("long ping", try Self.wire([Self.frame(.ping, String(repeating: "x", count: 126))])),
            ("rsv2", reserved),
            ("opcode 3", opcode),
        ]
        for (name, bytes) in cases {
            let read = Self.read(bytes)
            #expect(read.failure?.code == .protocolError, "\(name)")
            #expect(read.messages.isEmpty, "\(name)")
        }
        let many = try Self.wire(
            [Self.frame(.text, "a", fin: false)] + (0..<WebSocketReader.maxFragments).map { _ in Self.frame(.continuation, "a", fin: false) })
        #expect(Self.read(many).failure?.code == .protocolError)
    }

    @Test("a message over the limit fails with 1009, from the frame's header or from its fragments")
    func tooLarge() throws {
        // The header alone: the reader refuses before the payload arrives.
        let header = try Self.wire([Self.frame(.text, String(repeating: "x", count: 5_000))]).getSlice(at: 0, length: 8)!
        #expect(Self.read(header, max: 4_096).failure == WebSocketReader.Failure(code: .messageTooLarge, reason: "message over 4096 bytes"))
        let joined = try Self.wire([
            Self.frame(.text, String(repeating: "x", count: 3_000), fin: false), Self.frame(.continuation, String(repeating: "x", count: 3_000)),
        ])
        #expect(Self.read(joined, max: 4_096).failure?.code == .messageTooLarge)
        let exact = try Self.wire([Self.frame(.text, String(repeating: "x", count: 4_096))])
        #expect(Self.read(exact, max: 4_096).messages.count == 1)
    }

    @Test("nothing is read after a close frame or a failure")
    func finished() throws {
        let bytes = try Self.wire([Self.frame(.connectionClose, ""), Self.frame(.text, "after")])
        #expect(Self.read(bytes).messages.map(\.0) == [.connectionClose])
        var reader = WebSocketReader(maxMessageBytes: 100)
        #expect(throws: WebSocketReader.Failure.self) {
            try reader.read(try Self.wire([Self.frame(.continuation, "x")]), allocator: ByteBufferAllocator()) { _ in }
        }
        var delivered = 0
        try reader.read(try Self.wire([Self.frame(.text, "x")]), allocator: ByteBufferAllocator()) { _ in delivered += 1 }
        #expect(reader.finished && delivered == 0)
    }

    @Test("between reads the reader keeps a backlog only while a frame or a message is still arriving")
    func backlogOnlyWhileArriving() throws {
        let split = try Self.wire([Self.frame(.text, "whole"), Self.frame(.text, String(repeating: "y", count: 200))])
        let fragmented = try Self.wire([Self.frame(.text, "frag", fin: false), Self.frame(.continuation, "ment")])
        var reader = WebSocketReader(maxMessageBytes: 1_000)
        var messages: [String] = []
        func read(_ bytes: ByteBuffer) throws {
            try reader.read(bytes, allocator: ByteBufferAllocator()) { messages.append(String(buffer: $0.data)) }
        }
        try read(split.getSlice(at: 0, length: 50)!)
        #expect(reader.holdsBacklog)  // the second frame's start
        try read(split.getSlice(at: 50, length: split.readableBytes - 50)!)
        #expect(!reader.holdsBacklog)
        let first = fragmented.readableBytes / 2 + 2  // past the first fragment
        try read(fragmented.getSlice(at: 0, length: first)!)
        #expect(reader.holdsBacklog)
        try read(fragmented.getSlice(at: first, length: fragmented.readableBytes - first)!)
        #expect(!reader.holdsBacklog)
        #expect(messages == ["whole", String(repeating: "y", count: 200), "fragment"])
    }

    @Test("a frame still arriving is kept in a buffer of its own, not in the channel's receive buffer")
    func releasesTheReceiveBuffer() throws {
        let bytes = try Self.wire([Self.frame(.text, "one"), Self.frame(.text, String(repeating: "x", count: 300))])
        var reader = WebSocketReader(maxMessageBytes: 1_000)
        var received = ByteBuffer(bytes: Array(bytes.readableBytesView.prefix(100)))
        var messages: [String] = []
        try reader.read(received, allocator: ByteBufferAllocator()) { messages.append(String(buffer: $0.data)) }
        #expect(messages == ["one"])
        // The reader holds no reference to the buffer it was given: the channel may
        // reuse it for the next read.
        #expect(received.modifyIfUniquelyOwned { _ in true } == true)
        try reader.read(bytes.getSlice(at: 100, length: bytes.readableBytes - 100)!, allocator: ByteBufferAllocator()) {
            messages.append(String(buffer: $0.data))
        }
        #expect(messages == ["one", String(repeating: "x", count: 300)])
    }
}
