import Foundation
import Logging
import Mongo
import ParleyCore
import Synchronization

/// This node's signals on their way to the others: gathered while a write is in
/// flight and written as one `SignalBatch` per write, so a busy room costs one insert
/// for many signals, not one each. One write at a time keeps the node's batches in
/// order (`n`). With nothing to say for `heartbeat`, it writes an empty batch: the
/// others read it as this node's heartbeat.
///
/// After each write it lingers three times as long as that write took (at most
/// `maxLinger`) before taking the next batch, unless a full one is already
/// waiting. A node that receives every send of a cluster forwards each as it
/// arrives: without the linger it wrote a batch of a few signals every few
/// milliseconds, and on the embedded database, whose every insert has a fixed
/// cost, those batches took most of its time (2,300 inserts in 15 s from one node,
/// while the rooms' writers waited over a second for each of theirs). A slow write
/// means a busy database, and the linger then gathers more per insert; at light
/// load a write takes a millisecond or two, and the linger a few.
final class SignalOutbox: Sendable {
    private struct State {
        var pending: [Signal] = []
        /// The writer, parked until there is something to write or a heartbeat is due.
        var parked: CheckedContinuation<Void, Never>?
        /// Set by the heartbeat timer, cleared by each write.
        var heartbeatDue = false
        var stopped = false
        /// Until `release`: only empty batches (heartbeats) go out, the signals wait.
        var held = true
    }

    /// Signals kept while the database does not take them; past this the oldest
    /// pushes are dropped (they are ephemeral), never subscription changes, presence
    /// or message copies.
    static let maxPending = 100_000

    private let collection: MongoCollection<SignalBatch>
    private let node: String
    private let heartbeat: Duration
    private let maxLinger: Duration
    private let logger: Logger
    private let state = Mutex(State())

    init(database: MongoDatabase, node: String, heartbeat: Duration, maxLinger: Duration = .milliseconds(50), logger: Logger) {
        collection = database.collection("signals", withType: SignalBatch.self)
        self.node = node
        self.heartbeat = heartbeat
        self.maxLinger = maxLinger
        self.logger = logger
    }

    private let listened = Atomic<Bool>(false)

    /// Whether another node is alive to read what this one writes (`Cluster` keeps it
    /// current). Alone, a node does not copy its messages into its batches: a node
    /// that joins later fills what it missed from `messages` (its sequencer's holes).
    var hasListeners: Bool {
        get { listened.load(ordering: .relaxed) }
        set { listened.store(newValue, ordering: .relaxed) }
    }

    /// True until `release`: a node that starts holds what it has to say until every
    /// other live node watches the stream (`Cluster`), so none of them misses it.
    var isHeld: Bool { state.withLock { $0.held } }

