import Synchronization
import TestSupport
import Testing

@testable import ParleyCore

/// `AnnounceLane`: the send queue goes on to its next insert while a batch is
/// announced, announcements run in the order handed over, and at most one is left
/// behind the caller.
@Suite("Announce lane")
struct AnnounceLaneTests {
    /// What happened, in order.
    final class Events: Sendable {
        private let list = Mutex<[String]>([])
        func add(_ e: String) { list.withLock { $0.append(e) } }
        var all: [String] { list.withLock { $0 } }
    }

    @Test("follow returns before its own announcement runs, and waits for the one before; announcements keep their order")
    func overlapAndOrder() async throws {
        let lane = AnnounceLane()
        let events = Events()
        let gateA = Deferred<Void>()
        // A held announcement: the caller is back (free to insert the next batch) before it ends.
        await lane.follow {
            _ = try? await gateA.value()
            events.add("A announced")
        }
        events.add("follow A returned")
        #expect(!lane.isIdle)

        // The next batch's follow waits for A, not for B.
        let gateB = Deferred<Void>()
        let followB = Task {
            await lane.follow {
                _ = try? await gateB.value()
                events.add("B announced")
            }
            events.add("follow B returned")
        }
        gateA.complete(.success(()))
        await followB.value
        #expect(events.all == ["follow A returned", "A announced", "follow B returned"])
        #expect(!lane.isIdle)

        // C's follow waits for B, which waits for its gate.
        let followC = Task {
            await lane.follow { events.add("C announced") }
            events.add("follow C returned")
        }
        gateB.complete(.success(()))
        await followC.value
        while !lane.isIdle { await Task.yield() }
        // C runs after B; whether C's follow is back before C runs is up to the scheduler.
        #expect(Array(events.all.prefix(4)) == ["follow A returned", "A announced", "follow B returned", "B announced"])
        #expect(Set(events.all.dropFirst(4)) == ["follow C returned", "C announced"])
    }

    @Test("many announcements handed over from one caller run one at a time, in order")
    func manyInOrder() async throws {
        let lane = AnnounceLane()
        let events = Events()
        let running = Mutex(0)
        let overlapped = Mutex(false)
        for k in 0..<200 {
            await lane.follow {
                let now = running.withLock { r -> Int in
                    r += 1
                    return r
                }
                if now > 1 { overlapped.withLock { $0 = true } }
                if k % 7 == 0 { await Task.yield() }
                events.add("\(k)")
                running.withLock { $0 -= 1 }
            }
        }
        while !lane.isIdle { await Task.yield() }
        #expect(events.all == (0..<200).map { "\($0)" })
        #expect(!overlapped.withLock { $0 })
    }
}
