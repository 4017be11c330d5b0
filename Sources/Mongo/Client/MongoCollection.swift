import CMongoC

/// A collection whose documents are read as `T`. Filters and updates are
/// `BSONDocument`s built by the caller; user input belongs in their values only
/// (never as keys), which is what keeps operator injection out.
public struct MongoCollection<T: Codable & Sendable>: Sendable {
    public let database: MongoDatabase
    public let name: String

    private var client: MongoClient { database.client }

    /// Runs `body` with a `mongoc_collection_t` on the Mongo thread pool.
    private func withCollection<R: Sendable>(_ operation: String, _ body: @escaping @Sendable (OpaquePointer) throws -> R) async throws -> R {
        let (db, coll) = (database.name, name)
        return try await client.withClient(operation) { client in
            let c = mongoc_client_get_collection(client, db, coll)!
            defer { mongoc_collection_destroy(c) }
            return try body(c)
        }
    }

    /// A runCommand against this collection's database.
    private func command(_ cmd: BSONDocument) async throws -> BSONDocument { try await database.runCommand(cmd) }

    // MARK: Insert

    /// Inserts one document, giving it an ObjectId `_id` when it has none.
    @discardableResult
    public func insertOne(_ value: T) async throws -> InsertOneResult {
        var doc = try BSONEncoder().encode(value)
        let id = Self.ensureID(&doc)
        let final = doc
        try await withCollection("insert") { c in
            try final.withBSON { b in
                var error = bson_error_t()
                try withReplyBSON { reply in
                    guard mongoc_collection_insert_one(c, b, nil, reply, &error) else {
                        throw MongoError(error, reply: try? BSONDocument(copying: reply))
                    }
                }
            }
        }
        return InsertOneResult(insertedId: id)
    }

    /// Inserts documents in one round trip (split by the driver only past the server's
    /// batch limits). Ordered by default: the first failure stops the rest.
    @discardableResult
    public func insertMany(_ values: [T], ordered: Bool = true) async throws -> InsertManyResult {
        guard !values.isEmpty else { return InsertManyResult(insertedCount: 0, insertedIds: []) }
        let encoder = BSONEncoder()
        var ids: [BSONValue] = []
        var byteDocs: [[UInt8]] = []
        ids.reserveCapacity(values.count)
        byteDocs.reserveCapacity(values.count)
        for v in values {
            var doc = try encoder.encode(v)
            ids.append(Self.ensureID(&doc))
            byteDocs.append(try doc.bsonBytes())
        }
        let opts: BSONDocument = ["ordered": .bool(ordered)]
        let encoded = byteDocs
        let count = try await withCollection("insert") { c -> Int in
            var bsons: [OpaquePointer?] = []
            bsons.reserveCapacity(encoded.count)
            defer { for b in bsons { bson_destroy(b) } }
            for bytes in encoded {
                guard let b = bytes.withUnsafeBufferPointer({ bson_new_from_data($0.baseAddress, $0.count) }) else {
                    throw MongoError.invalidDocument("libbson refused a document")
                }
                bsons.append(b)
            }
            return try opts.withBSON { o in
                try withReplyBSON { reply in
                    var error = bson_error_t()
                    let ok = bsons.withUnsafeMutableBufferPointer { buf in
                        mongoc_collection_insert_many(c, buf.baseAddress, buf.count, o, reply, &error)
                    }
                    let replyDoc = try? BSONDocument(copying: reply)
                    guard ok else { throw MongoError(error, reply: replyDoc) }
                    return Int(replyDoc?["insertedCount"]?.int64Value ?? Int64(bsons.count))
                }
            }
        }
        return InsertManyResult(insertedCount: count, insertedIds: ids)
    }

    private static func ensureID(_ doc: inout BSONDocument) -> BSONValue {
        if let id = doc["_id"] { return id }
        let id = BSONValue.objectId(ObjectId())
        doc = BSONDocument([("_id", id)] + doc.elements.map { ($0.key, $0.value) })
        return id
    }

    // MARK: Find

