import NIOCore
import Synchronization

/// Async jobs run one at a time in arrival order on a task that exists only while
/// jobs are waiting: an idle connection holds no task. A socket's work (authenticate,
/// each frame's event, the goodbye) runs in one; a connection's send acks in another
/// (`Connection.enqueueSendAck`).
///
/// Backpressure: `enqueue` says when `pauseAt` jobs are waiting, so the socket stops
/// reading; `resume` is called once they have fallen to a quarter of that.
final class SocketInbox: Sendable {
    typealias Job = @Sendable () async -> Void

    private struct State {
        /// Small to start with: an idle connection holds one of these (or two).
        var jobs = CircularBuffer<Job>(initialCapacity: 2)
        var running = false
        var paused = false
    }

    private let state = Mutex(State())
    private let pauseAt: Int
    private let resume: @Sendable () -> Void

    /// - Parameters:
    ///   - pauseAt: waiting jobs at which the socket should stop reading.
    ///   - resume: called (from the inbox's task) when reading may go on.
    init(pauseAt: Int = 32, resume: @escaping @Sendable () -> Void) {
        self.pauseAt = pauseAt
        self.resume = resume
    }

    /// Queues a job behind the others. True when the socket should stop reading
    /// until `resume` is called.
    @discardableResult
    func enqueue(_ job: @escaping Job) -> Bool {
        let (start, pause) = state.withLock { s -> (Bool, Bool) in
            s.jobs.append(job)
            let pause = s.jobs.count >= pauseAt && !s.paused
            if pause { s.paused = true }
            defer { s.running = true }
            return (!s.running, pause)
        }
        if start { Task { await self.run() } }
        return pause
    }

    private func run() async {
        while true {
            let (job, resumeNow) = state.withLock { s -> (Job?, Bool) in
                guard let job = s.jobs.popFirst() else {
                    s.running = false
                    return (nil, false)
                }
                let resume = s.paused && s.jobs.count <= pauseAt / 4
                if resume { s.paused = false }
                return (job, resume)
            }
            if resumeNow { resume() }
            guard let job else { return }
            await job()
        }
    }
}
