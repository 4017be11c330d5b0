import Foundation
import Mongo
import ParleyCore

/// The database's own ceiling, which every figure is read against.
extension Scenarios {
    /// The validator migrations give `messages`, if any: the ceiling is measured on a
    /// collection like the real one.
    static func messagesValidator(migrations directory: String) throws -> BSONDocument? {
        guard !directory.isEmpty else { return nil }
        for migration in try Migration.load(directory: directory) {
            for step in migration.steps where step["create"]?.stringValue == "messages" {
                if let validator = step["validator"]?.documentValue { return validator }
            }
        }
        return nil
    }

    /// The database's own bulk-insert rate for message-shaped documents, with the
    /// same unique indexes (and, when given, validator) as `messages`: the ceiling
    /// every figure is read against.
    static func dbCeiling(uri: String, documents: Int, batch: Int, concurrency: Int, padding: Int, validator: BSONDocument?) async throws -> BenchResult {
        progress("db-ceiling: \(documents) documents, batches of \(batch), \(concurrency) at once, \(validator == nil ? "no" : "with the") validator")
        let client = try MongoClient(configuration: MongoConfiguration(uri: uri, threadCount: max(2, concurrency), extraClients: 2))
        let db = client.database("bench_ceiling_\(UUID().uuidString.prefix(8))")
        if let validator { try await db.runCommand(["create": "messages", "validator": .document(validator)]) }
        let messages = db.collection("messages")
        try await messages.createIndexes([
            IndexModel(keys: ["roomId": 1, "seq": 1], options: ["unique": true]),
            IndexModel(keys: ["senderId": 1, "clientId": 1], options: ["unique": true]),
        ])
        let room = ObjectId(), sender = ObjectId()
        // The server's own document type, so the probe's documents encode as the server's do.
        let typed = db.collection("messages", withType: MessageRecord.self)
        let next = Counter()
        let workBefore = await DatabaseWork.read(client)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let first = next.add(batch)
                        guard first < documents else { return }
                        let docs = (first..<min(documents, first + batch)).map {
                            MessageRecord(
                                roomId: room, seq: $0 + 1, senderId: sender, senderName: "bench", text: Stamp.text(padding: padding), clientId: "c\($0)")
                        }
                        try await typed.insertMany(docs)
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        let workAfter = await DatabaseWork.read(client)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var figures = ["documents inserted per s": Double(documents) / seconds]
        if let workBefore, let workAfter { figures.merge(workAfter.since(workBefore).figures(per: documents, "document")) { a, _ in a } }
        try? await db.drop()
        try await client.shutdown()
        return BenchResult(
            scenario: "db-ceiling",
            parameters: ["documents": "\(documents)", "batch": "\(batch)", "concurrency": "\(concurrency)", "validator": validator == nil ? "no" : "as messages"],
            figures: figures)
    }
}
