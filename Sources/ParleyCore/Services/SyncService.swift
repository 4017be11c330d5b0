import Foundation
import Mongo

/// What a user is owed when a connection opens: their rooms as of now (for `ready`)
/// and, per room, the offline queue (every message above their delivered cursor, to
/// the end of the room). The transport only writes it out, at its client's pace.
public struct SyncService: Sendable {
    public let rooms: RoomService
    /// Seqs per read of the offline queue (`Backlog`).
    public let window: Int

    /// One read of the offline queue covers this many seqs: small enough that the
    /// first messages go out at once, large enough that a read's fixed cost is small.
    public static let defaultWindow = 1_000

    public init(rooms: RoomService, window: Int = SyncService.defaultWindow) {
        self.rooms = rooms
        self.window = max(1, window)
    }

    /// The window for messages of at most `messageMaxChars` characters: 1,000 seqs,
    /// fewer when a window of the longest messages (4 bytes a character, plus room for
    /// the rest of the document) would pass 32 MiB. A flush holds two windows at most
    /// (the one sent, the one read), so its memory stays bounded whatever the limit.
    public static func window(messageMaxChars: Int) -> Int {
        let budget = 32 << 20
        return max(16, min(defaultWindow, budget / (max(1, messageMaxChars) * 4 + 4_096)))
    }

    /// A user's memberships and their rooms, at their heads (`RoomService.heads`).
    public struct Snapshot: Sendable {
        public let memberships: [MembershipRecord]
        /// The rooms as the user sees them, most active first.
        public let rooms: [Room]
        /// The memberships with messages above their delivered cursor.
        public let owed: [MembershipRecord]
        /// The memberships whose room changed messages since the member last saw.
        public let changed: [MembershipRecord]
        /// Each room's head (its highest seq stored) as read.
        public let heads: [ObjectId: Int]
    }

    /// At most this many changes per room go out in one flush (the newest changes of
    /// a message replace its older ones: it is sent as it is now).
    public static let maxChanges = 5_000

    /// The user's rooms now. Read once at connect; the hub subscribes the connection
    /// to `memberships`.
    public func snapshot(for user: UserRecord) async throws -> Snapshot {
        let memberships = try await rooms.repos.memberships.forUser(user.id)
        let records = try await rooms.repos.rooms.find(ids: memberships.map(\.roomId))
        let heads = try await rooms.heads(of: records)
        let byId = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let wire = memberships.compactMap { m in byId[m.roomId].map { Room($0, head: heads[$0.id], membership: m) } }
            .sorted { ($0.lastSeq, $0.id) > ($1.lastSeq, $1.id) }
        let owed = memberships.filter { m in (heads[m.roomId] ?? 0) > m.deliveredSeq }
        let changed = memberships.filter { m in (byId[m.roomId]?.updateSeq ?? 0) > (m.updatesSeen ?? 0) }
        return Snapshot(memberships: memberships, rooms: wire, owed: owed, changed: changed, heads: heads)
    }

    /// What changed in a member's room since they last saw, among the messages they
    /// already had (those above `deliveredSeq` go out whole in the backlog), by `useq`.
    public func changes(of membership: MembershipRecord) async throws -> [MessageRecord] {
        try await rooms.repos.messages.changed(
            roomId: membership.roomId, after: membership.updatesSeen ?? 0, maxSeq: membership.deliveredSeq, limit: SyncService.maxChanges)
    }

    /// The offline queue of one membership: every message above its delivered cursor,
    /// to the end of the room whatever its head was at the snapshot (messages stored
    /// since come too), in windows of seqs read one at a time (`Backlog`).
    public func backlog(of membership: MembershipRecord, in snapshot: Snapshot) -> Backlog {
        Backlog(
            messages: rooms.repos.messages, roomId: membership.roomId, after: membership.deliveredSeq,
            head: snapshot.heads[membership.roomId] ?? membership.deliveredSeq, size: window)
    }
}
