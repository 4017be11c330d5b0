import Foundation
import Mongo

/// What kind of room: a group, a live event (with optional times), or the direct
/// conversation of two users.
public enum RoomKind: String, Codable, Sendable, CaseIterable {
    case group, event, direct
}

/// A room as stored in `rooms`. `lastSeq` is a lower bound of the highest seq stored
/// in the room: seqs are taken by inserting the message (the unique `{roomId, seq}`
/// index arbitrates), and `lastSeq` is raised after, coalesced (`LastSeqRaiser`), so
/// readers that need the end of the room take `RoomService.heads(of:)`.
public struct RoomRecord: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var name: String
    public var kind: RoomKind
    public var topic: String?
    public var isPrivate: Bool
    public var createdBy: ObjectId
    public var createdAt: Date
    public var memberCount: Int
    public var lastSeq: Int
    public var startsAt: Date?
    public var endsAt: Date?
    /// For direct rooms only: the two user ids, sorted, joined by `:` (unique).
    public var directKey: String?
    public var lastMessageAt: Date?
    /// Read-only: history stays, sends are refused. Absent (rooms made before roles) is false.
    public var archived: Bool?
    /// Event rooms: guests may join (`POST /api/auth/guest`).
    public var guestAccess: Bool?
    /// How many members are owners; kept with `$inc` so that no two concurrent
    /// demotions or departures can leave a room without one (`MemberService`).
    public var ownerCount: Int?
    /// The latest message as last recorded (raised with `lastSeq`, so it may trail it
    /// as `lastSeq` does; edits and deletes of it replace it).
    public var lastMessage: MessageRecord?
    public var lastMessageSeq: Int?
    /// Counts the changes to the room's stored messages (edits, deletes, reactions,
    /// pins, thread replies): each changed message records the value (`useq`).
    public var updateSeq: Int?

    enum CodingKeys: String, CodingKey {
        case id = "_id", name, kind, topic, isPrivate = "private", createdBy, createdAt, memberCount, lastSeq, startsAt, endsAt, directKey,
            lastMessageAt, archived, guestAccess, ownerCount, lastMessage, lastMessageSeq, updateSeq
    }

    public var isArchived: Bool { archived ?? false }

    public init(
        id: ObjectId = ObjectId(), name: String, kind: RoomKind, topic: String? = nil, isPrivate: Bool = false, createdBy: ObjectId,
        createdAt: Date = Date(), startsAt: Date? = nil, endsAt: Date? = nil, directKey: String? = nil
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.topic = topic
        self.isPrivate = isPrivate
        self.createdBy = createdBy
        self.createdAt = createdAt.bsonPrecision
        self.memberCount = 0
        self.lastSeq = 0
        self.startsAt = startsAt?.bsonPrecision
        self.endsAt = endsAt?.bsonPrecision
        self.directKey = directKey
        self.lastMessageAt = nil
        self.archived = false
        self.guestAccess = kind == .event ? false : nil
        self.ownerCount = kind == .direct ? 0 : 1
    }

    /// The key of the direct room of two users, the same whichever of them asks.
    public static func directKey(_ a: ObjectId, _ b: ObjectId) -> String {
        a < b ? "\(a.hex):\(b.hex)" : "\(b.hex):\(a.hex)"
    }

    /// Whether a user who is not a member may see the room at all. Private and
    /// direct rooms are invisible to non-members.
    public var isVisibleToNonMembers: Bool { !isPrivate && kind != .direct }
    /// Whether guests may join: a public event room that allows them.
    public var admitsGuests: Bool { kind == .event && !isPrivate && guestAccess == true }
}

/// A user's membership of a room, with the delivery cursors of the contract.
public struct MembershipRecord: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var roomId: ObjectId
    public var userId: ObjectId
    /// Every message with `seq <= deliveredSeq` has reached one of the user's devices.
    public var deliveredSeq: Int
    /// Every message with `seq <= readSeq` has been read. Never above `deliveredSeq`.
    public var readSeq: Int
    public var joinedAt: Date
    /// The member's role in the room; absent only before migration 0004 (a member).
    public var role: RoomRole?
    /// Sends are refused until then (`indefinitely` for a mute without end).
    public var mutedUntil: Date?
    /// Who added the member (nil: they joined, or created the room).
    public var addedBy: ObjectId?
    /// The seqs of messages that mention the member, unread: `unreadMentions` counts
    /// those above `readSeq` (the latest 100 kept).
    public var mentionSeqs: [Int]?
    /// The room's update sequence up to which this member's devices have seen the
    /// changes (`message:updated`), advanced by the client's acknowledgement.
    public var updatesSeen: Int?

    enum CodingKeys: String, CodingKey {
        case id = "_id", roomId, userId, deliveredSeq, readSeq, joinedAt, role, mutedUntil, addedBy, mentionSeqs, updatesSeen
    }

    public var unreadMentions: Int { (mentionSeqs ?? []).filter { $0 > readSeq }.count }

    /// - Parameter updatesSeen: the room's update sequence now: a new member is owed
    ///   no changes made before they came.
    public init(
        roomId: ObjectId, userId: ObjectId, startingAt seq: Int, joinedAt: Date = Date(), role: RoomRole = .member, addedBy: ObjectId? = nil,
        updatesSeen: Int? = nil
    ) {
        id = ObjectId()
        self.roomId = roomId
        self.userId = userId
        deliveredSeq = seq
        readSeq = seq
        self.joinedAt = joinedAt.bsonPrecision
        self.role = role
        self.mutedUntil = nil
        self.addedBy = addedBy
        self.updatesSeen = updatesSeen
    }

    public var roomRole: RoomRole { role ?? .member }

    /// The end of a mute still running at `now`, nil when not muted.
    public func muted(at now: Date = Date()) -> Date? {
        guard let until = mutedUntil, until > now else { return nil }
        return until
    }
}

