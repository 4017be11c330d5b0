import Foundation
import Mongo

/// Rooms, live events and direct conversations: who may see, join and leave what.
///
/// Visibility: public group and event rooms are visible to every user; private rooms
/// and direct rooms exist only for their members (others get `not_found`, as if the
/// room did not exist). A visible room's content is for members only (`forbidden`).
public struct RoomService: Sendable {
    public let repos: ParleyRepositories
    public let presence: PresenceRegistry
    /// This node's room heads, which may be ahead of `lastSeq`.
    public let heads: RoomHeads?
    /// The most participants a room listing returns.
    public static let participantLimit = 1000

    public init(repos: ParleyRepositories, presence: PresenceRegistry, heads: RoomHeads? = nil) {
        self.repos = repos
        self.presence = presence
        self.heads = heads
    }

    /// The room's last seq as this node knows it, without a read (`RoomHeads`). A
    /// lower bound: see `heads(of:)`.
    public func head(of room: RoomRecord) -> Int { heads?.head(of: room) ?? room.lastSeq }

    /// Each room's head: the highest seq stored, whoever stored it. What this node
    /// knows (`head(of:)`) and what the database holds above that, read in one query
    /// for all of them. After a crash, the messages acknowledged in the last
    /// `LAST_SEQ_RAISE_MS` are above `lastSeq`; they count here (unread, the offline
    /// flush, cursor caps), and their rooms' `lastSeq` is raised to them. The records
    /// are left as stored.
    public func heads(of rooms: [RoomRecord]) async throws -> [ObjectId: Int] {
        guard !rooms.isEmpty else { return [:] }
        var known: [ObjectId: Int] = [:]
        for r in rooms { known[r.id] = max(known[r.id] ?? 0, head(of: r)) }
        let beyond = try await repos.messages.highestSeqs(above: known)
        if !beyond.isEmpty { heads?.learn(beyond) }
        return known.merging(beyond, uniquingKeysWith: max)
    }

    /// One room's head (see `heads(of:)`).
    public func settledHead(of room: RoomRecord) async throws -> Int { try await heads(of: [room])[room.id] ?? room.lastSeq }

    /// A room as the caller sees it, with `lastSeq` (and so `unread`) at its head.
    public func view(_ room: RoomRecord, membership: MembershipRecord?) async throws -> Room {
        Room(room, head: try await settledHead(of: room), membership: membership)
    }

    /// What a client may ask for when creating a room.
    public struct NewRoom: Sendable {
        public var name: String
        public var kind: RoomKind
        public var topic: String?
        public var isPrivate: Bool
        public var startsAt: Date?
        public var endsAt: Date?
        /// A group conversation: these users are members from the start.
        public var memberIds: [String]
        public var guestAccess: Bool?

        public init(
            name: String, kind: RoomKind = .group, topic: String? = nil, isPrivate: Bool = false, startsAt: Date? = nil, endsAt: Date? = nil,
            memberIds: [String] = [], guestAccess: Bool? = nil
        ) {
            self.name = name
            self.kind = kind
            self.topic = topic
            self.isPrivate = isPrivate
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.memberIds = memberIds
            self.guestAccess = guestAccess
        }

        func validate() throws {
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (1...100).contains(name.unicodeScalars.count), !trimmed.isEmpty else {
                throw ParleyError(.badRequest, "name must be 1 to 100 characters and not only whitespace")
            }
            guard kind != .direct else {
                throw ParleyError(.badRequest, "direct rooms are opened by sending a private message, not created")
            }
            if let topic, topic.unicodeScalars.count > 500 { throw ParleyError(.badRequest, "topic must be at most 500 characters") }
            if kind != .event, startsAt != nil || endsAt != nil {
                throw ParleyError(.badRequest, "startsAt and endsAt belong to event rooms")
            }
            if let s = startsAt, let e = endsAt, e <= s { throw ParleyError(.badRequest, "endsAt must be after startsAt") }
            if guestAccess != nil, kind != .event { throw ParleyError(.badRequest, "guestAccess belongs to event rooms") }
        }
    }

