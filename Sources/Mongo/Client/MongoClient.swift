import CMongoC
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `mongoc_init` must run once per process before any other libmongoc call. The
/// driver's own log lines (it prints to stderr by default) go to swift-log instead:
/// warnings and errors only, debug chatter such as monitor retries is dropped.
private let mongocInitialized: Bool = {
    mongoc_init()
    mongoc_log_set_handler({ level, domain, message, _ in
        guard level.rawValue <= MONGOC_LOG_LEVEL_WARNING.rawValue else { return }
        let text = "\(domain.map { String(cString: $0) } ?? "mongoc"): \(message.map { String(cString: $0) } ?? "")"
        driverLogger.log(level: level.rawValue <= MONGOC_LOG_LEVEL_ERROR.rawValue ? .error : .warning, "\(text)")
    }, nil)
    return true
}()

private let driverLogger = Logger(label: "parley.mongoc")

/// The entry point of the Mongo layer: one `mongoc_client_pool_t` and a dedicated
/// `NIOThreadPool` on which every blocking libmongoc call runs, so no event loop and
/// no task of the cooperative pool ever waits on the database.
///
/// Run it in the application's `ServiceGroup`: it is destroyed after graceful
/// shutdown. Outside a service group call `shutdown()` when done.
///
/// `@unchecked Sendable`, and every piece of state is behind a lock: the pool
/// pointer is immutable and `mongoc_client_pool_t` guards its own state with the
/// driver's internal mutex (it is libmongoc's thread-safe type); everything mutable
/// here (`state`: shutdown flag, lent clients) is guarded by a `Mutex`. The other
/// stored properties are immutable and thread-safe themselves (`NIOThreadPool`, the
/// `DeadlineWatch`, the configuration, logger and observer values).
public final class MongoClient: Service, @unchecked Sendable {
    public let configuration: MongoConfiguration
    public let logger: Logger
    /// Told of every operation: its name, how long it took including the wait for a
    /// thread, and whether it failed. Metrics hook in here.
    public typealias Observer = @Sendable (_ operation: String, _ duration: Duration, _ failed: Bool) -> Void
    private let observer: Observer?
    private let pool: OpaquePointer
    private let threads: NIOThreadPool
    /// Answers the calls past their deadline; its sweep runs on an event loop and only
    /// resumes a waiting caller, never calls libmongoc.
    private let deadlines = DeadlineWatch(on: MultiThreadedEventLoopGroup.singleton.next(), resolution: MongoClient.deadlineResolution)
    /// How late past its deadline a call stuck in the database may be answered.
    static let deadlineResolution = TimeAmount.milliseconds(50)
    private let state: Mutex<State>

    private struct State {
        var isShutDown = false
        var nextHandleID = 0
        /// Clients lent to open cursors and change streams, returned when those close.
        var lentClients: [Int: LentClient] = [:]
    }