/// A room on the wire. The member fields (`readSeq`, `deliveredSeq`, `unread`) are
/// present for the calling member only; nil fields are written as `null`.
public struct Room: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var kind: RoomKind
    public var topic: String?
    public var isPrivate: Bool
    public var createdBy: String
    public var createdAt: Date
    public var memberCount: Int
    public var lastSeq: Int
    public var startsAt: Date?
    public var endsAt: Date?
    public var archived: Bool
    public var guestAccess: Bool?
    public var readSeq: Int?
    public var deliveredSeq: Int?
    public var unread: Int?
    public var role: RoomRole?
    public var mutedUntil: Date?
    public var unreadMentions: Int?
    public var lastMessage: Message?
    /// The room's update sequence, for the flush's `sync:done` (not written in the room).
    public var updateSeq: Int?

    enum CodingKeys: String, CodingKey {
        case id, name, kind, topic, isPrivate = "private", createdBy, createdAt, memberCount, lastSeq, startsAt, endsAt, archived, guestAccess,
            readSeq, deliveredSeq, unread, role, mutedUntil, unreadMentions, lastMessage
    }

    /// - Parameter head: the room's highest seq as the answering node knows it
    ///   (`RoomService.heads`), which is what the wire's `lastSeq` means; the stored
    ///   `RoomRecord.lastSeq` may trail it.
    public init(_ r: RoomRecord, head: Int? = nil, membership: MembershipRecord? = nil) {
        let lastSeq = max(r.lastSeq, head ?? 0)
        id = r.id.hex
        name = r.name
        kind = r.kind
        topic = r.topic
        isPrivate = r.isPrivate
        createdBy = r.createdBy.hex
        createdAt = r.createdAt
        memberCount = r.memberCount
        self.lastSeq = lastSeq
        startsAt = r.startsAt
        endsAt = r.endsAt
        archived = r.isArchived
        guestAccess = r.kind == .event ? (r.guestAccess ?? false) : nil
        lastMessage = r.lastMessage.map(Message.init)
        updateSeq = (r.updateSeq ?? 0) > 0 ? r.updateSeq : nil
        if let m = membership {
            readSeq = m.readSeq
            deliveredSeq = m.deliveredSeq
            unread = max(0, lastSeq - m.readSeq)
            role = m.roomRole
            mutedUntil = m.muted()
            unreadMentions = m.unreadMentions
        }
    }

    /// The room without the calling member's fields: what `room:updated` sends to
    /// every member alike.
    public var shared: Room {
        var r = self
        (r.readSeq, r.deliveredSeq, r.unread, r.role, r.mutedUntil, r.unreadMentions) = (nil, nil, nil, nil, nil, nil)
        return r
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(kind, forKey: .kind)
        try c.encode(topic, forKey: .topic)
        try c.encode(isPrivate, forKey: .isPrivate)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(memberCount, forKey: .memberCount)
        try c.encode(lastSeq, forKey: .lastSeq)
        try c.encode(archived, forKey: .archived)
        try c.encode(lastMessage, forKey: .lastMessage)
        if kind == .event {
            try c.encode(startsAt, forKey: .startsAt)
            try c.encode(endsAt, forKey: .endsAt)
            try c.encode(guestAccess ?? false, forKey: .guestAccess)
        }
        try c.encodeIfPresent(readSeq, forKey: .readSeq)
        try c.encodeIfPresent(deliveredSeq, forKey: .deliveredSeq)
        try c.encodeIfPresent(unread, forKey: .unread)
        if let role {
            try c.encode(role, forKey: .role)
            try c.encode(mutedUntil, forKey: .mutedUntil)
            try c.encode(unreadMentions ?? 0, forKey: .unreadMentions)
        }
    }
}
