import Foundation
import Mongo
import NIOCore
import ParleyCore
import Synchronization
import Testing

@testable import ParleyServer

/// The realtime building blocks without a database or a socket: a connection's
/// holding and release around the offline flush, the hub's fan-out and
/// subscriptions, the inbox's order and backpressure, the typed event decoding.
@Suite("Realtime building blocks, without a database")
struct RealtimeUnitTests {
    /// A connection whose frames are native JSON, and whose cuts are recorded.
    final class Probe: Sendable {
        final class Cuts: Sendable {
            let reasons = Mutex<[Connection.CloseReason]>([])
        }

        let connection: Connection
        let cuts = Cuts()

        init(_ user: UserRecord, queueLimit: Int = 64) {
            let cuts = self.cuts
            connection = Connection(user: user, queueLimit: queueLimit, encode: { $0.native }, close: { r in cuts.reasons.withLock { $0.append(r) } })
        }

        /// What was queued for the client so far, as (type, seq) of each frame.
        func taken() -> [(type: String, seq: Int?)] {
            connection.outbound.takeAll().map { b in
                let json = (try? JSONSerialization.jsonObject(with: Data(buffer: b))) as? [String: Any] ?? [:]
                let message = (json["data"] as? [String: Any])?["message"] as? [String: Any]
                return (json["type"] as? String ?? "?", message?["seq"] as? Int)
            }
        }
    }

    static let alice = UserRecord(username: "alice", displayName: "Alice", passwordHash: "x")
    static let bob = UserRecord(username: "bob", displayName: "Bob", passwordHash: "x")

    static func message(_ room: ObjectId, _ seq: Int) throws -> (frame: PushFrame, seq: Int) {
        let m = MessageRecord(roomId: room, seq: seq, senderId: alice.id, senderName: "Alice", text: "m\(seq)", clientId: "c\(seq)")
        return (try PushFrame(type: "message:new", data: MessageReply(message: Message(m))), seq)
    }