    /// Connects lazily: creating the client does no I/O, the first operation does.
    public init(configuration: MongoConfiguration, logger: Logger = Logger(label: "parley.mongo"), observer: Observer? = nil) throws {
        precondition(mongocInitialized)
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(configuration.uri, &error) else {
            throw MongoError(code: .invalidArgument, message: "invalid MongoDB URI: \(error.messageText)")
        }
        defer { mongoc_uri_destroy(uri) }
        let maxPool = Int32(configuration.threadCount + configuration.extraClients)
        _ = mongoc_uri_set_option_as_int32(uri, MONGOC_URI_MAXPOOLSIZE, maxPool)
        if !mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS) {
            _ = mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, configuration.serverSelectionTimeoutMS)
        }
        if !mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS) {
            _ = mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, configuration.serverSelectionTimeoutMS)
        }
        if !mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS) {
            _ = mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, configuration.operationTimeoutMS)
        }
        if !mongoc_uri_has_option(uri, MONGOC_URI_APPNAME) {
            _ = mongoc_uri_set_option_as_utf8(uri, MONGOC_URI_APPNAME, configuration.appName)
        }
        guard let pool = mongoc_client_pool_new(uri) else {
            throw MongoError(code: .invalidArgument, message: "libmongoc refused the URI options")
        }
        mongoc_client_pool_set_error_api(pool, 2)
        self.pool = pool
        self.threads = NIOThreadPool(numberOfThreads: configuration.threadCount)
        self.state = Mutex(State())
        threads.start()
    }

    deinit {
        // A client that was never shut down still releases its C resources. The last
        // reference may drop on one of the pool's own threads, so never wait for the
        // pool here: destroy after its threads have finished, from the callback.
        let alreadyDown = state.withLock { $0.isShutDown }
        guard !alreadyDown else { return }
        let lent = state.withLock { Array($0.lentClients.values) }
        let pool = UnsafeSendable(pool)
        let reclaim = UnsafeSendable(lent)
        threads.shutdownGracefully { _ in Self.destroy(pool.value, reclaiming: reclaim.value) }
    }

    /// Closes the lent clients' cursors and streams and destroys the pool, which joins
    /// the driver's monitor threads: that can take seconds (a monitor waits out its
    /// `hello` on the server). So it runs on a Dispatch thread once the pool's own
    /// threads are done, never on a task of the cooperative pool, whose few threads
    /// (two on a 2-core machine) every other task of the process waits for.
    private static func destroy(_ pool: OpaquePointer, reclaiming lent: [LentClient]) {
        for l in lent { l.release(to: pool) }
        mongoc_client_pool_destroy(pool)
    }

    /// Waits for graceful shutdown, then closes the pool.
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Finishes the calls in flight, closes cursors and change streams still open and
    /// destroys the pool. Calls after this fail with `.unavailable`. Idempotent.
    public func shutdown() async throws {
        let first = state.withLock { s -> Bool in
            defer { s.isShutDown = true }
            return !s.isShutDown
        }
        guard first else { return }
        let pool = UnsafeSendable(pool)
        let failure: (any Error)? = await withCheckedContinuation { done in
            // The callback runs on a Dispatch queue after the calls in flight finished.
            threads.shutdownGracefully { error in
                let lent = self.state.withLock { s -> [LentClient] in
                    defer { s.lentClients = [:] }
                    return Array(s.lentClients.values)
                }
                Self.destroy(pool.value, reclaiming: lent)
                self.deadlines.stop()
                done.resume(returning: error)
            }
        }
        if let failure { throw failure }
    }

    private func checkOpen() throws {
        if state.withLock({ $0.isShutDown }) { throw MongoError.shutDown }
    }

    /// A database handle; no I/O.
    public func database(_ name: String) -> MongoDatabase { MongoDatabase(client: self, name: name) }

    /// Runs `body` on the Mongo thread pool with a pooled client, returning the client
    /// after. The client pointer must not escape `body`. Returns by `timeout` (default:
    /// the configuration's `operationTimeoutMS`) whatever the database does: see
    /// `runWithClient`.
    func withClient<R: Sendable>(
        _ operation: String, timeout: Duration? = nil, _ body: @escaping @Sendable (OpaquePointer) throws -> R
    ) async throws -> R {
        let deadline = operationDeadline(timeout)
        return try await observed(operation) { try await self.runWithClient(deadline: deadline, body) }
    }

    /// When an operation started now must have returned.
    func operationDeadline(_ timeout: Duration? = nil) -> NIODeadline {
        NIODeadline.now() + TimeAmount(timeout ?? .milliseconds(configuration.operationTimeoutMS))
    }

    /// Times `work` for the observer, when there is one.
    func observed<R>(_ operation: String, _ work: () async throws -> R) async throws -> R {
        guard let observer else { return try await work() }
        let start = ContinuousClock.now
        do {
            let r = try await work()
            observer(operation, ContinuousClock.now - start, false)
            return r
        } catch {
            observer(operation, ContinuousClock.now - start, true)
            throw error
        }
    }

    /// Runs `body` with a pooled client, by `deadline` (see `runTimed`). The body owns
    /// its client until it returns, so a caller that gave up shares nothing with it.
    private func runWithClient<R: Sendable>(
        deadline: NIODeadline, _ body: @escaping @Sendable (OpaquePointer) throws -> R
    ) async throws -> R {
        let pool = UnsafeSendable(pool)
        return try await runTimed(deadline: deadline) {
            guard let client = mongoc_client_pool_try_pop(pool.value) else {
                throw MongoError(code: .unavailable, message: "no free MongoDB client in the pool")
            }
            defer { mongoc_client_pool_push(pool.value, client) }
            return try body(client)
        }
    }

    /// Lends a client to a long-lived object (cursor, change stream) until it calls
    /// `returnClient`; `body` opens it (and reads a first batch). Kept to the operation
    /// deadline like any call: what a body finishes after its caller gave up is closed
    /// and its client returned, since no one will ever read it.
    func lendClient<R: Sendable>(
        _ body: @escaping @Sendable (OpaquePointer, _ handle: Int) throws -> R
    ) async throws -> R {
        let pool = UnsafeSendable(pool)
        let opened = try await runTimed(deadline: operationDeadline()) { [self] () throws -> (R, Int) in
            guard let client = mongoc_client_pool_try_pop(pool.value) else {
                throw MongoError(code: .unavailable, message: "no free MongoDB client in the pool")
            }
            let id = state.withLock { s -> Int in
                s.nextHandleID += 1
                s.lentClients[s.nextHandleID] = LentClient(client: client)
                return s.nextHandleID
            }
            do {
                return (try body(client, id), id)
            } catch {
                returnClientOnThisThread(id)
                throw error
            }
        } abandoned: { [self] late in
            returnClientOnThisThread(late.1)
        }
        return opened.0
    }

    /// Runs `work` on the Mongo thread pool and returns by `deadline`, kept two ways. A
    /// call still waiting for a thread when it passes fails without touching the
    /// database, so a backlog that built up behind a frozen server drains at once
    /// instead of each call waiting its turn to time out. A call already running is
    /// answered `.timeout` at the deadline (by the `DeadlineWatch`, at most
    /// `deadlineResolution` late), and its thread finishes on its own (the socket
    /// timeout bounds it); what it returns then goes to `abandoned`.
    private func runTimed<R: Sendable>(
        deadline: NIODeadline, _ work: @escaping @Sendable () throws -> R, abandoned: @escaping @Sendable (R) -> Void = { _ in }
    ) async throws -> R {
        try checkOpen()
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<R, any Error>) in
            let answer = AnswerOnce(c)
            let ticket = deadlines.watch(until: deadline) { answer.resume(throwing: MongoError.deadlineExceeded) }
            threads.submit { [deadlines] state in
                defer { deadlines.forget(ticket) }
                guard state == .active else { return answer.resume(throwing: MongoError.shutDown) }
                guard NIODeadline.now() < deadline else { return answer.resume(throwing: MongoError.deadlineExceeded) }
                let result = Result { try work() }
                if !answer.resume(with: result), case .success(let late) = result { abandoned(late) }
            }
        }
    }

    /// Attaches the cleanup of a lent client's dependents (the cursor or stream) so a
    /// shutdown can run it before the client goes back to the pool.
    func attachCleanup(_ handle: Int, _ cleanup: @escaping @Sendable () -> Void) {
        state.withLock { $0.lentClients[handle]?.cleanup = cleanup }
    }

    /// Runs `body` on the Mongo thread pool without a client (for a lent client's work;
    /// a body that reads checks `operationDeadline` itself, a cleanup always runs).
    func onMongoThread<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
        try checkOpen()
        do {
            return try await threads.runIfActive(body)
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw MongoError.shutDown
        } catch is CancellationError where state.withLock({ $0.isShutDown }) {
            throw MongoError.shutDown
        }
    }

    /// Closes a lent client's dependents and returns it to the pool; call on a Mongo thread.
    func returnClientOnThisThread(_ handle: Int) {
        let lent = state.withLock { $0.lentClients.removeValue(forKey: handle) }
        lent?.release(to: pool)
    }

    /// Returns a lent client from any context (used from `deinit`), on the thread pool
    /// when it still runs, otherwise the shutdown path has already returned it.
    func returnClientSoon(_ handle: Int) {
        threads.submit { [self] s in
            if s == .active { returnClientOnThisThread(handle) }
        }
    }
}

