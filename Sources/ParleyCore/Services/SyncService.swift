import Foundation
import Mongo

/// What a user is owed when a connection opens: their rooms as of now (for `ready`)
/// and, per room, the offline queue (every message above their delivered cursor, to
/// the end of the room). The transport only writes it out, at its client's pace.
public struct SyncService: Sendable {
    public let rooms: RoomService

    public init(rooms: RoomService) { self.rooms = rooms }

    /// A user's memberships and their rooms, at their heads (`RoomService.heads`).
    public struct Snapshot: Sendable {
        public let memberships: [MembershipRecord]
        /// The rooms as the user sees them, most active first.
        public let rooms: [Room]
        /// The memberships with messages above their delivered cursor.
        public let owed: [MembershipRecord]
    }

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
        return Snapshot(memberships: memberships, rooms: wire, owed: owed)
    }

    /// The offline queue of one membership: every message above its delivered cursor,
    /// to the end of the room whatever its `lastSeq` says (messages stored since the
    /// snapshot come too), ascending, as one cursor.
    public func backlog(of membership: MembershipRecord) async throws -> MongoCursor<MessageRecord> {
        try await rooms.repos.messages.stream(roomId: membership.roomId, after: membership.deliveredSeq)
    }
}
