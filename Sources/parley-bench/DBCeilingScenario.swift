import Foundation
import Mongo
import ParleyCore

/// The database's own ceiling, which every figure is read against.
extension Scenarios {
    /// What the migrations make of `messages`: its validator and every index, so the
    /// ceiling is measured on a collection like the real one.
    struct MessagesShape {
        var validator: BSONDocument?
        /// The `createIndexes` commands for `messages`, as the migrations run them.
        var indexCommands: [BSONDocument] = []

        /// Nil for an empty directory: the bare collection, with only the two unique indexes.
        static func load(migrations directory: String) throws -> MessagesShape? {
            guard !directory.isEmpty else { return nil }
            var shape = MessagesShape()
            for migration in try Migration.load(directory: directory) {
                for step in migration.steps {
                    if step["create"]?.stringValue == "messages", let v = step["validator"]?.documentValue { shape.validator = v }
                    if step["createIndexes"]?.stringValue == "messages" { shape.indexCommands.append(step) }
                }
            }
            return shape
        }
    }

    /// The database's own bulk-insert rate for the server's message documents (with
    /// their search words) in a collection shaped as `messages` is (validator, every
    /// index): the ceiling every figure is read against. Without a shape, the bare
    /// documents and the two unique indexes.
    static func dbCeiling(uri: String, documents: Int, batch: Int, concurrency: Int, padding: Int, shape: MessagesShape?) async throws -> BenchResult {
        progress("db-ceiling: \(documents) documents, batches of \(batch), \(concurrency) at once, \(shape == nil ? "bare" : "shaped as messages")")
        let client = try MongoClient(configuration: MongoConfiguration(uri: uri, threadCount: max(2, concurrency), extraClients: 2))
        let db = client.database("bench_ceiling_\(UUID().uuidString.prefix(8))")
        if let validator = shape?.validator { try await db.runCommand(["create": "messages", "validator": .document(validator)]) }
        let messages = db.collection("messages")
        if let shape {
            for command in shape.indexCommands { _ = try await db.runCommand(command) }
        } else {
            try await messages.createIndexes([
                IndexModel(keys: ["roomId": 1, "seq": 1], options: ["unique": true]),
                IndexModel(keys: ["senderId": 1, "clientId": 1], options: ["unique": true]),
            ])
        }
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
                        let docs = (first..<min(documents, first + batch)).map { n in
                            let text = Stamp.text(padding: padding)
                            // The search words the server stores with each message (`SendPipeline.Submission`).
                            return MessageRecord(
                                roomId: room, seq: n + 1, senderId: sender, senderName: "bench", text: text, clientId: "c\(n)",
                                extras: MessageExtras(words: shape == nil ? nil : SearchWords.index(text)))
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
        if let workBefore, let workAfter { figures.merge(workAfter.since(workBefore).figures(per: Double(documents), "document")) { a, _ in a } }
        try? await db.drop()
        try await client.shutdown()
        return BenchResult(
            scenario: "db-ceiling",
            parameters: [
                "documents": "\(documents)", "batch": "\(batch)", "concurrency": "\(concurrency)",
                "collection": shape == nil ? "bare (two unique indexes)" : "as messages (validator, every index, search words)",
            ],
            figures: figures)
    }
}
