import Foundation
import Logging
import Mongo
import ParleyCore
import Synchronization
import TestSupport
import Testing

@testable import ParleyServer

/// A send forwarded to the node that writes its room, when the answer is late: on
/// the real database, with the writer's liveness in the test's hands.
@Suite("Send router: a forwarded send the writer has not answered")
struct SendRouterTests {
    @Test("waits while the writer is alive, is written here once it is gone or after maxWait, and is stored once")
    func lateAnswer() async throws {
        try await TestDatabase.with { db in
            let migrated = try await MigratedDatabase(db)
            let repos = migrated.repos
            let user = try await migrated.user("sender")
            let rooms = RoomService(repos: repos, presence: PresenceRegistry())
            // Rooms the other node writes (its rendezvous weight is the higher).
            var theirs: [ObjectId] = []
            while theirs.count < 2 {
                let id = try await rooms.create(.init(name: "r\(theirs.count)"), by: user).record.id
                if SendRouter.writer(of: id, among: ["here", "there"]) == "there" { theirs.append(id) }
            }
            let logger = Logger(label: "test")
            // The outbox is not run: the forwarded sends stay in it, as if the other node
            // were too busy to answer.
            let outbox = SignalOutbox(database: db, node: "here", heartbeat: .seconds(60), logger: logger)
            let router = SendRouter(
                node: "here", pipeline: SendPipeline(repos: repos, sink: RecordingSink()), outbox: outbox, timeout: .milliseconds(100),
                maxWait: .seconds(2), logger: logger)
            let alive = Mutex(["there"])
            router.knowPeers { alive.withLock { $0 } }
            let messages = db.collection("messages")

            // Late but alive: not written here (that would race the writer for the seqs).
            let first = router.submit(.init(roomId: theirs[0], sender: user, text: "a", clientId: "a", origin: nil))
            try await Task.sleep(for: .milliseconds(700))
            #expect(try await messages.countDocuments() == 0)
            // The writer is gone: written here.
            alive.withLock { $0 = [] }
            #expect(try await first.value().message.text == "a")

            // Alive throughout and never answering (its signal lost): written here once
            // maxWait has passed, not before.
            alive.withLock { $0 = ["there"] }
            let start = ContinuousClock.now
            let second = try await router.submit(.init(roomId: theirs[1], sender: user, text: "b", clientId: "b", origin: nil)).value()
            #expect(ContinuousClock.now - start >= .seconds(2))
            #expect(second.message.text == "b" && second.message.seq == 1)
            #expect(try await messages.countDocuments() == 2)
        }
    }
}
