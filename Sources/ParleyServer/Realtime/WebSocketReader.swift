import NIOCore
import NIOWebSocket

/// A client's messages read straight from a socket's bytes (RFC 6455): frames parsed,
/// unmasked and joined, inside the socket's own handler.
///
/// NIO's way takes four handlers after the upgrade (the frame decoder inside a
/// `ByteToMessageHandler`, the frame encoder, the protocol error handler and the
/// fragment aggregator), each with its pipeline context: about 0.9 KiB of every idle
/// socket's 5.4. This keeps only what a socket needs between reads: the bytes of a
/// frame that is still arriving, and the fragments of a message that is, in a
/// `Backlog` made when there are some and let go when they are read. An idle socket's
/// reader is its limit and an empty reference.
///
/// Enforced as a server must: client frames are masked, no reserved bits (no
/// extension is negotiated) or opcodes, control frames final and at most 125 bytes,
/// fragments in order, at most 1,024 of them, and a message (fragments joined) at
/// most `maxMessageBytes`, checked from a frame's header before its payload is
/// buffered.
struct WebSocketReader {
    /// A complete message or control frame, unmasked.
    struct Message {
        let opcode: WebSocketOpcode
        var data: ByteBuffer
    }

    /// Why the connection must be failed: the close code and reason to send.
    struct Failure: Error, Equatable {
        let code: WebSocketErrorCode
        let reason: String

        static func protocolError(_ reason: String) -> Failure { Failure(code: .protocolError, reason: reason) }
    }

    static let maxFragments = 1_024

    let maxMessageBytes: Int
    /// What is left between reads; nil when nothing is.
    private var backlog: Backlog?
    /// A close frame or a failure ended the stream: what follows is not read.
    private(set) var finished = false

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// A frame or a message still arriving. Held by one reader only, so its buffers
    /// are appended to in place.
    private final class Backlog {
        /// The start of a frame that has not fully arrived, in a buffer of its own.
        var pending: ByteBuffer?
        /// The fragments so far of a message that has not ended, joined.
        var fragments: ByteBuffer?
        var fragmentOpcode = WebSocketOpcode.text
        var fragmentCount = 0
    }

    /// Whether anything is kept between reads (a frame or a message still arriving).
    var holdsBacklog: Bool { backlog != nil }

    /// The backlog, made if there is none yet.
    private mutating func keep() -> Backlog {
        if let backlog { return backlog }
        let made = Backlog()
        backlog = made
        return made
    }

    /// Reads `incoming`, handing each complete message to `deliver` in order. A
    /// failure ends the stream (the caller fails the connection with its code).
    ///
    /// What is left of a frame still arriving is copied out of `incoming`, so the
    /// channel's receive buffer is free for its next read rather than kept beside a
    /// second one.
    mutating func read(_ incoming: ByteBuffer, allocator: ByteBufferAllocator, _ deliver: (Message) -> Void) throws(Failure) {
        guard !finished else { return }
        var input: ByteBuffer
        let ownsInput: Bool
        if var pending = backlog?.pending {
            backlog?.pending = nil  // uniquely held, so the append does not copy it
            var more = incoming
            pending.writeBuffer(&more)
            input = pending
            ownsInput = true
        } else {
            input = incoming
            ownsInput = false
        }
        do throws(Failure) {
            while let frame = try nextFrame(&input) {
                guard let message = try assemble(frame) else { continue }
                deliver(message)
                if message.opcode == .connectionClose {
                    finished = true
                    return
                }
            }
        } catch {
            finished = true
            backlog = nil
            throw error
        }
        guard input.readableBytes > 0 else {
            if backlog?.fragments == nil { backlog = nil }
            return
        }
        if ownsInput {
            if input.readerIndex > input.capacity / 2 { input.discardReadBytes() }
            keep().pending = input
        } else {
            var copy = allocator.buffer(capacity: input.readableBytes)
            copy.writeBuffer(&input)
            keep().pending = copy
        }
    }

    private struct Frame {
        let fin: Bool
        let opcode: UInt8
        var payload: ByteBuffer
    }

    /// The next whole frame in `input` (consumed), or nil when it has not all arrived
    /// (`input` untouched).
    private func nextFrame(_ input: inout ByteBuffer) throws(Failure) -> Frame? {
        let start = input.readerIndex
        guard let b0 = input.getInteger(at: start, as: UInt8.self), let b1 = input.getInteger(at: start + 1, as: UInt8.self) else {
            return nil
        }
        let fin = b0 & 0x80 != 0
        let opcode = b0 & 0x0F
        guard b0 & 0x70 == 0 else { throw .protocolError("reserved bits set") }
        guard b1 & 0x80 != 0 else { throw .protocolError("client frames must be masked") }
        let isControl = opcode & 0x08 != 0
        var headerSize = 2
        var length = Int(b1 & 0x7F)
        if length == 126 {
            guard let extended = input.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = Int(extended)
            headerSize = 4
        } else if length == 127 {
            guard let extended = input.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            guard extended <= UInt64(Int32.max) else { throw tooLarge }
            length = Int(extended)
            headerSize = 10
        }
        if isControl {
            guard fin else { throw .protocolError("fragmented control frame") }
            guard length <= 125 else { throw .protocolError("control frame over 125 bytes") }
        } else {
            guard length <= maxMessageBytes else { throw tooLarge }
        }
        guard input.readableBytes >= headerSize + 4 + length,
            let key = input.viewBytes(at: start + headerSize, length: 4).flatMap({ WebSocketMaskingKey($0) }),
            var payload = input.getSlice(at: start + headerSize + 4, length: length)
        else { return nil }
        payload.webSocketUnmask(key)
        input.moveReaderIndex(forwardBy: headerSize + 4 + length)
        return Frame(fin: fin, opcode: opcode, payload: payload)
    }

    private var tooLarge: Failure { Failure(code: .messageTooLarge, reason: "message over \(maxMessageBytes) bytes") }

    /// The message `frame` completes, if any: control frames pass at once (they may
    /// come between fragments), data frames are joined until the final one.
    private mutating func assemble(_ frame: Frame) throws(Failure) -> Message? {
        var frame = frame
        switch frame.opcode {
        case 0x1, 0x2:
            guard backlog?.fragments == nil else { throw .protocolError("a new message before the last one ended") }
            let opcode: WebSocketOpcode = frame.opcode == 0x1 ? .text : .binary
            if frame.fin { return Message(opcode: opcode, data: frame.payload) }
            let b = keep()
            b.fragments = frame.payload
            b.fragmentOpcode = opcode
            b.fragmentCount = 1
            return nil
        case 0x0:
            guard let b = backlog, var joined = b.fragments else { throw .protocolError("a continuation frame outside a message") }
            b.fragments = nil  // uniquely held, so the append does not copy it
            b.fragmentCount += 1
            guard b.fragmentCount <= Self.maxFragments else { throw .protocolError("over \(Self.maxFragments) fragments") }
            guard joined.readableBytes + frame.payload.readableBytes <= maxMessageBytes else { throw tooLarge }
            joined.writeBuffer(&frame.payload)
            if frame.fin { return Message(opcode: b.fragmentOpcode, data: joined) }
            b.fragments = joined
            return nil
        case 0x8:
            return Message(opcode: .connectionClose, data: frame.payload)
        case 0x9:
            return Message(opcode: .ping, data: frame.payload)
        case 0xA:
            return Message(opcode: .pong, data: frame.payload)
        default:
            throw .protocolError("reserved opcode \(frame.opcode)")
        }
    }
}