    /// A new room, and the other members it was created with (a group conversation).
    public struct Created: Sendable {
        public let room: Room
        public let record: RoomRecord
        public let members: [(user: UserRecord, membership: MembershipRecord)]
    }

    /// Creates a room; the creator becomes its owner, and the users of `memberIds`
    /// its members (each must exist, up to `MemberService.maxAdd`).
    public func create(_ input: NewRoom, by user: UserRecord) async throws -> Created {
        guard !user.isGuest else { throw ParleyError(.forbidden, "guests cannot create rooms") }
        try input.validate()
        let name = input.name.trimmingCharacters(in: .whitespacesAndNewlines)
        let others = try await MemberService.users(input.memberIds.filter { $0 != user.id.hex }, in: repos)
        var record = RoomRecord(
            name: name, kind: input.kind, topic: input.topic, isPrivate: input.isPrivate, createdBy: user.id,
            startsAt: input.startsAt, endsAt: input.endsAt)
        if input.kind == .event { record.guestAccess = input.guestAccess ?? false }
        record.memberCount = 1 + others.count
        try await repos.rooms.create(record)
        let membership = MembershipRecord(roomId: record.id, userId: user.id, startingAt: 0, role: .owner)
        _ = try await repos.memberships.join(membership)
        var added: [(UserRecord, MembershipRecord)] = []
        for other in others {
            let m = MembershipRecord(roomId: record.id, userId: other.id, startingAt: 0, addedBy: user.id)
            _ = try await repos.memberships.join(m)
            added.append((other, m))
        }
        return Created(room: Room(record, membership: membership), record: record, members: added)
    }

    /// The actor of a management action: `not_found` when the room is gone or hidden
    /// from the user (admins see every room).
    public func actor(_ roomId: ObjectId, user: UserRecord) async throws -> RoomActor {
        guard let room = try await repos.rooms.find(id: roomId) else { throw ParleyError(.notFound, "no such room") }
        let membership = try await repos.memberships.find(roomId: roomId, userId: user.id)
        guard membership != nil || room.isVisibleToNonMembers || user.role == .admin else { throw ParleyError(.notFound, "no such room") }
        return RoomActor(user: user, room: room, membership: membership)
    }

    /// The public rooms and the user's own rooms (of `kind`, when given), most recently
    /// active first, with the member fields on the user's own.
    public func rooms(for user: UserRecord, kind: RoomKind? = nil, limit: Int = 200) async throws -> [Room] {
        let memberships = try await repos.memberships.forUser(user.id)
        let mine = try await repos.rooms.find(ids: memberships.map(\.roomId))
        let byRoom = Dictionary(memberships.map { ($0.roomId, $0) }, uniquingKeysWith: { a, _ in a })
        let publicRooms = try await repos.rooms.listPublic(kind: kind, limit: limit)
        var seen = Set<ObjectId>()
        var all: [RoomRecord] = []
        for r in mine + publicRooms where seen.insert(r.id).inserted && (kind == nil || r.kind == kind) { all.append(r) }
        all.sort { ($0.lastMessageAt ?? $0.createdAt) > ($1.lastMessageAt ?? $1.createdAt) }
        let heads = try await heads(of: all)
        return all.map { Room($0, head: heads[$0.id], membership: byRoom[$0.id]) }
    }

    /// A room the user may see, with their membership if any; `not_found` otherwise.
    public func visibleRoom(_ roomId: ObjectId, for user: UserRecord) async throws -> (RoomRecord, MembershipRecord?) {
        guard let room = try await repos.rooms.find(id: roomId) else { throw ParleyError(.notFound, "no such room") }
        let membership = try await repos.memberships.find(roomId: roomId, userId: user.id)
        guard membership != nil || room.isVisibleToNonMembers else { throw ParleyError(.notFound, "no such room") }
        return (room, membership)
    }

    /// A room the user belongs to; `not_found` if they cannot see it, `forbidden` if
    /// they can but are not a member.
    public func memberRoom(_ roomId: ObjectId, for user: UserRecord) async throws -> (RoomRecord, MembershipRecord) {
        let (room, membership) = try await visibleRoom(roomId, for: user)
        guard let membership else { throw ParleyError(.forbidden, "you are not a member of this room") }
        return (room, membership)
    }

