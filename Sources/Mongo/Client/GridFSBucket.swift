import CMongoC
import NIOCore
import Synchronization

/// A GridFS bucket (`NAME.files`, `NAME.chunks`) through libmongoc's own bucket API
/// (`mongoc_gridfs_bucket_*`), which any MongoDB-wire server serves: files are
/// written as a stream of chunks, never whole in memory.
///
/// Reads go straight to the chunks (`chunk(…)`): GridFS's layout is a published
/// spec, and a byte range then costs the chunks it covers, where the bucket's
/// download stream can only be read from the start.
public struct GridFSBucket: Sendable {
    public let database: MongoDatabase
    public let name: String
    /// Bytes per chunk document (GridFS's default, 255 KiB).
    public static let chunkSize = 255 * 1024

    public init(database: MongoDatabase, name: String = "fs") {
        self.database = database
        self.name = name
    }

    public var files: MongoCollection<BSONDocument> { database.collection("\(name).files") }
    public var chunks: MongoCollection<BSONDocument> { database.collection("\(name).chunks") }

    /// Opens an upload of a file with id `id`: write its bytes, then `finish()` (the
    /// file document is written) or `abort()` (the chunks written are deleted). The
    /// upload holds one pooled client until then.
    public func openUpload(id: ObjectId, filename: String, metadata: BSONDocument = [:]) async throws -> GridFSUpload {
        let (dbName, bucketName, client) = (database.name, name, database.client)
        let opts: BSONDocument = ["chunkSizeBytes": .int32(Int32(Self.chunkSize)), "metadata": .document(metadata)]
        return try await client.lendClient { mongo, handle -> GridFSUpload in
            let parts = try GridFSParts.open(mongo, database: dbName, bucket: bucketName)
            var error = bson_error_t()
            let stream = try withOID(id) { oid in
                try opts.withBSON { o in mongoc_gridfs_bucket_open_upload_stream_with_id(parts.bucket, oid, filename, o, &error) }
            }
            guard let stream else {
                parts.destroy()
                client.returnClientOnThisThread(handle)
                throw MongoError(error, reply: nil)
            }
            let upload = GridFSUpload(client: client, handle: handle, parts: parts, stream: stream)
            client.attachCleanup(handle) { upload.cleanUpOnThisThread() }
            return upload
        }
    }

    /// Deletes a file and its chunks (`mongoc_gridfs_bucket_delete_by_id`); false when
    /// there was no such file.
    @discardableResult
    public func delete(id: ObjectId) async throws -> Bool {
        let (dbName, bucketName) = (database.name, name)
        return try await database.client.withClient("gridfs delete") { mongo in
            let parts = try GridFSParts.open(mongo, database: dbName, bucket: bucketName)
            defer { parts.destroy() }
            var error = bson_error_t()
            let ok = withOID(id) { oid in mongoc_gridfs_bucket_delete_by_id(parts.bucket, oid, &error) }
            if ok { return true }
            // "File not found" is domain GRIDFS (27), code BUCKET_FILE_NOT_FOUND (1).
            if error.domain == 27 && error.code == 1 { return false }
            throw MongoError(error, reply: nil)
        }
    }

    /// The bytes of chunks `first...last` of a file, in order (each `chunkSize` but
    /// the file's last); fewer when the file has fewer.
    public func chunks(of id: ObjectId, _ range: ClosedRange<Int>) async throws -> [[UInt8]] {
        let docs = try await chunks.find(
            ["files_id": .objectId(id), "n": ["$gte": .int32(Int32(range.lowerBound)), "$lte": .int32(Int32(range.upperBound))]],
            options: FindOptions(sort: ["n": 1])
        ).toArray()
        return docs.compactMap { d in
            if case .binary(_, let data)? = d["data"] { return data }
            return nil
        }
    }
}

/// An upload in progress (`GridFSBucket.openUpload`). One writer at a time; every
/// call runs on the Mongo thread pool.
public final class GridFSUpload: Sendable {
    private let client: MongoClient
    private let handle: Int
    private let parts: GridFSParts
    private let stream: UnsafeSendable<UnsafeMutablePointer<mongoc_stream_t>>
    private enum Phase { case open, finished, aborted, cleaned }
    private let phase = Mutex(Phase.open)

