import Foundation
import Mongo
import Synchronization
import TestSupport
import Testing

@testable import ParleyCore

/// The send path's pure logic without a database: numbering, typed refusals, retries,
/// batching and the cache, over `InMemoryMessageStore`. `SendPipelineTests` runs the
/// same behaviours against the real database.
@Suite("Send path, without a database")
struct SendPathUnitTests {
    static let alice = UserRecord(username: "alice", displayName: "Alice", passwordHash: "x")
    static let bob = UserRecord(username: "bob", displayName: "Bob", passwordHash: "x")

    static func submission(_ room: ObjectId, _ clientId: String, from user: UserRecord = alice, origin: UInt64? = nil) -> SendPipeline.Submission {
        SendPipeline.Submission(roomId: room, sender: user, text: "text of \(clientId)", clientId: clientId, origin: origin)
    }

    static func writer(_ store: InMemoryMessageStore) -> (BatchWriter, RoomHeads) {
        let heads = RoomHeads(store: store, interval: .milliseconds(1), logger: .init(label: "test"))
        var writer = BatchWriter(store: store, heads: heads, logger: .init(label: "test"))
        writer.limits.collisionPause = .milliseconds(1)
        writer.limits.transientPause = .milliseconds(1)
        return (writer, heads)
    }

    @Test("one write numbers each room on its own, densely, in queue order, with one insert")
    func numbering() async throws {
        let (r1, r2) = (ObjectId(), ObjectId())
        let store = InMemoryMessageStore(rooms: [r1, r2])
        store.addRoom(r2, lastSeq: 7)
        let (writer, _) = Self.writer(store)
        let outcomes = await writer.write([Self.submission(r1, "a"), Self.submission(r2, "b"), Self.submission(r1, "c"), Self.submission(r2, "d")])
        #expect(try outcomes.map { try $0.get().message.seq } == [1, 8, 2, 9])
        #expect(try outcomes.allSatisfy { try $0.get().isNew && $0.get().announce })
        #expect(store.insertCount == 1)
        // The next write numbers from the counters, without reading lastSeq again.
        let next = await writer.write([Self.submission(r1, "e")])
        #expect(try next[0].get().message.seq == 3)
    }

    @Test("seq taken by another writer: the prefix stands, the rest is renumbered after the room's highest seq")
    func seqTaken() async throws {
        let room = ObjectId()
        let store = InMemoryMessageStore(rooms: [room])
        let (writer, _) = Self.writer(store)
        _ = await writer.write([Self.submission(room, "a")])
        // Another node stores 2...4 behind this node's back.
        store.storeDirectly((2...4).map { MessageRecord(roomId: room, seq: $0, senderId: Self.bob.id, senderName: "Bob", text: "b", clientId: "b\($0)") })
        let outcomes = await writer.write([Self.submission(room, "x"), Self.submission(room, "y")])
        #expect(try outcomes.map { try $0.get().message.seq } == [5, 6])
        #expect(store.messages.map(\.seq).sorted() == Array(1...6))
    }

    @Test("clientId taken: the waiting retries are answered with their originals, announced again; the others are stored")
    func clientIdTaken() async throws {
        let room = ObjectId()
        let store = InMemoryMessageStore(rooms: [room])
        let original = MessageRecord(roomId: room, seq: 1, senderId: Self.alice.id, senderName: "Alice", text: "first", clientId: "dup")
        store.storeDirectly([original])
        store.addRoom(room, lastSeq: 1)
        let (writer, _) = Self.writer(store)
        let outcomes = await writer.write([Self.submission(room, "new1"), Self.submission(room, "dup"), Self.submission(room, "new2")])
        let dup = try outcomes[1].get()
        #expect(!dup.isNew && dup.announce && dup.message.id == original.id && dup.message.text == "first")
        #expect(try [outcomes[0].get().message.seq, outcomes[2].get().message.seq] == [2, 3])
        #expect(store.messages.count == 3)
    }

    @Test("a timeout fails the rest at once as unavailable and forgets the counter; a refused connection is retried")
    func unavailable() async throws {
        let room = ObjectId()
        let store = InMemoryMessageStore(rooms: [room])
        let (writer, heads) = Self.writer(store)
        store.fail(next: .unavailable(landing: 1, timedOut: true))
        let timedOut = await writer.write([Self.submission(room, "a"), Self.submission(room, "b")])
        // What landed before the break is unknown to the writer: both answered unavailable,
        // and the counter dropped, so the next write reads what is there.
        #expect(timedOut.allSatisfy { if case .failure(let e) = $0 { e.code == .unavailable } else { false } })
        #expect(heads.counters(for: [room]).isEmpty)
        // The client retries both: "a" landed (answered with it), "b" is stored after it.
        let retried = await writer.write([Self.submission(room, "a"), Self.submission(room, "b")])
        #expect(try retried.map { try $0.get().message.seq } == [1, 2])
        #expect(try !retried[0].get().isNew && retried[1].get().isNew)

        store.fail(next: .unavailable(landing: 1, timedOut: false))
        let flaky = await writer.write([Self.submission(room, "c"), Self.submission(room, "d")])
        #expect(try flaky.map { try $0.get().message.seq } == [3, 4])
        #expect(try flaky.allSatisfy { try $0.get().isNew })
        #expect(store.messages.count == 4)
    }