    /// The room's members as users, online state included.
    public func participants(of roomId: ObjectId) async throws -> [User] {
        let members = try await repos.memberships.forRoom(roomId, limit: RoomService.participantLimit)
        let users = try await repos.users.find(ids: members.map(\.userId))
        return users.sorted { $0.usernameLower < $1.usernameLower }.map { User($0, online: presence.isOnline($0.id)) }
    }

    /// Joins a visible group or event room. Joining twice is harmless. A new member
    /// starts with the room's history already delivered and read: their offline queue
    /// begins at the moment they joined.
    public func join(_ roomId: ObjectId, user: UserRecord) async throws -> (room: Room, newlyJoined: Bool) {
        let (room, existing) = try await visibleRoom(roomId, for: user)
        if let existing { return (try await view(room, membership: existing), false) }
        guard room.kind != .direct else { throw ParleyError(.forbidden, "direct conversations cannot be joined") }
        if user.isGuest, !room.admitsGuests { throw ParleyError(.forbidden, "this room does not let guests in") }
        if try await repos.bans.active(roomId: roomId, userId: user.id) != nil { throw ParleyError(.forbidden, "you are banned from this room") }
        let membership = MembershipRecord(roomId: roomId, userId: user.id, startingAt: try await settledHead(of: room), updatesSeen: room.updateSeq)
        let inserted = try await repos.memberships.join(membership)
        if inserted { try await repos.rooms.adjustMemberCount(id: roomId, by: 1) }
        let fresh = try await repos.rooms.find(id: roomId) ?? room
        let mine = try await repos.memberships.find(roomId: roomId, userId: user.id) ?? membership
        return (try await view(fresh, membership: mine), inserted)
    }

    /// The direct room of `user` with the user whose id is `otherId` (a string from the
    /// client), opened on first use. `not_found` for an unknown or disabled user,
    /// `bad_request` for oneself. Returns the room and the other user.
    public func directRoom(from user: UserRecord, to otherId: String) async throws -> (room: RoomRecord, other: UserRecord, created: Bool) {
        guard let id = ObjectId(otherId), let other = try await repos.users.find(id: id), !other.disabled else {
            throw ParleyError(.notFound, "no such user")
        }
        guard other.id != user.id else { throw ParleyError(.badRequest, "a private message needs another user") }
        guard !user.isGuest, !other.isGuest else { throw ParleyError(.forbidden, "guests send and receive no private messages") }
        let (room, created) = try await openDirectRoom(between: user, and: other)
        return (room, other, created)
    }

    /// The direct room of two users, created (with both as members) when `create` is
    /// set and it does not exist yet. Two concurrent creations yield one room.
    public func directRoom(between a: UserRecord, and b: UserRecord, create: Bool) async throws -> RoomRecord? {
        if !create { return try await repos.rooms.findDirect(key: RoomRecord.directKey(a.id, b.id)) }
        return try await openDirectRoom(between: a, and: b).room
    }

    /// The direct room of two users, and whether this call made it.
    public func openDirectRoom(between a: UserRecord, and b: UserRecord) async throws -> (room: RoomRecord, created: Bool) {
        let key = RoomRecord.directKey(a.id, b.id)
        if let existing = try await repos.rooms.findDirect(key: key) { return (existing, false) }
        guard a.id != b.id else { throw ParleyError(.badRequest, "a direct conversation needs two different users") }
        let names = [a.username, b.username].sorted()
        var record = RoomRecord(name: names.joined(separator: ", "), kind: .direct, isPrivate: true, createdBy: a.id, directKey: key)
        record.memberCount = 2
        do {
            try await repos.rooms.create(record)
        } catch let e as ParleyError where e.code == .conflict {
            if let existing = try await repos.rooms.findDirect(key: key) { return (existing, false) }
            throw e
        }
        _ = try await repos.memberships.join(MembershipRecord(roomId: record.id, userId: a.id, startingAt: 0))
        _ = try await repos.memberships.join(MembershipRecord(roomId: record.id, userId: b.id, startingAt: 0))
        return (record, true)
    }
}
