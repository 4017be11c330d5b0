import Foundation
import Mongo

/// A room member on the wire: `{user, role, joinedAt, mutedUntil}`.
public struct Member: Codable, Sendable, Equatable {
    public var user: User
    public var role: RoomRole
    public var joinedAt: Date
    public var mutedUntil: Date?

    public init(_ m: MembershipRecord, user: User) {
        self.user = user
        role = m.roomRole
        joinedAt = m.joinedAt
        mutedUntil = m.muted()
    }

    /// Writes `mutedUntil: null` rather than omitting it: the contract's shape is fixed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(user, forKey: .user)
        try c.encode(role, forKey: .role)
        try c.encode(joinedAt, forKey: .joinedAt)
        try c.encode(mutedUntil, forKey: .mutedUntil)
    }
}

/// A ban as stored in `bans` and as `GET /api/rooms/:roomId/bans` lists it.
public struct BanRecord: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var roomId: ObjectId
    public var userId: ObjectId
    public var by: ObjectId
    public var at: Date
    /// The ban ends then (`indefinitely` without an end); the TTL index removes it after.
    public var until: Date
    public var reason: String?

    enum CodingKeys: String, CodingKey { case id = "_id", roomId, userId, by, at, until, reason }

    public init(roomId: ObjectId, userId: ObjectId, by: ObjectId, until: Date?, reason: String?, at: Date = Date()) {
        id = ObjectId()
        self.roomId = roomId
        self.userId = userId
        self.by = by
        self.at = at.bsonPrecision
        self.until = (until ?? indefinitely).bsonPrecision
        self.reason = reason
    }

    public func isActive(at now: Date = Date()) -> Bool { until > now }
}

/// A ban on the wire: `{userId, by, at, until, reason}` (`until` null when indefinite).
public struct Ban: Encodable, Sendable {
    public let userId: String
    public let by: String
    public let at: Date
    public let until: Date?
    public let reason: String?

    public init(_ b: BanRecord) {
        userId = b.userId.hex
        by = b.by.hex
        at = b.at
        until = b.until >= indefinitely.addingTimeInterval(-1) ? nil : b.until
        reason = b.reason
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(userId, forKey: .userId)
        try c.encode(by, forKey: .by)
        try c.encode(at, forKey: .at)
        try c.encode(until, forKey: .until)
        try c.encode(reason, forKey: .reason)
    }
    enum CodingKeys: String, CodingKey { case userId, by, at, until, reason }
}
