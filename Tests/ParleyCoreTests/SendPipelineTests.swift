import Foundation
import Mongo
import ParleyCore
import TestSupport
import Synchronization
import Testing

@Suite("Send pipeline")
struct SendPipelineTests {
    static func setUp(_ db: MongoDatabase) async throws -> (ParleyRepositories, UserRecord, ObjectId) {
        let migrated = try await MigratedDatabase(db)
        let repos = migrated.repos
        let user = try await migrated.user("sender")
        let room = try await RoomService(repos: repos, presence: PresenceRegistry()).create(.init(name: "r"), by: user)
        return (repos, user, room.record.id)
    }

    /// Waits until the pipeline has raised every room's `lastSeq`.
    static func settle(_ pipeline: SendPipeline) async {
        while !pipeline.isIdle { try? await Task.sleep(for: .milliseconds(5)) }
    }

    @Test("lastSeq trails the acks by the raiser's interval; the node's head covers the gap, and the next writer catches up")
    func lastSeqTrails() async throws {
        try await TestDatabase.with { db in
            let (repos, user, room) = try await Self.setUp(db)
            // An interval longer than the test: this node never raises lastSeq here.
            let slow = SendPipeline(repos: repos, sink: RecordingSink(), lastSeqInterval: .seconds(30))
            for k in 1...3 {
                let sent = try await slow.send(.init(roomId: room, sender: user, text: "m\(k)", clientId: "m\(k)", origin: nil))
                #expect(sent.message.seq == k)
            }
            // Acked and stored, and the node knows its head, before lastSeq is raised.
            let record = try #require(try await repos.rooms.find(id: room))
            #expect(record.lastSeq == 0 && slow.head(of: record) == 3 && !slow.isIdle)
            #expect(try await db.collection("messages").countDocuments() == 3)
            // Another node numbers after what is stored, and raises lastSeq for all of it.
            let other = SendPipeline(repos: repos, sink: RecordingSink())
            #expect(try await other.send(.init(roomId: room, sender: user, text: "m4", clientId: "m4", origin: nil)).message.seq == 4)
            await Self.settle(other)
            let raised = try #require(try await repos.rooms.find(id: room))
            #expect(raised.lastSeq == 4 && raised.lastMessageAt != nil && slow.head(of: raised) == 4)
        }
    }

    @Test("a retry the cache does not know (after a restart) returns the original; the others keep dense seqs")
    func retryAfterRestart() async throws {
        try await TestDatabase.with { db in
            let (repos, user, room) = try await Self.setUp(db)
            let before = SendPipeline(repos: repos, sink: RecordingSink())
            let original = try await before.send(.init(roomId: room, sender: user, text: "first", clientId: "x", origin: nil))
            #expect(original.isNew && original.message.seq == 1)

            // A new pipeline has an empty cache, as after a restart.
            let after = SendPipeline(repos: repos, sink: RecordingSink())
            let retried = after.enqueue(.init(roomId: room, sender: user, text: "first again", clientId: "x", origin: nil))
            let y = after.enqueue(.init(roomId: room, sender: user, text: "second", clientId: "y", origin: nil))
            let z = after.enqueue(.init(roomId: room, sender: user, text: "third", clientId: "z", origin: nil))
            let r = try await retried.value()
            #expect(!r.isNew && r.message.id == original.message.id && r.message.text == "first")
            let seqs = [try await y.value().message.seq, try await z.value().message.seq]
            #expect(seqs == [2, 3])
            #expect(try await db.collection("messages").countDocuments() == 3)
            await Self.settle(after)
            #expect(try await repos.rooms.find(id: room)?.lastSeq == 3)
            // And the same pipeline answers the next retry from its cache.
            #expect(try await after.send(.init(roomId: room, sender: user, text: "again", clientId: "y", origin: nil)).message.seq == 2)
        }
    }

