import CMongoC
import NIOCore
import Synchronization

/// Results of `find` or `aggregate`, fetched in batches on the Mongo thread pool.
///
/// The first batch comes back with the call that opens the cursor; a result that
/// fits in it costs one hop and returns its client to the pool at once. A larger
/// one keeps its client until it is exhausted, `close()`d or released.
/// Iterate it with `for try await`, or collect it with `toArray()`; one reader at a time.
public final class MongoCursor<T: Decodable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = T

    /// Documents decoded per hop to the thread pool.
    static var hopSize: Int { 256 }

    private let client: MongoClient
    private let handle: Int
    private let cursor: UnsafeSendable<OpaquePointer>
    private let state: Mutex<State>

    private struct State {
        var buffer: [T] = []
        var position = 0
        var exhausted = false
        var busy = false
    }

    private init(client: MongoClient, handle: Int, cursor: OpaquePointer, first: [T], exhausted: Bool) {
        self.client = client
        self.handle = handle
        self.cursor = UnsafeSendable(cursor)
        self.state = Mutex(State(buffer: first, exhausted: exhausted))
    }

    deinit {
        if !state.withLock({ $0.exhausted }) { client.returnClientSoon(handle) }
    }

    /// Opens a cursor with `make` on a lent client and reads its first batch.
    static func open(
        client: MongoClient,
        _ make: @escaping @Sendable (OpaquePointer) throws -> OpaquePointer?
    ) async throws -> MongoCursor<T> {
        let opened = try await client.lendClient { mongo, handle -> (UnsafeSendable<OpaquePointer>, [T], Bool, Int) in
            guard let cursor = try make(mongo) else { throw MongoError(code: .driver, message: "libmongoc returned no cursor") }
            let owned = UnsafeSendable(cursor)
            client.attachCleanup(handle) { mongoc_cursor_destroy(owned.value) }
            let (docs, done) = try fetch(cursor)
            if done { client.returnClientOnThisThread(handle) }
            return (UnsafeSendable(cursor), docs, done, handle)
        }
        return MongoCursor(client: client, handle: opened.3, cursor: opened.0.value, first: opened.1, exhausted: opened.2)
    }

    /// Reads up to `hopSize` documents; `true` when the cursor is exhausted.
    private static func fetch(_ cursor: OpaquePointer) throws -> ([T], Bool) {
        var out: [T] = []
        let decoder = BSONDecoder()
        var doc: OpaquePointer?
        while out.count < hopSize {
            guard mongoc_cursor_next(cursor, &doc), let doc else {
                var error = bson_error_t()
                var reply: OpaquePointer?
                if mongoc_cursor_error_document(cursor, &error, &reply) {
                    throw MongoError(error, reply: reply.flatMap { try? BSONDocument(copying: $0) })
                }
                return (out, true)
            }
            out.append(try decoder.decode(T.self, from: BSONDocument(copying: doc)))
        }
        return (out, !mongoc_cursor_more(cursor))
    }

    /// The next document, or nil when there are no more.
    public func next() async throws -> T? {
        let local = try state.withLock { s -> T?? in
            if s.position < s.buffer.count {
                defer { s.position += 1 }
                return .some(s.buffer[s.position])
            }
            if s.exhausted { return .some(nil) }
            guard !s.busy else { throw MongoError(code: .invalidArgument, message: "a cursor has one reader at a time") }
            s.busy = true
            return .none
        }
        if let local { return local }
        let (client, handle, cursor) = (self.client, self.handle, self.cursor)
        // Past the deadline while waiting for a thread, the cursor is given up unread.
        let deadline = client.operationDeadline()
        do {
            let (docs, done) = try await client.onMongoThread { () throws -> ([T], Bool) in
                do {
                    guard NIODeadline.now() < deadline else { throw MongoError.deadlineExceeded }
                    let r = try MongoCursor.fetch(cursor.value)
                    if r.1 { client.returnClientOnThisThread(handle) }
                    return r
                } catch {
                    client.returnClientOnThisThread(handle)
                    throw error
                }
            }
            return state.withLock { s in
                s.busy = false
                s.buffer = docs
                s.position = docs.isEmpty ? 0 : 1
                s.exhausted = done
                return docs.first
            }
        } catch {
            state.withLock { s in
                s.busy = false
                s.exhausted = true
            }
            throw error
        }
    }

    /// The next documents as they come from the server (up to one hop of 256), or an
    /// empty array when there are no more: for readers that handle documents in bulk.
    public func nextBatch() async throws -> [T] {
        let buffered = state.withLock { s -> [T] in
            defer { s.buffer = []; s.position = 0 }
            return Array(s.buffer[s.position...])
        }
        if !buffered.isEmpty { return buffered }
        guard let first = try await next() else { return [] }
        return [first] + state.withLock { s -> [T] in
            defer { s.buffer = []; s.position = 0 }
            return Array(s.buffer[s.position...])
        }
    }

    /// Every remaining document.
    public func toArray() async throws -> [T] {
        var all: [T] = []
        while let d = try await next() { all.append(d) }
        return all
    }

    /// Releases the server cursor and the client early. Reading after this ends.
    public func close() async {
        let wasOpen = state.withLock { s -> Bool in
            defer { s.exhausted = true; s.buffer = []; s.position = 0 }
            return !s.exhausted
        }
        guard wasOpen else { return }
        let (client, handle) = (self.client, self.handle)
        _ = try? await client.onMongoThread { client.returnClientOnThisThread(handle) }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let cursor: MongoCursor<T>
        public mutating func next() async throws -> T? { try await cursor.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(cursor: self) }
}
