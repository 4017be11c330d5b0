import Foundation
import Logging
import Mongo
import Synchronization

/// Raises rooms' `lastSeq` (and `lastMessageAt`) after their messages are stored,
/// coalesced: at most one `update` in flight, started a pause after the first mark it
/// carries, taking every mark made meanwhile. On the embedded database that update
/// costs as much as inserting a batch of messages, so one per write held the send
/// path in large, slow batches (docs/BENCHMARKS.md); one per `interval` costs little
/// and leaves `lastSeq` at most about `interval` behind, up to four intervals while
/// the database is saturated (`RaisePace`).
///
/// `lastSeq` is thus a lower bound of what is stored (`RoomHeads` says how readers
/// get the end of a room); `$max` never lowers it, so marks may arrive in any order.
/// A failed update is kept and tried again with a growing pause until the database
/// takes it.
final class LastSeqRaiser: Sendable {
    private struct State {
        var marks: [ObjectId: Int] = [:]
        /// Each room's latest stored message, for its `lastMessage`.
        var latest: [ObjectId: MessageRecord] = [:]
        var at = Date.distantPast
        var running = false
        /// How long the last insert took, for the next pause.
        var insertTook: Duration = .zero
    }

    private let store: any MessageStore
    private let pace: RaisePace
    private let logger: Logger
    private let state = Mutex(State())

    init(store: any MessageStore, interval: Duration, logger: Logger) {
        self.store = store
        pace = RaisePace(interval: interval)
        self.logger = logger
    }

    /// True when no mark is waiting or being written.
    var isIdle: Bool { state.withLock { $0.marks.isEmpty && !$0.running } }

    /// Records that `marks` (room → highest seq stored) were stored at `at`, by an
    /// insert that took `insertTook` (nil: not the send path's, a reader's `learn`).
    func raise(_ marks: [ObjectId: Int], latest: [MessageRecord] = [], at: Date, insertTook: Duration? = nil) {
        guard !marks.isEmpty else { return }
        let start = state.withLock { s -> Bool in
            if let insertTook { s.insertTook = insertTook }
            s.marks.merge(marks, uniquingKeysWith: max)
            for m in latest where (s.latest[m.roomId]?.seq ?? 0) < m.seq { s.latest[m.roomId] = m }
            s.at = max(s.at, at)
            defer { s.running = true }
            return !s.running
        }
        if start { Task { await self.run() } }
    }

    private func run() async {
        var failures = 0
        while true {
            let pause = pace.pause(afterInsertTook: state.withLock { $0.insertTook })
            try? await Task.sleep(for: failures == 0 ? pause : .milliseconds(min(250 * failures, 2_000)))
            let (marks, latest, at) = state.withLock { s -> ([ObjectId: Int], [MessageRecord], Date) in
                defer { (s.marks, s.latest) = ([:], [:]) }
                return (s.marks, Array(s.latest.values), s.at)
            }
            do {
                try await store.raiseLastSeq(marks, latest: latest, at: at)
                if failures > 0 { logger.info("lastSeq of \(marks.count) room(s) raised after \(failures) failed attempt(s)") }
                failures = 0
            } catch let e as MongoError where e.isClientShutDown {
                // The server is gone (shutdown waits for raises first, so this is a
                // process ending without one): nothing will ever take them.
                logger.warning("lastSeq of \(marks.count) room(s) not raised: the database client is shut down")
                state.withLock { s in
                    (s.marks, s.latest) = ([:], [:])
                    s.running = false
                }
                return
            } catch {
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("lastSeq of \(marks.count) room(s) not raised yet (attempt \(failures)), retrying: \(error)")
                }
                state.withLock { s in
                    s.marks.merge(marks, uniquingKeysWith: max)
                    for m in latest where (s.latest[m.roomId]?.seq ?? 0) < m.seq { s.latest[m.roomId] = m }
                }
            }
            let done = state.withLock { s -> Bool in
                if s.marks.isEmpty {
                    s.running = false
                    // Quiet: the next raise does not wait on an old insert's time.
                    s.insertTook = .zero
                }
                return !s.running
            }
            if done { return }
        }
    }
}

/// How long the raiser waits before a raise. A raise costs the database per room, not
/// per message: at light load one every `interval` is cheap, but at its ceiling each
/// one is time the inserts do not get (at the maximum throughput the raises took 4 to 7 %
/// of SecantusDB's samples, docs/BENCHMARKS.md). An insert that took long says the
/// database is saturated (messages queue behind it), so the pause is then three times
/// that insert, between `interval` and four intervals.
struct RaisePace: Sendable {
    let interval: Duration

    /// The most `lastSeq` may trail while the database is saturated.
    var longest: Duration { interval * 4 }

    func pause(afterInsertTook took: Duration) -> Duration {
        min(longest, max(interval, took * 3))
    }
}