    @Test("while syncing, pushes are held and released after the flush, without the messages it already sent; replies are never held")
    func holdAndRelease() throws {
        let room = ObjectId()
        let probe = Probe(Self.alice)
        let c = probe.connection
        c.deliver(messages: [try Self.message(room, 4), try Self.message(room, 5)], in: room)
        c.deliver(try PushFrame(type: "typing", data: ["roomId": room.hex]))
        c.reply(ByteBuffer(string: #"{"type":"ack","id":"1","ok":true,"data":{}}"#))
        #expect(probe.taken().map(\.type) == ["ack"])
        // The flush sent up to 4: the held 4 is dropped, 5 and the typing go out after it.
        c.sendDuringSync(try PushFrame(type: "sync:done", data: ["rooms": 1]))
        c.finishSync(flushedUpTo: [room: 4])
        let out = probe.taken()
        #expect(out.map(\.type) == ["sync:done", "message:new", "typing"])
        #expect(out.compactMap(\.seq) == [5])
        // After the sync, pushes go straight out.
        c.deliver(messages: [try Self.message(room, 6)], in: room)
        #expect(probe.taken().compactMap(\.seq) == [6])
    }

    @Test("a client that does not read is cut once its queue is full, once")
    func slowConsumer() throws {
        let probe = Probe(Self.alice, queueLimit: 3)
        let c = probe.connection
        c.finishSync(flushedUpTo: [:])
        for n in 0..<5 { c.reply(ByteBuffer(string: "\(n)")) }
        #expect(probe.cuts.reasons.withLock { $0 } == [.slowConsumer])
    }

    @Test("a timed queue tells when its oldest pending frame came; an untimed one reads no clock")
    func timedQueue() {
        let timed = OutboundQueue(limit: 10, timed: true)
        let before = ContinuousClock.now
        _ = timed.push([ByteBuffer(string: "a")])
        let pushed = ContinuousClock.now
        _ = timed.push([ByteBuffer(string: "b")])
        let (frames, since) = timed.takeAllTimed()
        #expect(frames.count == 2)
        // The first push of the burst, not the last.
        #expect(since.map { $0 >= before && $0 <= pushed } == true)
        #expect(timed.takeAllTimed().since == nil)
        let plain = OutboundQueue(limit: 10)
        _ = plain.push([ByteBuffer(string: "a")])
        #expect(plain.takeAllTimed().since == nil)
    }

    @Test("the hub: room fan-out skips the sending connection only, follows subscriptions, and forgets closed connections")
    func hub() throws {
        let hub = ConnectionHub()
        let room = ObjectId()
        let (a1, a2, b) = (Probe(Self.alice), Probe(Self.alice), Probe(Self.bob))
        for p in [a1, a2, b] { p.connection.finishSync(flushedUpTo: [:]) }
        hub.add(a1.connection, rooms: [room])
        hub.add(a2.connection, rooms: [room])
        hub.add(b.connection, rooms: [])
        let (frame, seq) = try Self.message(room, 1)
        hub.broadcast(messages: [(frame, seq, a1.connection.id)], to: room)
        #expect(a1.taken().isEmpty && a2.taken().count == 1 && b.taken().isEmpty)
        // Bob joins: his connection is subscribed; then he leaves.
        hub.subscribe(Self.bob.id, to: room)
        #expect(hub.isSubscribed(Self.bob.id, to: room))
        hub.broadcast(try PushFrame(type: "typing", data: ["roomId": room.hex]), to: room, exceptUser: Self.alice.id)
        #expect(b.taken().map(\.type) == ["typing"] && a1.taken().isEmpty && a2.taken().isEmpty)
        hub.unsubscribe(Self.bob.id, from: room)
        hub.broadcast(messages: [try Self.message(room, 2)].map { ($0.frame, $0.seq, nil) }, to: room)
        #expect(b.taken().isEmpty && a1.taken().count == 1 && a2.taken().count == 1)
        // A removed connection gets nothing more; the user's other device still does.
        #expect(hub.remove(a1.connection) && !hub.remove(a1.connection))
        hub.broadcast(messages: [try Self.message(room, 3)].map { ($0.frame, $0.seq, nil) }, to: room)
        #expect(a1.taken().isEmpty && a2.taken().count == 1)
        #expect(hub.connectionCount == 2)
    }

    @Test("the inbox runs jobs one at a time in order, asks to pause past its bound and resumes at a quarter of it")
    func inbox() async throws {
        let order = Mutex<[Int]>([])
        let resumed = Mutex(0)
        let gate = AsyncStream<Void>.makeStream()
        let inbox = SocketInbox(pauseAt: 4, resume: { resumed.withLock { $0 += 1 } })
        // The first job waits, so the others queue up behind it.
        inbox.enqueue {
            var it = gate.stream.makeAsyncIterator()
            _ = await it.next()
            order.withLock { $0.append(0) }
        }
        var pauses: [Bool] = []
        for n in 1...5 { pauses.append(inbox.enqueue { order.withLock { $0.append(n) } }) }
        // Pause once, when the queue reaches its bound (the first job may or may not
        // have been taken off it yet), and only once.
        #expect(pauses.filter { $0 }.count == 1)
        gate.continuation.yield()
        let deadline = ContinuousClock.now + .seconds(10)
        while order.withLock({ $0.count }) < 6, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        #expect(order.withLock { $0 } == [0, 1, 2, 3, 4, 5])
        #expect(resumed.withLock { $0 } == 1)
    }

    @Test("frames decode once into typed events; bad payloads keep the id and name the field")
    func clientFrames() throws {
        let room = ObjectId().hex
        let send = try ClientFrame.decode(Data(#"{"type":"message:send","id":7,"data":{"roomId":"\#(room)","text":"hi","clientId":"c"}}"#.utf8))
        guard case .messageSend(let body) = try send.event.get() else { Issue.record("not a send"); return }
        #expect(body.text == "hi" && send.id == .number(7) && ClientEvent.isSend(send.type))
        let injected = try ClientFrame.decode(Data(#"{"type":"message:send","id":"x","data":{"roomId":"\#(room)","text":{"$gt":""},"clientId":"c"}}"#.utf8))
        #expect(injected.id == .string("x"))
        #expect(throws: ParleyError.self) { try injected.event.get() }
        if case .failure(let e) = injected.event { #expect(e.code == .badRequest && e.message.contains("text")) }
        let unknown = try ClientFrame.decode(Data(#"{"type":"nope","id":"u"}"#.utf8))
        if case .failure(let e) = unknown.event { #expect(e.message.contains("unknown event")) } else { Issue.record("an unknown event decoded") }
        let missing = try ClientFrame.decode(Data(#"{"type":"typing","id":"m"}"#.utf8))
        if case .failure(let e) = missing.event { #expect(e.message == "data is required") } else { Issue.record("no data decoded") }
        // Socket.IO: name and raw payload.
        let sio = try ClientFrame.decode(name: "typing", data: #"{"roomId":"\#(room)","isTyping":true}"#)
        guard case .typing(let typing) = try sio.event.get() else { Issue.record("not typing"); return }
        #expect(typing.isTyping)
        // An envelope that does not decode: only the id is recovered.
        #expect(throws: (any Error).self) { try ClientFrame.decode(Data(#"{"type":5,"id":"e"}"#.utf8)) }
        #expect(ClientFrame.id(of: Data(#"{"type":5,"id":"e"}"#.utf8)) == .string("e"))
    }

    @Test("a stored message is encoded once: its push and its ack carry the same bytes, whichever goes first")
    func encodedOnce() throws {
        let m = MessageRecord(roomId: ObjectId(), seq: 3, senderId: Self.alice.id, senderName: "Alice", text: "héllo", clientId: "c3")
        let slot = WireBytes()
        let made = Mutex(0)
        let first = try slot.get { made.withLock { $0 += 1 }; return try WireFrames.json(MessageReply(message: Message(m))) }
        let pushed = try WireFrames.message(m, in: slot)
        let ack = try NativeDialect().ack(id: .string("a"), data: pushed)
        #expect(made.withLock { $0 } == 1 && pushed.bytes == first)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(buffer: ack)) as? [String: Any])
        let data = try #require(json["data"] as? [String: Any])
        #expect((data["message"] as? [String: Any])?["text"] as? String == "héllo")
        #expect(PushFrame(type: "message:new", json: pushed.bytes).data == first)
        // Inside another value it is refused, never written as something else.
        #expect(throws: EncodingError.self) { try WireFrames.json(["nested": pushed]) }
    }

    @Test("text frames: UTF-8 checked without a String, as strictly as the standard library")
    func utf8Check() {
        let samples: [[UInt8]] = [
            Array("plain ascii".utf8), Array("héllo wörld ✓ 🎉".utf8), [],
            [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xF8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xE2, 0x82], Array("ok".utf8) + [0xFF],
        ]
        for bytes in samples {
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBytes(UTF8Check.isValid) == expected, "\(bytes)")
        }
    }
}
