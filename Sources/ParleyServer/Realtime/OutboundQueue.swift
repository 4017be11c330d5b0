import NIOCore
import Synchronization

/// The frames waiting to be written to one client, bounded. The writer takes
/// everything pending at once (`next`), so a burst goes out with one flush; a
/// producer that may outrun the client (the offline flush) waits for room
/// (`waitForRoom`) instead of tripping the bound.
final class OutboundQueue: Sendable {
    enum Outcome { case queued, full, finished }

    private struct State {
        var frames: [ByteBuffer] = []
        var writer: CheckedContinuation<[ByteBuffer]?, Never>?
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
        var finished = false
    }

    /// Frames pending before the client counts as too slow.
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = limit }

    /// Queues frames in order, with one lock and at most one wake-up of the writer:
    /// `.full` (nothing queued) when they do not all fit under `limit` (the caller
    /// cuts the client), `.finished` after `finish`.
    func push(_ frames: [ByteBuffer]) -> Outcome {
        guard !frames.isEmpty else { return .queued }
        let (outcome, writer) = state.withLock { s -> (Outcome, CheckedContinuation<[ByteBuffer]?, Never>?) in
            if s.finished { return (.finished, nil) }
            if let w = s.writer {
                s.writer = nil
                return (.queued, w)
            }
            guard s.frames.count + frames.count <= limit else { return (.full, nil) }
            s.frames.append(contentsOf: frames)
            return (.queued, nil)
        }
        writer?.resume(returning: frames)
        return outcome
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

    /// Ends the queue: the writer gets what is pending, then nil; waiting producers go on.
    func finish() {
        let (writer, waiters) = state.withLock { s -> (CheckedContinuation<[ByteBuffer]?, Never>?, [CheckedContinuation<Void, Never>]) in
            s.finished = true
            defer { s.writer = nil; s.roomWaiters = [] }
            return (s.writer, s.roomWaiters)
        }
        writer?.resume(returning: nil)
        for w in waiters { w.resume() }
    }
}
