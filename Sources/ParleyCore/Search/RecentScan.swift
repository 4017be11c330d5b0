import Foundation
import Mongo

/// Reads the caller's rooms newest first and checks every message here: how a
/// search finds a common word, which is in the newest messages, where the index
/// would read all its entries first (`SearchPlan`).
///
/// Each room is read back from its end in windows of seqs through `{roomId, seq}`
/// (the one index every MongoDB-wire server serves as a range, without reading the
/// room), the first window sized so that all the rooms together hold about twice
/// the matches a page needs, each next one twice the last. After each round, a room
/// whose oldest message read is older than the page's last match so far cannot
/// change the page and is read no further; the page is final when no room can.
struct RecentScan: Sendable {
    let messages: any MessageRepository
    /// The rooms searched.
    let rooms: [RoomRecord]
    /// How many read queries run at once.
    static let parallel = 8
    /// The largest window, in seqs.
    static let maxWindow = 2_000

    private struct Cursor {
        let room: ObjectId
        let lastSeq: Int
        /// The lowest seq read so far (the next window ends below it); nil before the
        /// first read, which starts at `start` or, without one, at the room's end.
        var floor: Int?
        let start: Int?
        var window: Int
        var oldest: ObjectId?
        var done: Bool { (floor ?? Int.max) <= 1 }

        /// The seqs `(above, through]` of the next window (`through` nil: to the end).
        var next: (above: Int, through: Int?) {
            if let floor { return (max(0, floor - 1 - window), floor - 1) }
            if let start { return (max(0, start - 1 - window), start - 1) }
            return (max(0, lastSeq - window), nil)
        }
    }

    /// The first `wanted` matches of `matches`, newest first (by id), older than
    /// `before` (an id), and in each room below `beforeSeq` when given; whether it
    /// stopped at `maxScan` messages read before it could tell.
    func run(
        before: ObjectId?, beforeSeq: Int?, share: Double, wanted: Int, maxScan: Int, matches: @Sendable (MessageRecord) -> Bool
    ) async throws -> (messages: [MessageRecord], stoppedShort: Bool) {
        let live = rooms.filter { $0.lastSeq > 0 || $0.lastMessage != nil }
        guard !live.isEmpty else { return ([], false) }
        let first = max(8, min(Self.maxWindow, Int((2 * Double(wanted) / max(share, 1e-6) / Double(live.count)).rounded(.up))))
        var cursors = live.map { Cursor(room: $0.id, lastSeq: max($0.lastSeq, $0.lastMessage?.seq ?? 0), floor: nil, start: beforeSeq, window: first) }
        var found: [MessageRecord] = []
        var scanned = 0
        while true {
            found.sort { $0.id > $1.id }
            let cutoff = found.count >= wanted ? found[wanted - 1].id : nil
            let next = cursors.indices.filter { i in
                !cursors[i].done && (cutoff == nil || cursors[i].oldest.map { $0 > cutoff! } ?? true)
            }
            if next.isEmpty { return (Array(found.prefix(wanted)), false) }
            if scanned >= maxScan { return (Array(found.prefix(wanted)), true) }
            let reads = try await read(next.map { cursors[$0] })
            for (i, docs) in zip(next, reads) {
                scanned += docs.count
                var c = cursors[i]
                c.floor = c.next.above + 1
                if let oldestHere = docs.map(\.id).min() { c.oldest = min(c.oldest ?? oldestHere, oldestHere) }
                c.window = min(Self.maxWindow, c.window * 2)
                cursors[i] = c
                found += docs.filter { m in (before.map { m.id < $0 } ?? true) && matches(m) }
            }
        }
    }

    /// The next window of each cursor, `parallel` rooms in flight.
    private func read(_ cursors: [Cursor]) async throws -> [[MessageRecord]] {
        let messages = self.messages
        return try await parallelMap(cursors, limit: Self.parallel) { c in
            try await messages.window(roomId: c.room, above: c.next.above, through: c.next.through)
        }
    }
}
