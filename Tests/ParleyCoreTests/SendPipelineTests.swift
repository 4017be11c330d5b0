import Foundation
import Mongo
import ParleyCore
import TestSupport
import Testing

@Suite("Send pipeline")
struct SendPipelineTests {
    static func setUp(_ db: MongoDatabase) async throws -> (ParleyRepositories, UserRecord, ObjectId) {
        try await MigrationRunner(database: db, migrations: try Migration.load(directory: RepoPaths.migrations)).apply()
        let repos = ParleyRepositories.mongo(db)
        let accounts = AccountService(users: repos.users, hasher: PasswordHasher(cost: 4))
        let user = try await accounts.createUser(username: "sender", password: "password123")
        let room = try await RoomService(repos: repos, presence: PresenceRegistry()).create(.init(name: "r"), by: user)
        return (repos, user, ObjectId(room.id)!)
    }

    @Test("a retry the cache does not know (after a restart) returns the original; the others keep dense seqs")
    func retryAfterRestart() async throws {
        try await TestDatabase.with { db in
            let (repos, user, room) = try await Self.setUp(db)
            let before = SendPipeline(repos: repos)
            let original = try await before.send(.init(roomId: room, sender: user, text: "first", clientId: "x", origin: nil))
            #expect(original.isNew && original.message.seq == 1)

            // A new pipeline has an empty cache, as after a restart.
            let after = SendPipeline(repos: repos)
            let retried = after.enqueue(.init(roomId: room, sender: user, text: "first again", clientId: "x", origin: nil))
            let y = after.enqueue(.init(roomId: room, sender: user, text: "second", clientId: "y", origin: nil))
            let z = after.enqueue(.init(roomId: room, sender: user, text: "third", clientId: "z", origin: nil))
            let r = try await retried.value()
            #expect(!r.isNew && r.message.id == original.message.id && r.message.text == "first")
            let seqs = [try await y.value().message.seq, try await z.value().message.seq]
            #expect(seqs == [2, 3])
            #expect(try await db.collection("messages").countDocuments() == 3)
            #expect(try await repos.rooms.find(id: room)?.lastSeq == 3)
            // And the same pipeline answers the next retry from its cache.
            #expect(try await after.send(.init(roomId: room, sender: user, text: "again", clientId: "y", origin: nil)).message.seq == 2)
        }
    }

    @Test("messages to an unknown room fail with not_found and store nothing")
    func unknownRoom() async throws {
        try await TestDatabase.with { db in
            let (repos, user, _) = try await Self.setUp(db)
            let pipeline = SendPipeline(repos: repos)
            await #expect(throws: ParleyError.self) {
                _ = try await pipeline.send(.init(roomId: ObjectId(), sender: user, text: "lost", clientId: "l", origin: nil))
            }
            #expect(try await db.collection("messages").countDocuments() == 0)
        }
    }
}
