/// Options of `find`; nil fields are left to the server's defaults.
public struct FindOptions: Sendable {
    public var sort: BSONDocument?
    public var limit: Int?
    public var skip: Int?
    public var projection: BSONDocument?
    public var batchSize: Int?

    public init(sort: BSONDocument? = nil, limit: Int? = nil, skip: Int? = nil, projection: BSONDocument? = nil, batchSize: Int? = nil) {
        self.sort = sort
        self.limit = limit
        self.skip = skip
        self.projection = projection
        self.batchSize = batchSize
    }

    var document: BSONDocument {
        var d = BSONDocument()
        if let sort { d.append("sort", .document(sort)) }
        if let limit { d.append("limit", .int64(Int64(limit))) }
        if let skip { d.append("skip", .int64(Int64(skip))) }
        if let projection { d.append("projection", .document(projection)) }
        if let batchSize { d.append("batchSize", .int64(Int64(batchSize))) }
        return d
    }
}

/// Which version of the document `findOneAndUpdate` returns.
public enum ReturnDocument: Sendable { case before, after }

/// One index to create: its key pattern and options such as `unique` or `name`.
public struct IndexModel: Sendable {
    public var keys: BSONDocument
    public var options: BSONDocument

    public init(keys: BSONDocument, options: BSONDocument = [:]) {
        self.keys = keys
        self.options = options
    }

    /// The server's default name for a key pattern, e.g. `roomId_1_seq_1`.
    public var name: String {
        options["name"]?.stringValue
            ?? keys.map { "\($0.key)_\($0.value.int64Value.map(String.init) ?? $0.value.stringValue ?? "x")" }.joined(separator: "_")
    }
}

/// The outcome of `insertOne`.
public struct InsertOneResult: Sendable {
    /// The `_id` of the inserted document (generated when the document had none).
    public let insertedId: BSONValue
}

/// The outcome of `insertMany`.
public struct InsertManyResult: Sendable {
    public let insertedCount: Int
    /// The `_id`s, in input order.
    public let insertedIds: [BSONValue]
}

/// The outcome of `updateOne` and `updateMany`.
public struct UpdateResult: Sendable {
    public let matchedCount: Int
    public let modifiedCount: Int
    /// Set when an upsert inserted a document.
    public let upsertedId: BSONValue?
}

/// The outcome of `deleteOne` and `deleteMany`.
public struct DeleteResult: Sendable {
    public let deletedCount: Int
}
