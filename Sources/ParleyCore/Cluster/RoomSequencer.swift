/// Puts one room's messages in strict seq order, each once, whichever way they came:
/// this node's own stored batches, another node's through the change stream, or a
/// read of `messages` that fills a hole. The stream is at-most-once (SecantusDB may
/// skip events), so a hole that does not fill within `gapFill` is read from the
/// database by `{roomId, seq}`; the room's dense seqs are the durable log, and the
/// stream only the fast path.
///
/// Pure state (no clock, no I/O): callers pass the time and do the reads, so the
/// rules are unit-tested alone. Not thread-safe: the server keeps it behind a lock.
public struct RoomSequencer<Key: Hashable, Item> {
    /// What one room needs read from the database: seqs `from...to`.
    public struct Fill: Equatable, Sendable {
        public let from: Int
        public let to: Int
        public init(from: Int, to: Int) {
            self.from = from
            self.to = to
        }
    }

    /// The bounds of a room's state.
    public struct Limits: Sendable {
        /// Held messages beyond a hole; past this the hole is given up (see `skip`).
        public var maxHeld = 20_000
        /// Reads of one hole that find nothing before it is given up: a seq that is
        /// never written (it cannot be, with dense numbering, unless a write is lost).
        public var maxFills = 40
        public init() {}
    }

    struct Room {
        /// The next seq to hand out; everything below went out (or was skipped).
        var next: Int
        var held: [Int: Item] = [:]
        /// When the current hole was first seen, and how many reads it has had.
        var holeSince: ContinuousClock.Instant?
        var fills = 0
    }

    private var rooms: [Key: Room] = [:]
    private let limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Offers messages of the room `key` (its seqs, any order, repeats allowed) and
    /// returns those that may go out now, in seq order. A room seen for the first
    /// time starts at `start` (the seq after the last one this node knows went out),
    /// or at the lowest seq offered.
    public mutating func offer(_ items: [(seq: Int, item: Item)], room key: Key, start: Int? = nil, now: ContinuousClock.Instant) -> [Item] {
        guard !items.isEmpty else { return [] }
        var room = rooms[key] ?? Room(next: start ?? items.map(\.seq).min()!)
        for (seq, item) in items where seq >= room.next { room.held[seq] = item }
        let out = drain(&room, now: now)
        rooms[key] = room
        return out
    }

    /// The holes that have waited `gapFill` since they were first seen (or since
    /// their last read), with the seqs to read; each is counted as one read.
    public mutating func dueFills(now: ContinuousClock.Instant, after gapFill: Duration) -> [(room: Key, fill: Fill)] {
        var due: [(room: Key, fill: Fill)] = []
        for (key, var room) in rooms {
            guard let since = room.holeSince, now - since >= gapFill, let lowest = room.held.keys.min() else { continue }
            due.append((key, Fill(from: room.next, to: lowest - 1)))
            room.fills += 1
            room.holeSince = now
            rooms[key] = room
        }
        return due
    }

    /// Takes what a fill read (possibly nothing); a hole read `maxFills` times in vain
    /// is skipped so the room does not stall for ever. Returns what may go out.
    public mutating func filled(_ items: [(seq: Int, item: Item)], room key: Key, now: ContinuousClock.Instant) -> [Item] {
        guard var room = rooms[key] else { return [] }
        for (seq, item) in items where seq >= room.next { room.held[seq] = item }
        var out = drain(&room, now: now)
        if room.holeSince != nil, room.fills >= limits.maxFills { out += skip(&room, now: now) }
        rooms[key] = room
        return out
    }

    /// True when the room has a hole waiting.
    public func hasHole(_ key: Key) -> Bool { rooms[key]?.holeSince != nil }

    /// True when any room has a hole waiting.
    public var hasHoles: Bool { rooms.values.contains { $0.holeSince != nil } }

    /// The next seq the room hands out, if the room is known.
    public func next(of key: Key) -> Int? { rooms[key]?.next }

    /// Forgets a room (no one here listens to it any more).
    public mutating func forget(_ key: Key) { rooms[key] = nil }

    /// Forgets every room: after a repair, what went out is no longer known.
    public mutating func reset() { rooms = [:] }

    private func drain(_ room: inout Room, now: ContinuousClock.Instant) -> [Item] {
        var out: [Item] = []
        while let item = room.held.removeValue(forKey: room.next) {
            out.append(item)
            room.next += 1
        }
        if room.held.isEmpty {
            room.holeSince = nil
            room.fills = 0
        } else if room.holeSince == nil {
            room.holeSince = now
        }
        if room.held.count > limits.maxHeld { out += skip(&room, now: now) }
        return out
    }

    /// Gives up the current hole: jumps to the lowest held seq.
    private func skip(_ room: inout Room, now: ContinuousClock.Instant) -> [Item] {
        guard let lowest = room.held.keys.min() else { return [] }
        room.next = lowest
        room.holeSince = nil
        room.fills = 0
        return drain(&room, now: now)
    }
}

extension RoomSequencer: Sendable where Key: Sendable, Item: Sendable {}
extension RoomSequencer.Room: Sendable where Key: Sendable, Item: Sendable {}
