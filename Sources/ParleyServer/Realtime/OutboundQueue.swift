import NIOCore
import Synchronization

/// The frames waiting to be written to one client, bounded. The writer takes
/// everything pending at once, so a burst goes out with one flush: either a task
/// waiting in `next` (Socket.IO), or an event-loop writer woken on the first push
/// (`attach(wake:)` and `takeAll`, the native socket), which keeps no task waiting on
/// an idle client. A producer that may outrun the client (the offline flush) waits
/// for room (`waitForRoom`) instead of tripping the bound.
final class OutboundQueue: Sendable {
    enum Outcome { case queued, full, finished }

    private struct State {
        var frames: [ByteBuffer] = []
        var writer: CheckedContinuation<[ByteBuffer]?, Never>?
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
        var finished = false
        /// The push-mode writer, and whether it has been woken and not yet taken.
        var wake: (@Sendable () -> Void)?
        var woken = false
        /// When the oldest pending frame was queued (timed queues only).
        var oldest: ContinuousClock.Instant?
    }

    /// Frames pending before the client counts as too slow.
    let limit: Int
    /// Whether the queue notes when its oldest pending frame came (`takeAllTimed`): a
    /// clock read per burst, so the server samples a few connections, not all.
    let timed: Bool
    private let state = Mutex(State())

    init(limit: Int, timed: Bool = false) {
        self.limit = limit
        self.timed = timed
    }

    /// Queues frames in order, with one lock and at most one wake-up of the writer:
    /// `.full` (nothing queued) when they do not all fit under `limit` (the caller
    /// cuts the client), `.finished` after `finish`.
    func push(_ frames: [ByteBuffer]) -> Outcome {
        guard !frames.isEmpty else { return .queued }
        let (outcome, writer, wake) = state.withLock { s -> (Outcome, CheckedContinuation<[ByteBuffer]?, Never>?, (@Sendable () -> Void)?) in
            if s.finished { return (.finished, nil, nil) }
            if let w = s.writer {
                s.writer = nil
                return (.queued, w, nil)
            }
            guard s.frames.count + frames.count <= limit else { return (.full, nil, nil) }
            // The clock is read once per burst, by the push that starts it.
            if timed, s.frames.isEmpty { s.oldest = .now }
            s.frames.append(contentsOf: frames)
            guard let wake = s.wake, !s.woken else { return (.queued, nil, nil) }
            s.woken = true
            return (.queued, nil, wake)
        }
        writer?.resume(returning: frames)
        wake?()
        return outcome
    }

    /// Push mode: `wake` is called (outside the lock) on the first push after each
    /// `takeAll`, so the writer runs once per burst. Call before anything is pushed.
    func attach(wake: @escaping @Sendable () -> Void) {
        state.withLock { $0.wake = wake }
    }

    /// Push mode: everything pending, at once; the next push wakes the writer again.
    /// Taking the backlog makes room, so producers waiting for it go on.
    func takeAll() -> [ByteBuffer] { takeAllTimed().frames }

    /// `takeAll`, with when the oldest of the frames was queued (nil unless `timed`).
    func takeAllTimed() -> (frames: [ByteBuffer], since: ContinuousClock.Instant?) {
        let (frames, since, waiters) = state.withLock { s -> ([ByteBuffer], ContinuousClock.Instant?, [CheckedContinuation<Void, Never>]) in
            s.woken = false
            defer { s.frames = []; s.roomWaiters = []; s.oldest = nil }
            return (s.frames, s.oldest, s.roomWaiters)
        }
        for w in waiters { w.resume() }
        return (frames, since)
    }

    /// Everything pending, waiting for at least one frame; nil once finished and empty.
    /// One writer at a time.
    func next() async -> [ByteBuffer]? {
        let batch = await withCheckedContinuation { (c: CheckedContinuation<[ByteBuffer]?, Never>) in
            let ready = state.withLock { s -> [ByteBuffer]?? in
                if !s.frames.isEmpty {
                    defer { s.frames = [] }
                    return .some(s.frames)
                }
                if s.finished { return .some(nil) }
                s.writer = c
                return .none
            }
            if let ready { c.resume(returning: ready) }
        }
        // Taking the backlog makes room: wake the producers waiting for it.
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            defer { s.roomWaiters = [] }
            return s.roomWaiters
        }
        for w in waiters { w.resume() }
        return batch
    }

    /// Returns once fewer than half of `limit` frames are pending (or the queue is
    /// finished): a producer's backpressure.
    func waitForRoom() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.finished || s.frames.count < limit / 2 { return true }
                s.roomWaiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Ends the queue: the writer gets what is pending, then nil; waiting producers go
    /// on. A push-mode writer is let go (it may hold the socket).
    func finish() {
        let (writer, waiters) = state.withLock { s -> (CheckedContinuation<[ByteBuffer]?, Never>?, [CheckedContinuation<Void, Never>]) in
            s.finished = true
            defer { s.writer = nil; s.roomWaiters = []; s.wake = nil }
            return (s.writer, s.roomWaiters)
        }
        writer?.resume(returning: nil)
        for w in waiters { w.resume() }
    }
}
