import CMongoC

/// A database by name. Cheap to create: a value holding the client and the name.
public struct MongoDatabase: Sendable {
    public let client: MongoClient
    public let name: String

    /// A collection whose documents decode as `T`; no I/O.
    public func collection<T: Codable & Sendable>(_ name: String, withType: T.Type = BSONDocument.self) -> MongoCollection<T> {
        MongoCollection(database: self, name: name)
    }

    /// Runs a command and returns the server's reply. A reply with `ok: 0` throws.
    /// `timeout` shortens the operation deadline (`MongoConfiguration.operationTimeoutMS`).
    @discardableResult
    public func runCommand(_ command: BSONDocument, timeout: Duration? = nil) async throws -> BSONDocument {
        let dbName = name
        return try await client.withClient(command.elements.first?.key ?? "command", timeout: timeout) { client in
            try command.withBSON { cmd in
                try withReplyBSON { reply in
                    var error = bson_error_t()
                    let ok = mongoc_client_command_with_opts(client, dbName, cmd, nil, nil, reply, &error)
                    let replyDoc = try? BSONDocument(copying: reply)
                    guard ok else { throw MongoError(error, reply: replyDoc) }
                    return replyDoc ?? BSONDocument()
                }
            }
        }
    }

    /// Checks that a server answers, with the `ping` command, within `timeout` (default:
    /// the operation deadline).
    public func ping(timeout: Duration? = nil) async throws { try await runCommand(["ping": 1], timeout: timeout) }

    /// Drops the whole database. Used by tests to clean up their own database.
    public func drop() async throws { try await runCommand(["dropDatabase": 1]) }

    /// The names of the collections in this database.
    public func listCollectionNames() async throws -> [String] {
        let reply = try await runCommand(["listCollections": 1, "nameOnly": true])
        let batch = reply["cursor"]?.documentValue?["firstBatch"]?.arrayValue ?? []
        return batch.compactMap { $0.documentValue?["name"]?.stringValue }.sorted()
    }

    /// Creates a collection with options (for example a `validator`); an existing
    /// collection is left as it is.
    public func createCollection(_ name: String, options: BSONDocument = [:]) async throws {
        var cmd: BSONDocument = ["create": .string(name)]
        for e in options { cmd.append(e.key, e.value) }
        do {
            try await runCommand(cmd)
        } catch let e as MongoError where e.serverCode == 48 {
            // NamespaceExists: creation is idempotent for callers such as migrations.
        }
    }

    /// Opens one change stream on every collection of the database (`ns.coll` tells
    /// them apart; filter with `$match` so the server sends only what is wanted).
    /// See `ChangeStream`.
    public func watch<T: Codable & Sendable>(
        _ pipeline: [BSONDocument] = [],
        options: ChangeStreamOptions = ChangeStreamOptions(),
        withType: T.Type = BSONDocument.self
    ) async throws -> ChangeStream<T> {
        try await ChangeStream.open(client: client, target: .database(name), pipeline: pipeline, options: options)
    }
}
