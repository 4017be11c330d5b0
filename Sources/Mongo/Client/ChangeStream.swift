import CMongoC
import NIOPosix
import Synchronization

/// Options of `watch`.
public struct ChangeStreamOptions: Sendable {
    /// Resume after the event whose resume token this is (`ChangeEvent.id`).
    public var resumeAfter: BSONDocument?
    /// Like `resumeAfter`, but also valid after an `invalidate` event.
    public var startAfter: BSONDocument?
    /// `"updateLookup"` to receive the whole document with update events.
    public var fullDocument: String?
    /// How long one poll waits on the server for new events.
    public var maxAwaitTimeMS: Int
    public var batchSize: Int?

    public init(
        resumeAfter: BSONDocument? = nil,
        startAfter: BSONDocument? = nil,
        fullDocument: String? = nil,
        maxAwaitTimeMS: Int = 500,
        batchSize: Int? = nil
    ) {
        self.resumeAfter = resumeAfter
        self.startAfter = startAfter
        self.fullDocument = fullDocument
        self.maxAwaitTimeMS = maxAwaitTimeMS
        self.batchSize = batchSize
    }

    var document: BSONDocument {
        var d: BSONDocument = ["maxAwaitTimeMS": .int64(Int64(maxAwaitTimeMS))]
        if let resumeAfter { d.append("resumeAfter", .document(resumeAfter)) }
        if let startAfter { d.append("startAfter", .document(startAfter)) }
        if let fullDocument { d.append("fullDocument", .string(fullDocument)) }
        if let batchSize { d.append("batchSize", .int64(Int64(batchSize))) }
        return d
    }
}

/// One change-stream event.
public struct ChangeEvent<T: Codable & Sendable>: Codable, Sendable {
    /// The namespace an event happened in.
    public struct Namespace: Codable, Sendable, Hashable {
        public let db: String
        public let coll: String?
    }

    /// The resume token: pass it as `resumeAfter` to continue after this event.
    public let id: BSONDocument
    /// `insert`, `update`, `replace`, `delete`, `drop`, `invalidate`, ...
    public let operationType: String
    public let fullDocument: T?
    public let documentKey: BSONDocument?
    public let ns: Namespace?
    public let updateDescription: BSONDocument?

    enum CodingKeys: String, CodingKey {
        case id = "_id", operationType, fullDocument, documentKey, ns, updateDescription
    }
}

/// A change stream over one collection or a whole database. Its polls block (up to `maxAwaitTimeMS`),
/// so each stream has a thread of its own and a client lent from the pool, and
/// never holds up the shared Mongo threads. libmongoc resumes it by itself after a
/// transient error; `resumeToken` lets a caller resume it across restarts.
public final class ChangeStream<T: Codable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = ChangeEvent<T>

    private let client: MongoClient
    private let handle: Int
    private let stream: UnsafeSendable<OpaquePointer>
    private let thread: NIOThreadPool
    private let state = Mutex<State>(State())

    private struct State {
        var closed = false
        var busy = false
        var resumeToken: BSONDocument?
    }

    private init(client: MongoClient, handle: Int, stream: OpaquePointer, thread: NIOThreadPool) {
        self.client = client
        self.handle = handle
        self.stream = UnsafeSendable(stream)
        self.thread = thread
    }

    deinit {
        let wasClosed = state.withLock { $0.closed }
        if !wasClosed {
            let (client, handle) = (self.client, self.handle)
            thread.shutdownGracefully { _ in client.returnClientSoon(handle) }
        }
    }

    /// What a stream watches: one collection, or a whole database (every collection
    /// in it, one stream, events in commit order across collections).
    enum Target: Sendable {
        case collection(db: String, name: String)
        case database(String)
    }

    static func open(client: MongoClient, target: Target, pipeline: [BSONDocument], options: ChangeStreamOptions) async throws -> ChangeStream<T> {
        let wrapped: BSONDocument = ["pipeline": .array(pipeline.map { .document($0) })]
        let opts = options.document
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        do {
            let (stream, handle) = try await client.lendClient { mongo, handle -> (UnsafeSendable<OpaquePointer>, Int) in
                let stream = try wrapped.withBSON { p in
                    try opts.withBSON { o -> OpaquePointer in
                        switch target {
                        case .collection(let db, let name):
                            let c = mongoc_client_get_collection(mongo, db, name)!
                            defer { mongoc_collection_destroy(c) }
                            return mongoc_collection_watch(c, p, o)!
                        case .database(let db):
                            let d = mongoc_client_get_database(mongo, db)!
                            defer { mongoc_database_destroy(d) }
                            return mongoc_database_watch(d, p, o)!
                        }
                    }
                }
                var error = bson_error_t()
                var reply: OpaquePointer?
                if mongoc_change_stream_error_document(stream, &error, &reply) {
                    let e = MongoError(error, reply: reply.flatMap { try? BSONDocument(copying: $0) })
                    mongoc_change_stream_destroy(stream)
                    throw e
                }
                let owned = UnsafeSendable(stream)
                client.attachCleanup(handle) {
                    try? thread.syncShutdownGracefully()
                    mongoc_change_stream_destroy(owned.value)
                }
                return (UnsafeSendable(stream), handle)
            }
            return ChangeStream(client: client, handle: handle, stream: stream.value, thread: thread)
        } catch {
            try? await thread.shutdownGracefully()
            throw error
        }
    }

    /// The token to resume after the last event returned, when there is one.
    public var resumeToken: BSONDocument? { state.withLock { $0.resumeToken } }

    /// Waits for the next event. Returns nil once the stream is closed or the task is
    /// cancelled; throws on a non-resumable error.
    public func next() async throws -> ChangeEvent<T>? {
        try state.withLock { s in
            guard !s.busy else { throw MongoError(code: .invalidArgument, message: "a change stream has one reader at a time") }
            s.busy = true
        }
        defer { state.withLock { $0.busy = false } }
        let stream = self.stream
        while !Task.isCancelled, !state.withLock({ $0.closed }) {
            let polled: (BSONDocument?, BSONDocument?)
            do {
                polled = try await thread.runIfActive { () throws -> (BSONDocument?, BSONDocument?) in
                    var doc: OpaquePointer?
                    let token = { mongoc_change_stream_get_resume_token(stream.value).flatMap { try? BSONDocument(copying: $0) } }
                    if mongoc_change_stream_next(stream.value, &doc), let doc {
                        return (try BSONDocument(copying: doc), token())
                    }
                    var error = bson_error_t()
                    var reply: OpaquePointer?
                    if mongoc_change_stream_error_document(stream.value, &error, &reply) {
                        throw MongoError(error, reply: reply.flatMap { try? BSONDocument(copying: $0) })
                    }
                    return (nil, token())
                }
            } catch is NIOThreadPoolError.ThreadPoolInactive {
                return nil
            } catch is CancellationError {
                return nil
            }
            if let token = polled.1 { state.withLock { $0.resumeToken = token } }
            if let doc = polled.0 { return try BSONDecoder().decode(ChangeEvent<T>.self, from: doc) }
        }
        return nil
    }

    /// Stops the stream and returns its client to the pool.
    public func close() async {
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        guard first else { return }
        try? await thread.shutdownGracefully()
        let (client, handle) = (self.client, self.handle)
        _ = try? await client.onMongoThread { client.returnClientOnThisThread(handle) }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: ChangeStream<T>
        public mutating func next() async throws -> ChangeEvent<T>? { try await stream.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}
