import Synchronization

/// Announces stored batches (fan-out, then the senders' answers) one after another,
/// in the order they were stored, on a task of their own, so the send queue starts
/// its next insert while the previous batch goes out: at the maximum rate the
/// database would otherwise wait on every batch's fan-out and acks
/// (docs/BENCHMARKS.md). `follow` waits for the announcement before the one it
/// queues, so at most one runs behind the insert after it.
final class AnnounceLane: Sendable {
    private struct State {
        var last: Task<Void, Never>?
        var pending = 0
    }

    private let state = Mutex(State())

    /// True when every announcement handed over has run.
    var isIdle: Bool { state.withLock { $0.pending == 0 } }

    /// Queues `announce` behind the announcements before it; returns once those
    /// have run, not this one.
    func follow(_ announce: @escaping @Sendable () async -> Void) async {
        let previous = state.withLock { s -> Task<Void, Never>? in
            let previous = s.last
            s.pending += 1
            s.last = Task {
                await previous?.value
                await announce()
                self.state.withLock { $0.pending -= 1 }
            }
            return previous
        }
        await previous?.value
    }
}
