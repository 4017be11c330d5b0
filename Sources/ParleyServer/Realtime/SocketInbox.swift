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
        /// The jobs not yet run are `jobs[head...]`. Drained, the array is let go, so an
        /// idle connection holds no storage for it (nor a burst's worth after one).
        var jobs: [Job] = []
        var head = 0
        var waiting: Int { jobs.count - head }

        mutating func popFirst() -> Job? {
            guard head < jobs.count else { return nil }
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs = []
                head = 0
            } else if head >= 32, head * 2 >= jobs.count {
                // Run jobs (and what they captured) are dropped as the queue moves on.
                jobs.removeFirst(head)
                head = 0
            }
            return job
        }
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
            let pause = s.waiting >= pauseAt && !s.paused
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
                guard let job = s.popFirst() else {
                    s.running = false
                    return (nil, false)
                }
                let resume = s.paused && s.waiting <= pauseAt / 4
                if resume { s.paused = false }
                return (job, resume)
            }
            if resumeNow { resume() }
            guard let job else { return }
            await job()
        }
    }
}
