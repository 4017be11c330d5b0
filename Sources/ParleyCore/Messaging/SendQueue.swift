import Synchronization

/// Items waiting for one writer, in arrival order. The first item wakes a drain task;
/// it hands the writer everything waiting (up to `maxBatch`) and, while the writer
/// runs, new items gather for its next call; the task ends when the queue is empty.
/// One call of `write` at a time, so batches are written in the order they queued.
final class SendQueue<Item: Sendable>: Sendable {
    private struct State {
        var waiting: [Item] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let write: @Sendable ([Item]) async -> Void

    init(maxBatch: Int, write: @escaping @Sendable ([Item]) async -> Void) {
        self.maxBatch = max(1, maxBatch)
        self.write = write
    }

    /// True when nothing waits and no batch is being written.
    var isIdle: Bool { state.withLock { $0.waiting.isEmpty && !$0.draining } }

    /// Queues an item behind the others, starting the drain if none runs.
    func append(_ item: Item) {
        let start = state.withLock { s -> Bool in
            s.waiting.append(item)
            defer { s.draining = true }
            return !s.draining
        }
        if start { Task { await self.drain() } }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { s -> [Item] in
                let taken = Array(s.waiting.prefix(maxBatch))
                s.waiting.removeFirst(taken.count)
                if taken.isEmpty { s.draining = false }
                return taken
            }
            if batch.isEmpty { return }
            await write(batch)
        }
    }
}
