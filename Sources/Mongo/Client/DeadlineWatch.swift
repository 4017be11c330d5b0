import NIOCore
import Synchronization

/// Answers the database calls that outlive their deadline, by one sweep every
/// `resolution` rather than a timer per call.
///
/// A timer per call cost two wake-ups of an event loop on every operation: the
/// caller's thread scheduled it and the pool's thread cancelled it, neither on the
/// loop, and a loop woken from another thread pays a system call and a turn of its
/// selector each time (about 4 % of the server's CPU while opening connections). A
/// call is now watched by an entry in a locked table; the sweep expires the overdue
/// ones. A call is answered at most `resolution` after its deadline.
final class DeadlineWatch: Sendable {
    private struct Watched: Sendable {
        let deadline: NIODeadline
        let expire: @Sendable () -> Void
    }

    private struct Table {
        var next = 0
        var calls: [Int: Watched] = [:]
    }

    private let table = Mutex(Table())
    private let sweeper = Mutex<RepeatedTask?>(nil)

    /// Sweeps on `loop` every `resolution` until `stop`.
    init(on loop: any EventLoop, resolution: TimeAmount) {
        let task = loop.scheduleRepeatedTask(initialDelay: resolution, delay: resolution) { [weak self] _ in
            self?.sweep(now: .now())
        }
        sweeper.withLock { $0 = task }
    }

    /// Watches a call: `expire` runs (on the sweeping loop) once `deadline` has passed,
    /// unless `forget` came first. Returns the ticket for `forget`.
    func watch(until deadline: NIODeadline, expire: @escaping @Sendable () -> Void) -> Int {
        table.withLock { t in
            t.next &+= 1
            t.calls[t.next] = Watched(deadline: deadline, expire: expire)
            return t.next
        }
    }

    /// The call answered: nothing left to expire.
    func forget(_ ticket: Int) {
        _ = table.withLock { $0.calls.removeValue(forKey: ticket) }
    }

    /// Calls watched and not yet answered or expired.
    var watching: Int { table.withLock { $0.calls.count } }

    /// Expires every call whose deadline is at or before `now`; their `expire` runs
    /// outside the lock.
    func sweep(now: NIODeadline) {
        let due = table.withLock { t -> [Watched] in
            guard !t.calls.isEmpty else { return [] }
            let overdue = t.calls.filter { $0.value.deadline <= now }
            for key in overdue.keys { t.calls.removeValue(forKey: key) }
            return Array(overdue.values)
        }
        for call in due { call.expire() }
    }

    /// Stops the sweeping; calls still watched are never expired.
    func stop() {
        sweeper.withLock { task in
            task?.cancel()
            task = nil
        }
    }

    deinit { sweeper.withLock { $0?.cancel() } }
}