    @Test("a rejected document: the prefix stands, the rest fails as internal; an unknown room is not_found")
    func rejectedAndUnknown() async throws {
        let room = ObjectId()
        let store = InMemoryMessageStore(rooms: [room])
        let (writer, _) = Self.writer(store)
        store.fail(next: .rejected(at: 1))
        let outcomes = await writer.write([Self.submission(room, "a"), Self.submission(room, "b"), Self.submission(ObjectId(), "lost")])
        #expect(try outcomes[0].get().message.seq == 1)
        if case .failure(let e) = outcomes[1] { #expect(e.code == .internal) } else { Issue.record("a rejected document was acked") }
        if case .failure(let e) = outcomes[2] { #expect(e.code == .notFound) } else { Issue.record("a message to no room was acked") }
        #expect(store.messages.map(\.clientId) == ["a"])
    }

    @Test("the pipeline: repeats in a batch share one message, the cache answers retries, announcements in seq order before acks")
    func pipeline() async throws {
        let room = ObjectId()
        let store = InMemoryMessageStore(rooms: [room])
        let sink = RecordingSink()
        let pipeline = SendPipeline(store: store, sink: sink, lastSeqInterval: .milliseconds(1))
        let sends = ["a", "b", "a", "c"].map { pipeline.enqueue(Self.submission(room, $0, origin: 9)) }
        var outcomes: [SendPipeline.Outcome] = []
        for s in sends { outcomes.append(try await s.value()) }
        #expect(outcomes.map(\.message.seq) == [1, 2, 1, 3])
        #expect(outcomes.map(\.isNew) == [true, true, false, true])
        #expect(sink.seqs(in: room) == [1, 2, 3])
        let inserts = store.insertCount
        // A retry this node stored is answered from its cache: no insert, no announcement.
        let again = try await pipeline.send(Self.submission(room, "b"))
        #expect(!again.isNew && again.message.seq == 2 && store.insertCount == inserts && sink.seqs(in: room) == [1, 2, 3])
        while !pipeline.isIdle { try await Task.sleep(for: .milliseconds(1)) }
        #expect(store.recordedLastSeq(room) == 3)
    }

    @Test("the send queue hands the writer everything waiting, in order, one batch at a time, at most maxBatch")
    func sendQueue() async throws {
        let seen = Mutex<(batches: [[Int]], inWrite: Int, overlap: Bool)>(([], 0, false))
        let gate = AsyncStream<Void>.makeStream()
        let first = Mutex(true)
        let queue = SendQueue<Int>(maxBatch: 3) { batch in
            seen.withLock { s in
                s.inWrite += 1
                if s.inWrite > 1 { s.overlap = true }
                s.batches.append(batch)
            }
            // The first write waits until everything else is queued behind it.
            if first.withLock({ f in defer { f = false }; return f }) {
                var it = gate.stream.makeAsyncIterator()
                _ = await it.next()
            }
            seen.withLock { $0.inWrite -= 1 }
        }
        queue.append(0)
        while seen.withLock({ $0.batches.isEmpty }) { try await Task.sleep(for: .milliseconds(1)) }
        for n in 1...7 { queue.append(n) }
        gate.continuation.yield()
        while !queue.isIdle { try await Task.sleep(for: .milliseconds(1)) }
        let result = seen.withLock { $0 }
        #expect(result.batches == [[0], [1, 2, 3], [4, 5, 6], [7]])
        #expect(!result.overlap)
    }

    /// Waits until the heads have no raise waiting or running. Each wait has its own
    /// guard against a hang (a loaded machine stretches the 500 ms interval and the
    /// retry pause; what is checked is the outcome, never the time it took).
    static func settle(_ heads: RoomHeads) async throws {
        let guardTime = ContinuousClock.now + .seconds(60)
        while !heads.isIdle {
            try #require(ContinuousClock.now < guardTime, "the raise never settled")
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test("room heads: the counter covers a trailing lastSeq; raises are coalesced and retried until the store takes them")
    func roomHeads() async throws {
        let room = ObjectId()
        let store = InMemoryMessageStore(rooms: [room])
        // An interval far longer than the three synchronous marks below take.
        let heads = RoomHeads(store: store, interval: .milliseconds(500), logger: .init(label: "test"))
        heads.update(rooms: [room], counters: [room: 3])
        let other = RoomRecord(name: "r", kind: .group, createdBy: Self.alice.id)
        #expect(heads.head(of: RoomRecord(id: room, name: "r", kind: .group, createdBy: Self.alice.id)) == 3 && heads.head(of: other) == 0)
        // Three marks within one interval: one raise, to the highest.
        store.failRaises(1)
        for seq in 1...3 { heads.stored([room: seq]) }
        try await Self.settle(heads)
        #expect(store.recordedLastSeq(room) == 3)
        // The first attempt failed and was retried: two calls for three marks.
        #expect(store.raiseCount == 2)
        heads.learn([room: 9])
        try await Self.settle(heads)
        #expect(store.recordedLastSeq(room) == 9)
    }

    @Test("raises wait three times as long as a slow insert took, between the interval and four intervals; quiet again, the interval")
    func raisePace() async throws {
        let pace = RaisePace(interval: .milliseconds(250))
        #expect(pace.pause(afterInsertTook: .milliseconds(5)) == .milliseconds(250))
        #expect(pace.pause(afterInsertTook: .milliseconds(100)) == .milliseconds(300))
        #expect(pace.pause(afterInsertTook: .milliseconds(380)) == .seconds(1))
        #expect(pace.pause(afterInsertTook: .zero) == .milliseconds(250))

        let room = ObjectId()
        let store = InMemoryMessageStore(rooms: [room])
        let heads = RoomHeads(store: store, interval: .milliseconds(50), logger: .init(label: "test"))
        // An insert of 200 ms: the raise waits four intervals (200 ms), not one.
        let marked = ContinuousClock.now
        heads.stored([room: 1], insertTook: .milliseconds(200))
        try await Task.sleep(for: .milliseconds(120))
        if ContinuousClock.now - marked < .milliseconds(200) { #expect(store.raiseCount == 0) }
        try await Self.settle(heads)
        #expect(ContinuousClock.now - marked >= .milliseconds(200))
        #expect(store.recordedLastSeq(room) == 1 && store.raiseCount == 1)
        // Quiet since: the next raise waits the interval, as after a fast insert.
        let again = ContinuousClock.now
        heads.stored([room: 2], insertTook: .milliseconds(1))
        try await Self.settle(heads)
        #expect(store.recordedLastSeq(room) == 2)
        #expect(ContinuousClock.now - again >= .milliseconds(50))
    }

    @Test("recent sends keep each sender's last entries and forget the oldest")
    func recentSends() {
        let recent = RecentSends(perSender: 2, maxSenders: 10)
        let room = ObjectId()
        for n in 1...3 {
            recent.remember(MessageRecord(roomId: room, seq: n, senderId: Self.alice.id, senderName: "A", text: "t", clientId: "c\(n)"))
        }
        #expect(recent.lookup(sender: Self.alice.id, clientId: "c1") == nil)
        #expect(recent.lookup(sender: Self.alice.id, clientId: "c3")?.seq == 3)
        #expect(recent.lookup(sender: Self.bob.id, clientId: "c3") == nil)
    }

    @Test("typed refusals from MongoDB's write errors: by the index's fields, never by the message text")
    func refusalsFromDriverErrors() {
        func error(_ fields: [String], index: Int = 2, message: String = "E11000") -> MongoError {
            var e = MongoError(code: .duplicateKey, serverCode: 11000, message: message)
            e.writeErrors = [MongoError.WriteError(index: index, code: 11000, message: message, keyFields: fields)]
            return e
        }
        #expect(RepositoryMessageStore.refusal(error(["roomId", "seq"])) == .seqTaken(at: 2))
        #expect(RepositoryMessageStore.refusal(error(["senderId", "clientId"], index: 0)) == .clientIdTaken(at: 0))
        // Text that names one index while the fields name the other: the fields win.
        #expect(RepositoryMessageStore.refusal(error(["roomId", "seq"], message: "index: senderId_1_clientId_1")) == .seqTaken(at: 2))
        #expect(RepositoryMessageStore.refusal(error([])) == .rejected(at: 2))
        #expect(RepositoryMessageStore.refusal(MongoError(code: .timeout, message: "late")) == .unavailable(timedOut: true))
        #expect(RepositoryMessageStore.refusal(MongoError(code: .network, message: "refused")) == .unavailable(timedOut: false))
        #expect(RepositoryMessageStore.refusal(MongoError(code: .server, message: "other")) == nil)
    }
}
