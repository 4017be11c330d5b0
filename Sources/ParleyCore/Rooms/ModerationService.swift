import Foundation
import Mongo

/// Bans and mutes. A ban removes the member and refuses their joins and invites
/// until it ends; a mute refuses their sends (`forbidden` with `mutedUntil`) until it
/// ends. Both act only on users of lower role than the moderator.
public struct ModerationService: Sendable {
    public let members: MemberService
    var repos: ParleyRepositories { members.repos }
    var audit: AuditLog { members.audit }

    public init(members: MemberService) { self.members = members }

    /// What a ban did: the membership it ended, if the user was a member.
    public struct Banned: Sendable {
        public let ban: BanRecord
        public let removed: MembershipRecord?
    }

    public func ban(_ actor: RoomActor, userId: String, until: Date?, reason: String?) async throws -> Banned {
        try actor.requireManageable()
        try actor.require(.moderator, to: "ban")
        let reason = try Paging.reason(reason)
        let until = try Paging.future(until, "until")
        guard let target = try await members.resolveUsers([userId]).first else { throw ParleyError(.notFound, "no such user") }
        guard target.id != actor.user.id else { throw ParleyError(.badRequest, "you cannot ban yourself") }
        let membership = try await repos.memberships.find(roomId: actor.room.id, userId: target.id)
        if let membership { try actor.requireAbove(membership.roomRole, to: "ban") }
        let ban = BanRecord(roomId: actor.room.id, userId: target.id, by: actor.user.id, until: until, reason: reason)
        // The ban first: from here on the user cannot come back in, whatever races.
        try await repos.bans.put(ban)
        var removed: MembershipRecord?
        if let membership {
            do {
                removed = try await members.take(membership, from: actor.room)
            } catch let e as ParleyError where e.code == .notFound {
                removed = nil  // they left meanwhile
            }
        }
        var details: BSONDocument = [:]
        if let until { details["until"] = .date(until) }
        try await audit.record(.banned, room: actor.room.id, by: actor.user.id, target: target.id, reason: reason, details: details)
        return Banned(ban: ban, removed: removed)
    }

    public func unban(_ actor: RoomActor, userId: String) async throws {
        try actor.requireManageable()
        try actor.require(.moderator, to: "unban")
        guard let id = ObjectId(userId), try await repos.bans.remove(roomId: actor.room.id, userId: id) else {
            throw ParleyError(.notFound, "that user is not banned here")
        }
        try await audit.record(.unbanned, room: actor.room.id, by: actor.user.id, target: id)
    }

    public func bans(_ actor: RoomActor) async throws -> [Ban] {
        try actor.require(.moderator, to: "see the bans")
        return try await repos.bans.list(roomId: actor.room.id).map(Ban.init)
    }

    /// Mutes a member until `until` (indefinitely without it). Returns the membership after.
    public func mute(_ actor: RoomActor, userId: String, until: Date?) async throws -> MembershipRecord {
        try actor.requireManageable()
        try actor.require(.moderator, to: "mute")
        let end = try Paging.future(until, "until") ?? indefinitely
        let target = try await member(actor, userId)
        guard target.userId != actor.user.id else { throw ParleyError(.badRequest, "you cannot mute yourself") }
        try actor.requireAbove(target.roomRole, to: "mute")
        guard let m = try await repos.memberships.setMute(roomId: actor.room.id, userId: target.userId, until: end.bsonPrecision) else {
            throw ParleyError(.notFound, "no such member")
        }
        try await audit.record(.muted, room: actor.room.id, by: actor.user.id, target: target.userId, details: until.map { ["until": .date($0)] })
        return m
    }

    public func unmute(_ actor: RoomActor, userId: String) async throws -> MembershipRecord {
        try actor.requireManageable()
        try actor.require(.moderator, to: "unmute")
        let target = try await member(actor, userId)
        try actor.requireAbove(target.roomRole, to: "unmute")
        guard let m = try await repos.memberships.setMute(roomId: actor.room.id, userId: target.userId, until: nil) else {
            throw ParleyError(.notFound, "no such member")
        }
        try await audit.record(.unmuted, room: actor.room.id, by: actor.user.id, target: target.userId)
        return m
    }

    private func member(_ actor: RoomActor, _ userId: String) async throws -> MembershipRecord {
        guard let id = ObjectId(userId), let m = try await repos.memberships.find(roomId: actor.room.id, userId: id) else {
            throw ParleyError(.notFound, "no such member")
        }
        return m
    }
}