    @Test("messages to an unknown room fail with not_found and store nothing")
    func unknownRoom() async throws {
        try await TestDatabase.with { db in
            let (repos, user, _) = try await Self.setUp(db)
            let pipeline = SendPipeline(repos: repos, sink: RecordingSink())
            await #expect(throws: ParleyError.self) {
                _ = try await pipeline.send(.init(roomId: ObjectId(), sender: user, text: "lost", clientId: "l", origin: nil))
            }
            #expect(try await db.collection("messages").countDocuments() == 0)
        }
    }

    @Test("two nodes writing one room: seqs stay dense, nothing is stored twice, each sender keeps its order")
    func twoNodesOneRoom() async throws {
        try await TestDatabase.with { db in
            let (repos, alice, room) = try await Self.setUp(db)
            let bob = try await AccountService(users: repos.users, hasher: PasswordHasher(cost: 4)).createUser(username: "bob", password: "password123")
            let nodes = [SendPipeline(repos: repos, sink: RecordingSink()), SendPipeline(repos: repos, sink: RecordingSink())]
            var promises: [(sender: String, clientId: Int, promise: Deferred<SendPipeline.Outcome>)] = []
            // Interleaved bursts, so both nodes write the room while the other's counter is stale.
            for burst in 0..<8 {
                for n in 0..<25 {
                    let k = burst * 25 + n
                    promises.append(("alice", k, nodes[0].enqueue(.init(roomId: room, sender: alice, text: "a\(k)", clientId: "a\(k)", origin: nil))))
                    promises.append(("bob", k, nodes[1].enqueue(.init(roomId: room, sender: bob, text: "b\(k)", clientId: "b\(k)", origin: nil))))
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            var seqs: [String: [Int]] = [:]
            for p in promises {
                let outcome = try await p.promise.value()
                #expect(outcome.isNew)
                seqs[p.sender, default: []].append(outcome.message.seq)
            }
            let all = (seqs["alice"] ?? []) + (seqs["bob"] ?? [])
            #expect(all.sorted() == Array(1...400))
            #expect(seqs["alice"] == seqs["alice"]?.sorted() && seqs["bob"] == seqs["bob"]?.sorted())
            #expect(try await db.collection("messages").countDocuments() == 400)
            for node in nodes { await Self.settle(node) }
            #expect(try await repos.rooms.find(id: room)?.lastSeq == 400)
        }
    }

    @Test("messages stored past lastSeq (a crash before it was raised) are numbered after, and lastSeq catches up")
    func storedPastLastSeq() async throws {
        try await TestDatabase.with { db in
            let (repos, user, room) = try await Self.setUp(db)
            let orphans = (1...3).map { MessageRecord(roomId: room, seq: $0, senderId: user.id, senderName: "s", text: "o\($0)", clientId: "o\($0)") }
            try await repos.messages.insert(orphans)
            #expect(try await repos.rooms.find(id: room)?.lastSeq == 0)

            let pipeline = SendPipeline(repos: repos, sink: RecordingSink())
            let sent = try await pipeline.send(.init(roomId: room, sender: user, text: "next", clientId: "n", origin: nil))
            #expect(sent.isNew && sent.message.seq == 4)
            // The sender's retry of an orphan is answered with it, as stored.
            let retry = try await pipeline.send(.init(roomId: room, sender: user, text: "o2 again", clientId: "o2", origin: nil))
            #expect(!retry.isNew && retry.message.seq == 2 && retry.message.text == "o2")
            await Self.settle(pipeline)
            #expect(try await repos.rooms.find(id: room)?.lastSeq == 4)
        }
    }

    @Test("one write stores several rooms' messages, each room numbered on its own, and delivers per room")
    func severalRoomsOneWrite() async throws {
        try await TestDatabase.with { db in
            let (repos, user, first) = try await Self.setUp(db)
            let rooms = RoomService(repos: repos, presence: PresenceRegistry())
            var roomIds = [first]
            for n in 0..<2 { roomIds.append(try await rooms.create(.init(name: "r\(n)"), by: user).record.id) }
            let deliveries = RecordingSink()
            let pipeline = SendPipeline(repos: repos, sink: deliveries)
            var promises: [(ObjectId, Deferred<SendPipeline.Outcome>)] = []
            for k in 0..<30 {
                let roomId = roomIds[k % 3]
                promises.append((roomId, pipeline.enqueue(.init(roomId: roomId, sender: user, text: "m\(k)", clientId: "m\(k)", origin: 7))))
            }
            var byRoom: [ObjectId: [Int]] = [:]
            for (roomId, p) in promises { byRoom[roomId, default: []].append(try await p.value().message.seq) }
            await Self.settle(pipeline)
            for roomId in roomIds {
                #expect(byRoom[roomId] == Array(1...10))
                #expect(deliveries.seqs(in: roomId) == Array(1...10))
                #expect(try await repos.rooms.find(id: roomId)?.lastSeq == 10)
            }
        }
    }

    @Test("each batch reports its stages: every message counted once, the insert measured, the queue wait of its oldest message")
    func stages() async throws {
        try await TestDatabase.with { db in
            let (repos, user, room) = try await Self.setUp(db)
            let observer = StageRecorder()
            let pipeline = SendPipeline(repos: repos, sink: RecordingSink(), stages: observer)
            let promises = (0..<20).map { k in pipeline.enqueue(.init(roomId: room, sender: user, text: "m\(k)", clientId: "s\(k)", origin: nil)) }
            for p in promises { _ = try await p.value() }
            let batches = observer.batches.withLock { $0 }
            // Enqueued before the drain task ran: they gather into batches, each counted once.
            #expect(batches.map(\.messages).reduce(0, +) == 20 && !batches.isEmpty && batches.count < 20)
            // Each waited for the drain task at least, and each write took time.
            #expect(batches.allSatisfy { $0.insert > .zero && $0.queueWait > .zero && $0.fanout >= .zero })
        }
    }
}

/// Every batch's stages, as the pipeline reported them.
final class StageRecorder: SendStageObserver {
    let batches = Mutex<[SendStages]>([])
    func batchWritten(_ stages: SendStages) { batches.withLock { $0.append(stages) } }
}
