import Foundation
import Mongo

/// Writes and reads the audit trail: every moderation action and room change, kept
/// `AUDIT_RETENTION_DAYS`. Readable by the room's owners and by admins.
public struct AuditLog: Sendable {
    public let repository: AuditRepository
    public let retention: TimeInterval

    public init(repository: AuditRepository, retentionDays: Int) {
        self.repository = repository
        retention = TimeInterval(retentionDays) * 86_400
    }

    /// Appends one entry, after the change it records is stored.
    public func record(
        _ action: AuditAction, room: ObjectId, by actor: ObjectId?, target: ObjectId? = nil, reason: String? = nil, details: BSONDocument? = nil
    ) async throws {
        try await repository.append(
            AuditRecord(roomId: room, actorId: actor, action: action, targetId: target, reason: reason, details: details, retention: retention))
    }

    /// A page of a room's trail, newest first, for its owners and admins.
    public func entries(of actor: RoomActor, before: String?, limit: Int?) async throws -> (entries: [AuditEntry], hasMore: Bool) {
        try actor.require(.owner, to: "read the audit trail")
        let n = try Paging.limit(limit, default: 50, max: 200)
        var cursor: ObjectId?
        if let before {
            guard let id = ObjectId(before) else { throw ParleyError(.badRequest, "before must be an audit entry id") }
            cursor = id
        }
        let found = try await repository.list(roomId: actor.room.id, before: cursor, limit: n + 1)
        return (found.prefix(n).map(AuditEntry.init), found.count > n)
    }
}

/// Page sizes of the list endpoints.
public enum Paging {
    /// `limit` checked against 1...max, `fallback` when absent.
    public static func limit(_ limit: Int?, default fallback: Int, max: Int) throws -> Int {
        guard let limit else { return fallback }
        guard (1...max).contains(limit) else { throw ParleyError(.badRequest, "limit must be 1 to \(max)") }
        return limit
    }

    /// A free-text reason: at most 500 characters, blank counts as none.
    public static func reason(_ reason: String?) throws -> String? {
        guard let r = reason?.trimmingCharacters(in: .whitespacesAndNewlines), !r.isEmpty else { return nil }
        guard r.unicodeScalars.count <= 500 else { throw ParleyError(.badRequest, "reason must be at most 500 characters") }
        return r
    }

    /// An optional end time, which must lie ahead.
    public static func future(_ date: Date?, _ field: String, now: Date = Date()) throws -> Date? {
        guard let date else { return nil }
        guard date > now else { throw ParleyError(.badRequest, "\(field) must be in the future") }
        return date
    }
}
