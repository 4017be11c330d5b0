import Foundation
import Mongo

/// Reads the caller's rooms newest first, one time window at a time across all of
/// them (so what one window finds is newer than anything the next one can), each
/// room's window read through `{roomId, _id}` (an id begins with its second), and
/// checks every message here. How a search finds a common word: it is in the newest
/// messages, where the index would read all its entries first (`SearchPlan`).
struct RecentScan: Sendable {
    let messages: any MessageRepository
    /// The rooms searched, with when each was made and last written to.
    let rooms: [RoomRecord]
    /// How many read queries run at once.
    static let parallel = 8
    /// Seconds a room's `lastMessageAt` may trail its newest message.
    static let quietSlack: TimeInterval = 60

    /// Matches of `matches`, newest first, older than `before` (an id; now when nil),
    /// until `wanted` are found, `maxScan` messages were read or the rooms' history
    /// ends; whether it stopped short of the end.
    func run(
        before: ObjectId?, share: Double, wanted: Int, maxScan: Int, now: Date = Date(), matches: @Sendable (MessageRecord) -> Bool
    ) async throws -> (messages: [MessageRecord], stoppedShort: Bool) {
        guard let oldest = rooms.map(\.createdAt).min() else { return ([], false) }
        let start = ObjectId(floorOf: oldest)
        var hi = before ?? ObjectId(floorOf: now.addingTimeInterval(2))
        // The first window: long enough, at the rooms' average pace, to hold twice the
        // messages `wanted` matches take; then each window twice the last.
        let written = rooms.reduce(0) { $0 + $1.lastSeq }
        let span = max(1, now.timeIntervalSince(oldest))
        let pace = Double(max(1, written)) / span
        var seconds = max(1, (2 * Double(wanted) / max(share, 1e-6) / pace).rounded(.up))
        var found: [MessageRecord] = []
        var scanned = 0
        while hi > start {
            let lo = max(start, ObjectId(floorOf: hi.timestamp.addingTimeInterval(-seconds)))
            // A room made after the window or quiet since before it has nothing in it
            // (`lastMessageAt` trails a send by the coalesced raise: a minute's slack).
            let active = rooms.filter { r in
                r.lastSeq > 0 && ObjectId(floorOf: r.createdAt) < hi
                    && (r.lastMessageAt.map { ObjectId(floorOf: $0.addingTimeInterval(Self.quietSlack)) >= lo } ?? true)
            }
            let read = try await window(active.map(\.id), from: lo, to: hi)
            scanned += read.count
            found += read.filter(matches)
            if found.count >= wanted { break }
            if scanned >= maxScan { return (found.sorted { $0.id > $1.id }, true) }
            hi = lo
            seconds *= 2
        }
        return (found.sorted { $0.id > $1.id }, false)
    }

    /// Every message of these rooms in `[from, to)`, `parallel` rooms in flight.
    private func window(_ ids: [ObjectId], from: ObjectId, to: ObjectId) async throws -> [MessageRecord] {
        let messages = self.messages
        return try await withThrowingTaskGroup(of: [MessageRecord].self) { group in
            var pending = ids.makeIterator()
            for _ in 0..<Self.parallel {
                guard let id = pending.next() else { break }
                group.addTask { try await messages.window(roomId: id, from: from, to: to) }
            }
            var out: [MessageRecord] = []
            for try await part in group {
                out += part
                if let id = pending.next() { group.addTask { try await messages.window(roomId: id, from: from, to: to) } }
            }
            return out
        }
    }
}