    fileprivate init(client: MongoClient, handle: Int, parts: GridFSParts, stream: UnsafeMutablePointer<mongoc_stream_t>) {
        self.client = client
        self.handle = handle
        self.parts = parts
        self.stream = UnsafeSendable(stream)
    }

    deinit {
        if phase.withLock({ $0 == .open }) { client.returnClientSoon(handle) }
    }

    /// Writes bytes (a chunk document goes out each time `chunkSize` are buffered).
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        let (stream, timeout) = (self.stream, client.configuration.operationTimeoutMS)
        try await client.onMongoThread { [self] in
            guard phase.withLock({ $0 == .open }) else { throw MongoError(code: .invalidArgument, message: "the upload is closed") }
            let written = bytes.withUnsafeBytes { raw in
                mongoc_stream_write(stream.value, UnsafeMutableRawPointer(mutating: raw.baseAddress!), raw.count, timeout)
            }
            if written != bytes.count { throw streamError() }
        }
    }

    /// Writes the last chunk and the file document, and returns the client.
    public func finish() async throws {
        let (client, handle, stream) = (self.client, self.handle, self.stream)
        try await client.onMongoThread { [self] in
            guard phase.withLock({ $0 == .open }) else { throw MongoError(code: .invalidArgument, message: "the upload is closed") }
            let closed = mongoc_stream_close(stream.value) == 0
            let failure = closed ? nil : streamError()
            phase.withLock { $0 = closed ? .finished : .open }
            client.returnClientOnThisThread(handle)
            if let failure { throw failure }
        }
    }

    /// Deletes what was written and returns the client. Idempotent.
    public func abort() async {
        let (client, handle) = (self.client, self.handle)
        _ = try? await client.onMongoThread { [self] in
            guard phase.withLock({ $0 == .open }) else { return }
            client.returnClientOnThisThread(handle)
        }
    }

    /// The stream's error, as a `MongoError`.
    private func streamError() -> MongoError {
        var error = bson_error_t()
        if mongoc_gridfs_bucket_stream_error(stream.value, &error) { return MongoError(error, reply: nil) }
        return MongoError(code: .driver, message: "GridFS stream write failed")
    }

    /// The lent client's cleanup (on a Mongo thread, once): an upload not finished is
    /// aborted (its chunks deleted); then the stream and the bucket are destroyed.
    fileprivate func cleanUpOnThisThread() {
        let was = phase.withLock { p -> Phase in
            defer { p = .cleaned }
            return p
        }
        guard was != .cleaned else { return }
        if was == .open { _ = mongoc_gridfs_bucket_abort_upload(stream.value) }
        mongoc_stream_destroy(stream.value)
        parts.destroy()
    }
}

/// The database and bucket handles of one pooled client, destroyed together.
struct GridFSParts: Sendable {
    let db: UnsafeSendable<OpaquePointer>
    let bucketPointer: UnsafeSendable<OpaquePointer>
    var bucket: OpaquePointer { bucketPointer.value }

    static func open(_ mongo: OpaquePointer, database: String, bucket name: String) throws -> GridFSParts {
        guard let db = mongoc_client_get_database(mongo, database) else { throw MongoError(code: .driver, message: "no database handle") }
        var error = bson_error_t()
        let opts: BSONDocument = ["bucketName": .string(name)]
        guard let bucket = try opts.withBSON({ o in mongoc_gridfs_bucket_new(db, o, nil, &error) }) else {
            mongoc_database_destroy(db)
            throw MongoError(error, reply: nil)
        }
        return GridFSParts(db: UnsafeSendable(db), bucketPointer: UnsafeSendable(bucket))
    }

    func destroy() {
        mongoc_gridfs_bucket_destroy(bucketPointer.value)
        mongoc_database_destroy(db.value)
    }
}

/// Runs `body` with an ObjectId as a libbson value.
private func withOID<R>(_ id: ObjectId, _ body: (UnsafePointer<bson_value_t>) throws -> R) rethrows -> R {
    var value = bson_value_t()
    value.value_type = BSON_TYPE_OID
    withUnsafeMutableBytes(of: &value.value.v_oid) { raw in
        for (i, b) in id.byteArray.enumerated() { raw[i] = b }
    }
    return try withUnsafePointer(to: &value) { try body($0) }
}