    /// Opens a cursor over the matching documents. Iterate it or call `toArray()`.
    public func find(_ filter: BSONDocument = [:], options: FindOptions = FindOptions()) async throws -> MongoCursor<T> {
        let (db, coll, opts) = (database.name, name, options.document)
        return try await client.observed("find") {
            try await MongoCursor.open(client: client) { mongo in
                let c = mongoc_client_get_collection(mongo, db, coll)!
                defer { mongoc_collection_destroy(c) }
                return try filter.withBSON { f in try opts.withBSON { o in mongoc_collection_find_with_opts(c, f, o, nil) } }
            }
        }
    }

    /// The first matching document, or nil.
    public func findOne(_ filter: BSONDocument = [:], options: FindOptions = FindOptions()) async throws -> T? {
        var options = options
        options.limit = 1
        return try await find(filter, options: options).toArray().first
    }

    /// Counts matching documents (an aggregation on the server, so it is exact).
    public func countDocuments(_ filter: BSONDocument = [:]) async throws -> Int {
        try await withCollection("count") { c in
            try filter.withBSON { f in
                var error = bson_error_t()
                let n = mongoc_collection_count_documents(c, f, nil, nil, nil, &error)
                guard n >= 0 else { throw MongoError(error) }
                return Int(n)
            }
        }
    }

