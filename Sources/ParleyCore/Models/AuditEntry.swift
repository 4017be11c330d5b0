import Foundation
import Mongo

/// What a moderation action or room change was, as the audit trail names it.
public enum AuditAction: String, Codable, Sendable, CaseIterable {
    case roomCreated = "room.created", roomUpdated = "room.updated", roomArchived = "room.archived", roomUnarchived = "room.unarchived"
    case roomDeleted = "room.deleted"
    case memberAdded = "member.added", memberRemoved = "member.removed", memberLeft = "member.left", roleChanged = "member.role"
    case banned = "member.banned", unbanned = "member.unbanned", muted = "member.muted", unmuted = "member.unmuted"
    case inviteCreated = "invite.created", inviteRevoked = "invite.revoked", inviteAccepted = "invite.accepted"
    case userDeleted = "user.deleted"
}

/// One entry of `audit`: who did what to which room and member, when, and why.
/// Kept `AUDIT_RETENTION_DAYS` (the TTL index on `expiresAt`).
public struct AuditRecord: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var roomId: ObjectId
    public var actorId: ObjectId?
    public var action: AuditAction
    public var targetId: ObjectId?
    public var reason: String?
    /// What changed, in short (`{"name": "new"}`, `{"role": "moderator"}`, `{"until": ...}`).
    public var details: BSONDocument?
    public var at: Date
    public var expiresAt: Date

    enum CodingKeys: String, CodingKey { case id = "_id", roomId, actorId, action, targetId, reason, details, at, expiresAt }

    public init(
        roomId: ObjectId, actorId: ObjectId?, action: AuditAction, targetId: ObjectId? = nil, reason: String? = nil, details: BSONDocument? = nil,
        retention: TimeInterval, at: Date = Date()
    ) {
        id = ObjectId()
        self.roomId = roomId
        self.actorId = actorId
        self.action = action
        self.targetId = targetId
        self.reason = reason
        self.details = details
        self.at = at.bsonPrecision
        self.expiresAt = at.addingTimeInterval(retention).bsonPrecision
    }
}

/// An audit entry on the wire: `{id, roomId, actorId, action, targetId, reason, details, at}`.
public struct AuditEntry: Encodable, Sendable {
    public let id: String
    public let roomId: String
    public let actorId: String?
    public let action: AuditAction
    public let targetId: String?
    public let reason: String?
    public let details: BSONDocument?
    public let at: Date

    public init(_ r: AuditRecord) {
        id = r.id.hex
        roomId = r.roomId.hex
        actorId = r.actorId?.hex
        action = r.action
        targetId = r.targetId?.hex
        reason = r.reason
        details = r.details
        at = r.at
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(roomId, forKey: .roomId)
        try c.encode(actorId, forKey: .actorId)
        try c.encode(action, forKey: .action)
        try c.encode(targetId, forKey: .targetId)
        try c.encode(reason, forKey: .reason)
        try c.encode(details, forKey: .details)
        try c.encode(at, forKey: .at)
    }
    enum CodingKeys: String, CodingKey { case id, roomId, actorId, action, targetId, reason, details, at }
}
