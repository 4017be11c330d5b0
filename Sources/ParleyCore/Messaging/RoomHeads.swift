import Foundation
import Logging
import Mongo
import Synchronization

/// How far each room is stored, as this node knows it: the one source of a room's
/// head. It keeps the per-room counters the writer numbers from (the highest seq this
/// node knows stored) and raises the rooms' recorded `lastSeq` after them through a
/// coalescing `LastSeqRaiser`, so `lastSeq` may trail by `interval`.
///
/// `head(of:)` needs no read and is a lower bound: after a crash, or with another node
/// writing, the database may hold more. Readers that need the end of a room ask
/// `RoomService.heads(of:)`, which reads past the head and hands what it finds to
/// `learn`.
public final class RoomHeads: Sendable {
    private let counters = Mutex<[ObjectId: Int]>([:])
    private let raiser: LastSeqRaiser

    init(store: any MessageStore, interval: Duration, logger: Logger) {
        raiser = LastSeqRaiser(store: store, interval: interval, logger: logger)
    }

    /// The room's head without a read: its recorded `lastSeq` or what this node stored.
    public func head(of room: RoomRecord) -> Int { max(room.lastSeq, counters.withLock { $0[room.id] } ?? 0) }

    /// True when every stored head has been written to `lastSeq`.
    public var isIdle: Bool { raiser.isIdle }

    /// Heads found stored beyond `lastSeq` by a reader (messages acked just before a
    /// crash, whose raise was lost): written to `lastSeq`, so the room is whole again
    /// even if nobody writes there again.
    public func learn(_ heads: [ObjectId: Int]) { raiser.raise(heads, at: Date()) }

    /// Another node stored `seq` in `room` (cluster mode): the next write here numbers
    /// after it, instead of colliding with it and reading the head again.
    public func seen(_ room: ObjectId, seq: Int) {
        counters.withLock { c in c[room] = max(c[room] ?? 0, seq) }
    }

    /// The counters the next write numbers from, for the rooms this node has them for.
    func counters(for rooms: Set<ObjectId>) -> [ObjectId: Int] {
        counters.withLock { c in Dictionary(uniqueKeysWithValues: rooms.compactMap { r in c[r].map { (r, $0) } }) }
    }

    /// After a write over `rooms`: their counters as the write left them. A room
    /// missing from `counters` (its write failed, the outcome unknown) is read from
    /// `lastSeq` again next time.
    func update(rooms: Set<ObjectId>, counters updated: [ObjectId: Int]) {
        counters.withLock { c in
            // A seq seen from another node meanwhile is stored too: keep the higher.
            for room in rooms { c[room] = updated[room].map { max($0, c[room] ?? 0) } }
        }
    }

    /// The highest seq each room now has stored, by an insert that took `insertTook`:
    /// `lastSeq` is raised to it.
    func stored(_ marks: [ObjectId: Int], latest: [MessageRecord] = [], insertTook: Duration? = nil) {
        raiser.raise(marks, latest: latest, at: Date(), insertTook: insertTook)
    }
}
