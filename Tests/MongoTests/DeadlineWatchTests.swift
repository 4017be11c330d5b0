@testable import Mongo
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The sweep that answers database calls past their deadline (`DeadlineWatch`); the
/// calls themselves against a server that never answers are in `CollectionTests`.
@Suite("Mongo: deadline watch")
struct DeadlineWatchTests {
    final class Fired: Sendable {
        let names = Mutex<[String]>([])
        func fire(_ name: String) -> @Sendable () -> Void { { self.names.withLock { $0.append(name) } } }
        var all: [String] { names.withLock { $0 } }
    }

    /// A watch whose own sweeps never come during the test: `sweep(now:)` is driven by hand.
    static func manual() -> DeadlineWatch {
        DeadlineWatch(on: MultiThreadedEventLoopGroup.singleton.next(), resolution: .hours(1))
    }

    @Test("a sweep expires the calls past their deadline, once each, and leaves the others and the forgotten ones")
    func sweepExpiresOverdue() {
        let watch = Self.manual()
        defer { watch.stop() }
        let fired = Fired()
        let start = NIODeadline.now()
        _ = watch.watch(until: start + .milliseconds(10), expire: fired.fire("early"))
        let answered = watch.watch(until: start + .milliseconds(10), expire: fired.fire("answered"))
        _ = watch.watch(until: start + .seconds(10), expire: fired.fire("late"))
        watch.forget(answered)
        #expect(watch.watching == 2)

        watch.sweep(now: start)
        #expect(fired.all.isEmpty)
        watch.sweep(now: start + .milliseconds(10))
        #expect(fired.all == ["early"])
        watch.sweep(now: start + .seconds(1))
        #expect(fired.all == ["early"])
        #expect(watch.watching == 1)
        watch.sweep(now: start + .seconds(10))
        #expect(fired.all == ["early", "late"])
        #expect(watch.watching == 0)
    }

    @Test("the loop sweeps by itself: an overdue call is expired without anyone sweeping by hand")
    func sweepsOnItsLoop() async throws {
        let watch = DeadlineWatch(on: MultiThreadedEventLoopGroup.singleton.next(), resolution: .milliseconds(10))
        defer { watch.stop() }
        let fired = Fired()
        _ = watch.watch(until: .now() + .milliseconds(5), expire: fired.fire("due"))
        for _ in 0..<500 where fired.all.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(fired.all == ["due"])
        #expect(watch.watching == 0)
    }

    @Test("after stop, nothing is expired any more")
    func stopEndsSweeping() async throws {
        let watch = DeadlineWatch(on: MultiThreadedEventLoopGroup.singleton.next(), resolution: .milliseconds(10))
        watch.stop()
        let fired = Fired()
        _ = watch.watch(until: .now(), expire: fired.fire("never"))
        try await Task.sleep(for: .milliseconds(100))
        #expect(fired.all.isEmpty)
        #expect(watch.watching == 1)
    }
}
