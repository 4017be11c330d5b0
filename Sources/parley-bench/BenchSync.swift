import Synchronization

/// A shared counter; `add` returns the value before adding.
final class Counter: Sendable {
    private let atomic = Atomic<Int>(0)
    func add(_ n: Int) -> Int { atomic.wrappingAdd(n, ordering: .relaxed).oldValue }
    var value: Int { atomic.load(ordering: .relaxed) }
}

/// A flag set once, read by many tasks.
final class Flag: Sendable {
    private let atomic = Atomic<Bool>(false)
    func set() { atomic.store(true, ordering: .relaxed) }
    var isSet: Bool { atomic.load(ordering: .relaxed) }
}

/// Wakes a sender's loop when one of its sends is acked.
final class AckRouter: Sendable {
    private let waiting = Mutex<[Int: AsyncStream<Void>.Continuation]>([:])
    func register(_ i: Int, _ c: AsyncStream<Void>.Continuation) { waiting.withLock { $0[i] = c } }
    func signal(_ i: Int) { _ = waiting.withLock { $0[i]?.yield() } }
    func finishAll() { waiting.withLock { all in for c in all.values { c.finish() } } }
}