    /// Lets the held signals go, in order, and every later one; for good.
    func release() {
        let parked = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.held else { return nil }
            s.held = false
            guard !s.pending.isEmpty, let parked = s.parked else { return nil }
            s.parked = nil
            return parked
        }
        parked?.resume()
    }

    /// Queues a signal for the next write.
    func publish(_ signal: Signal) { publish([signal]) }

    /// Queues signals that go out in one batch, in this order (a push and the
    /// unsubscribe after it: no node applies one without the other).
    func publish(_ signals: [Signal]) {
        let parked = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.stopped else { return nil }
            s.pending += signals
            while s.pending.count > Self.maxPending, let i = s.pending.firstIndex(where: { $0.kind == .push || $0.kind == .rooms }) {
                s.pending.remove(at: i)
            }
            guard !s.held else { return nil }
            defer { s.parked = nil }
            return s.parked
        }
        parked?.resume()
    }

    /// Writes batches until `stop`.
    func run() async {
        var n = 0
        while true {
            await park()
            let (signals, stopped) = state.withLock { s in
                // One document stays far below 16 MiB: a backlog goes out over several.
                // Held, the batch is a heartbeat; stopping, what waits goes out.
                let cut = s.held && !s.stopped ? 0 : Self.batchEnd(s.pending)
                let taken = Array(s.pending[..<cut])
                s.pending.removeFirst(cut)
                s.heartbeatDue = false
                return (taken, s.stopped)
            }
            // Stopping with nothing left: done (no heartbeat on the way out).
            if stopped && signals.isEmpty { return }
            n += 1
            let started = ContinuousClock.now
            await write(SignalBatch(node: node, n: n, at: Date(), signals: signals))
            let (drained, full) = state.withLock { s in (s.pending.isEmpty, Self.batchEnd(s.pending) < s.pending.count) }
            if stopped && drained { return }
            // A batch of many signals already spread the insert's cost: no linger then.
            if !stopped && !full && signals.count < Self.lingerBelow {
                try? await Task.sleep(for: Self.linger(after: ContinuousClock.now - started, max: maxLinger))
            }
        }
    }

    /// How long to gather signals after a write that took `took`: three times as long,
    /// at most `max` (50 ms by default). Three nodes, 8 rooms, 40 senders on one node
    /// at 1,108/s offered: without a linger 42 to 490 stored/s, with it 927 to
    /// 1,051; at the maximum and at 100 and 400/s the two were within the runs'
    /// spread (docs/BENCHMARKS.md).
    static func linger(after took: Duration, max: Duration) -> Duration { min(took * 3, max) }

    /// Batches of at least this many signals are followed by no linger.
    static let lingerBelow = 64

    /// Where the next batch ends: at most `maxMessagesPerBatch` message copies and
    /// `maxSignalsPerBatch` signals.
    static func batchEnd(_ pending: [Signal]) -> Int {
        var messages = 0
        for (i, signal) in pending.enumerated() {
            messages += signal.messages?.count ?? 0
            if i > 0 && (i >= maxSignalsPerBatch || messages > maxMessagesPerBatch) { return i }
        }
        return pending.count
    }

    static let maxSignalsPerBatch = 10_000
    static let maxMessagesPerBatch = 5_000

    /// Stops after writing what is pending.
    func stop() {
        let parked = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.stopped = true
            defer { s.parked = nil }
            return s.parked
        }
        parked?.resume()
    }

    /// Waits until a signal is pending, a heartbeat is due, or the outbox stops.
    private func park() async {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: self?.heartbeat ?? .seconds(1))
            guard !Task.isCancelled else { return }
            let parked = self?.state.withLock { s -> CheckedContinuation<Void, Never>? in
                s.heartbeatDue = true
                defer { s.parked = nil }
                return s.parked
            }
            parked?.resume()
        }
        defer { timer.cancel() }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if (!s.pending.isEmpty && !s.held) || s.stopped || s.heartbeatDue { return true }
                s.parked = c
                return false
            }
            if ready { c.resume() }
        }
    }

    /// One batch, retried until the database takes it: the others count on every
    /// number arriving. A batch that never lands (the node stops first) is a gap the
    /// others repair from the collections.
    /// What a failed insert of a batch means for it.
    enum Verdict: Equatable {
        /// An attempt that timed out may still have landed (a slow database answers
        /// after the deadline): its own id already stored is this batch written, and
        /// retrying it would fail the same way for ever.
        case written
        /// A batch that cannot be encoded never will be: retrying it would hold every
        /// later signal behind it. Dropped, it is a gap the other nodes repair.
        case unwritable
        /// Anything else (the database away, a timeout): try again.
        case retry
    }

    static func verdict(on error: any Error) -> Verdict {
        guard let e = error as? MongoError else { return .retry }
        switch e.code {
        case .duplicateKey: return .written
        case .invalidDocument: return .unwritable
        default: return .retry
        }
    }

    func write(_ batch: SignalBatch) async {
        var pause: Duration = .milliseconds(50)
        while true {
            do {
                try await collection.insertOne(batch)
                return
            } catch {
                // Stopping, cancelled (a shutdown), or the client is gone: give up.
                if state.withLock({ $0.stopped }) || Task.isCancelled || (error as? MongoError)?.isClientShutDown == true {
                    logger.warning("signal batch \(batch.n) not written before stopping: \(error)")
                    return
                }
                switch Self.verdict(on: error) {
                case .written:
                    logger.info("signal batch \(batch.n) was written by an earlier attempt")
                    return
                case .unwritable:
                    logger.error("signal batch \(batch.n) cannot be written and is dropped (the other nodes repair): \(error)")
                    return
                case .retry:
                    break
                }
                logger.warning("signal batch \(batch.n) not written yet, retrying: \(error)")
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }
}
