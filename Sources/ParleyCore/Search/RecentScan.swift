import Foundation
import Mongo

/// Reads the caller's rooms newest first, one time window at a time across all of
/// them (so what one window finds is newer than anything the next one can), each
/// room's window read through `{roomId, _id}` (an id begins with its second), and
/// checks every message here. How a search finds a common word: it is in the newest
/// messages, where the index would read all its entries first (`SearchPlan`).
///
/// Windows start at the newest message of the rooms (a quiet hour since is not
/// read through), and each is sized from the density the last one found, to hold
/// about twice what the page still needs: the embedded database reads a whole
/// window before any limit, so a window must never be much larger than needed.
struct RecentScan: Sendable {
    let messages: any MessageRepository
    /// The rooms searched, with when each was made and last written to.
    let rooms: [RoomRecord]
    /// How many read queries run at once.
    static let parallel = 8
    /// Messages one window aims at, at most.
    static let maxWindowMessages = 4_000

    /// Matches of `matches`, newest first, older than `before` (an id; now when nil),
    /// until `wanted` are found, `maxScan` messages were read or the rooms' history
    /// ends; whether it stopped short of the end.
    func run(
        before: ObjectId?, share: Double, wanted: Int, maxScan: Int, now: Date = Date(), matches: @Sendable (MessageRecord) -> Bool
    ) async throws -> (messages: [MessageRecord], stoppedShort: Bool) {
        let newest = try await newestIds()
        let live = rooms.filter { newest[$0.id] != nil }
        guard let oldest = live.map(\.createdAt).min(), let latest = newest.values.max() else { return ([], false) }
        let start = ObjectId(floorOf: oldest)
        var hi = before ?? ObjectId(floorOf: now.addingTimeInterval(2))
        // The first window reaches from `hi` back to the newest message (anything newer
        // than a room's `lastSeq` included) and a little before it.
        let written = live.reduce(0) { $0 + $1.lastSeq }
        let pace = Double(max(1, written)) / max(1, latest.timestamp.timeIntervalSince(oldest))
        var target = min(Double(Self.maxWindowMessages), 2 * Double(wanted) / max(share, 1e-6))
        var seconds = max(1, (target / pace).rounded(.up))
        var anchor = min(hi, ObjectId(floorOf: latest.timestamp.addingTimeInterval(1)))
        var found: [MessageRecord] = []
        var scanned = 0
        while hi > start {
            let lo = max(start, ObjectId(floorOf: anchor.timestamp.addingTimeInterval(-seconds)))
            let active = live.filter { r in ObjectId(floorOf: r.createdAt) < hi && newest[r.id]! >= lo }
            let read = try await window(active.map(\.id), from: lo, to: hi)
            scanned += read.count
            found += read.filter(matches)
            if found.count >= wanted { break }
            if scanned >= maxScan { return (found.sorted { $0.id > $1.id }, true) }
            // The next window from the density this one had, for what is still missing.
            let span = max(1, hi.timestamp.timeIntervalSince(lo.timestamp))
            target = min(Double(Self.maxWindowMessages), 2 * Double(wanted - found.count) / max(share, 1e-6))
            seconds = read.isEmpty ? seconds * 4 : max(1, min(seconds * 8, (target / (Double(read.count) / span)).rounded(.up)))
            hi = lo
            anchor = lo
        }
        return (found.sorted { $0.id > $1.id }, false)
    }

    /// Each room's newest message id: its `lastMessage`, or a point read at its
    /// `lastSeq`; rooms without messages are left out.
    private func newestIds() async throws -> [ObjectId: ObjectId] {
        var out: [ObjectId: ObjectId] = [:]
        var unknown: [RoomRecord] = []
        for r in rooms where r.lastSeq > 0 {
            if let m = r.lastMessage { out[r.id] = m.id } else { unknown.append(r) }
        }
        let messages = self.messages
        let read = try await Self.each(unknown) { r in try await messages.find(roomId: r.id, seq: r.lastSeq).map { (r.id, $0.id) } }
        for case let (room, id)? in read { out[room] = id }
        return out
    }

    /// Every message of these rooms in `[from, to)`, `parallel` rooms in flight.
    private func window(_ ids: [ObjectId], from: ObjectId, to: ObjectId) async throws -> [MessageRecord] {
        let messages = self.messages
        return try await Self.each(ids) { id in try await messages.window(roomId: id, from: from, to: to) }.flatMap { $0 }
    }

    /// `body` over `items`, `parallel` at a time.
    private static func each<T: Sendable, R: Sendable>(_ items: [T], _ body: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
        try await withThrowingTaskGroup(of: R.self) { group in
            var pending = items.makeIterator()
            for _ in 0..<parallel {
                guard let item = pending.next() else { break }
                group.addTask { try await body(item) }
            }
            var out: [R] = []
            for try await r in group {
                out.append(r)
                if let item = pending.next() { group.addTask { try await body(item) } }
            }
            return out
        }
    }
}