    /// Runs an aggregation pipeline; results decode as `R`.
    public func aggregate<R: Codable & Sendable>(_ pipeline: [BSONDocument], as type: R.Type = BSONDocument.self) async throws -> MongoCursor<R> {
        let (db, coll) = (database.name, name)
        let wrapped: BSONDocument = ["pipeline": .array(pipeline.map { .document($0) })]
        return try await client.observed("aggregate") {
            try await MongoCursor<R>.open(client: client) { mongo in
                let c = mongoc_client_get_collection(mongo, db, coll)!
                defer { mongoc_collection_destroy(c) }
                return try wrapped.withBSON { p in mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, p, nil, nil) }
            }
        }
    }

    // MARK: Update and delete

    /// Applies `update` (an operator document such as `["$set": ...]`) to the first match.
    @discardableResult
    public func updateOne(_ filter: BSONDocument, _ update: BSONDocument, upsert: Bool = false) async throws -> UpdateResult {
        try await runUpdate(filter, update, upsert: upsert, many: false)
    }

    /// Applies `update` to every match.
    @discardableResult
    public func updateMany(_ filter: BSONDocument, _ update: BSONDocument, upsert: Bool = false) async throws -> UpdateResult {
        try await runUpdate(filter, update, upsert: upsert, many: true)
    }

    /// Applies several updates in one `update` command (one round trip), each to the
    /// first document its filter matches. A refused statement throws a `MongoError`
    /// whose `writeErrors` name it; unordered, the others are still applied.
    @discardableResult
    public func updateEach(_ statements: [(filter: BSONDocument, update: BSONDocument)], ordered: Bool = false, upsert: Bool = false) async throws
        -> UpdateResult
    {
        guard !statements.isEmpty else { return UpdateResult(matchedCount: 0, modifiedCount: 0, upsertedId: nil) }
        let updates: [BSONValue] = statements.map { .document(["q": .document($0.filter), "u": .document($0.update), "upsert": .bool(upsert)]) }
        let reply = try await command(["update": .string(name), "updates": .array(updates), "ordered": .bool(ordered)])
        let errors = MongoError.writeErrors(in: reply)
        if let first = errors.first {
            var error = MongoError(code: .server, serverCode: first.code, message: first.message)
            error.writeErrors = errors
            throw error
        }
        return UpdateResult(
            matchedCount: Int(reply["n"]?.int64Value ?? 0), modifiedCount: Int(reply["nModified"]?.int64Value ?? 0), upsertedId: nil)
    }

    private func runUpdate(_ filter: BSONDocument, _ update: BSONDocument, upsert: Bool, many: Bool) async throws -> UpdateResult {
        let opts: BSONDocument = ["upsert": .bool(upsert)]
        let reply = try await withCollection("update") { c -> BSONDocument in
            try filter.withBSON { f in
                try update.withBSON { u in
                    try opts.withBSON { o in
                        try withReplyBSON { reply in
                            var error = bson_error_t()
                            let ok = many
                                ? mongoc_collection_update_many(c, f, u, o, reply, &error)
                                : mongoc_collection_update_one(c, f, u, o, reply, &error)
                            let replyDoc = try? BSONDocument(copying: reply)
                            guard ok else { throw MongoError(error, reply: replyDoc) }
                            return replyDoc ?? BSONDocument()
                        }
                    }
                }
            }
        }
        return UpdateResult(
            matchedCount: Int(reply["matchedCount"]?.int64Value ?? 0),
            modifiedCount: Int(reply["modifiedCount"]?.int64Value ?? 0),
            upsertedId: reply["upsertedId"]
        )
    }

    /// Deletes the first match.
    @discardableResult
    public func deleteOne(_ filter: BSONDocument) async throws -> DeleteResult { try await runDelete(filter, many: false) }

    /// Deletes every match.
    @discardableResult
    public func deleteMany(_ filter: BSONDocument) async throws -> DeleteResult { try await runDelete(filter, many: true) }

    private func runDelete(_ filter: BSONDocument, many: Bool) async throws -> DeleteResult {
        let n = try await withCollection("delete") { c -> Int in
            try filter.withBSON { f in
                try withReplyBSON { reply in
                    var error = bson_error_t()
                    let ok = many
                        ? mongoc_collection_delete_many(c, f, nil, reply, &error)
                        : mongoc_collection_delete_one(c, f, nil, reply, &error)
                    let replyDoc = try? BSONDocument(copying: reply)
                    guard ok else { throw MongoError(error, reply: replyDoc) }
                    return Int(replyDoc?["deletedCount"]?.int64Value ?? 0)
                }
            }
        }
        return DeleteResult(deletedCount: n)
    }

    /// Atomically updates the first match (in `sort` order) and returns it, as it is
    /// after the update by default. With `upsert`, a missing document is created.
    /// This is the one round trip that reserves message sequence numbers.
    public func findOneAndUpdate(
        _ filter: BSONDocument,
        _ update: BSONDocument,
        returnDocument: ReturnDocument = .after,
        upsert: Bool = false,
        sort: BSONDocument? = nil,
        projection: BSONDocument? = nil
    ) async throws -> T? {
        var cmd: BSONDocument = [
            "findAndModify": .string(name), "query": .document(filter), "update": .document(update),
            "new": .bool(returnDocument == .after), "upsert": .bool(upsert),
        ]
        if let sort { cmd.append("sort", .document(sort)) }
        if let projection { cmd.append("fields", .document(projection)) }
        let reply = try await command(cmd)
        guard let value = reply["value"], value != .null else { return nil }
        return try BSONDecoder().decode(T.self, fromValue: value)
    }

    // MARK: Indexes and lifecycle

    /// Creates indexes; ones that already exist with the same definition are kept.
    /// Returns their names.
    @discardableResult
    public func createIndexes(_ indexes: [IndexModel]) async throws -> [String] {
        let specs: [BSONValue] = indexes.map { model in
            var spec: BSONDocument = ["key": .document(model.keys), "name": .string(model.name)]
            for e in model.options where e.key != "name" { spec.append(e.key, e.value) }
            return .document(spec)
        }
        try await command(["createIndexes": .string(name), "indexes": .array(specs)])
        return indexes.map(\.name)
    }

    /// The collection's index specifications as the server reports them.
    public func listIndexes() async throws -> [BSONDocument] {
        let reply = try await command(["listIndexes": .string(name)])
        return (reply["cursor"]?.documentValue?["firstBatch"]?.arrayValue ?? []).compactMap(\.documentValue)
    }

    /// Drops the collection; dropping a missing collection is not an error.
    public func drop() async throws {
        do {
            try await command(["drop": .string(name)])
        } catch let e as MongoError where e.serverCode == 26 {
            // NamespaceNotFound: already gone.
        }
    }

    /// Opens a change stream on this collection. See `ChangeStream`.
    public func watch(
        _ pipeline: [BSONDocument] = [],
        options: ChangeStreamOptions = ChangeStreamOptions()
    ) async throws -> ChangeStream<T> {
        try await ChangeStream.open(client: database.client, target: .collection(db: database.name, name: name), pipeline: pipeline, options: options)
    }
}