/// A client lent out of the pool together with what must be destroyed before it returns.
///
/// `@unchecked Sendable`, guarded by a lock: a `LentClient` lives only in
/// `MongoClient.State.lentClients`, behind `MongoClient.state`'s `Mutex`. It is
/// stored, given its `cleanup` and removed under that lock, and whoever removes it
/// is the one thread that releases it. Its cursor or stream uses the client pointer
/// one call at a time (see `UnsafeSendable`).
struct LentClient: @unchecked Sendable {
    let client: OpaquePointer
    var cleanup: (@Sendable () -> Void)?

    init(client: OpaquePointer) { self.client = client }

    func release(to pool: OpaquePointer) {
        cleanup?()
        mongoc_client_pool_push(pool, client)
    }
}

/// Carries a C pointer into a thread-pool closure. `@unchecked Sendable`; the value
/// is immutable, and the pointee is guarded by a lock in every use:
/// - the pool: `mongoc_client_pool_t` locks its own state (libmongoc's mutex);
/// - a cursor or a change stream: used only by the reader that set `busy` in the
///   owner's `Mutex`-guarded state (one reader at a time), or, at cleanup, by the
///   thread that took its `LentClient` out of `MongoClient.state`'s `Mutex`.
/// - a GridFS upload's stream and bucket (`GridFSUpload`, `GridFSParts`): used by the
///   upload's one writer after checking `phase` (a `Mutex`) is still open, and
///   destroyed only by the cleanup that moves `phase` to cleaned under that lock,
///   on the thread that took the `LentClient` out of `MongoClient.state`'s `Mutex`.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A continuation resumed by whichever comes first, the work or its deadline; the
/// later one is ignored.
final class AnswerOnce<R: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<R, any Error>?>

    init(_ continuation: CheckedContinuation<R, any Error>) { self.continuation = Mutex(continuation) }

    /// Resumes the caller unless it was resumed already; false then.
    @discardableResult
    func resume(with result: Result<R, any Error>) -> Bool {
        let c = continuation.withLock { c -> CheckedContinuation<R, any Error>? in
            defer { c = nil }
            return c
        }
        c?.resume(with: result)
        return c != nil
    }

    func resume(throwing error: any Error) { resume(with: .failure(error)) }
}
