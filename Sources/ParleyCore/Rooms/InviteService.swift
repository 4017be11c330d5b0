import Foundation
import Mongo

/// Invite codes: made by moderators and owners, with an expiry and a use limit;
/// accepting one joins the room, private or not, unless the user is banned.
public struct InviteService: Sendable {
    public let members: MemberService
    var repos: ParleyRepositories { members.repos }

    /// Seven days unless asked otherwise; at most thirty.
    public static let defaultLifetime: TimeInterval = 7 * 86_400
    public static let maxLifetime = 30 * 86_400

    public init(members: MemberService) { self.members = members }

    public func create(_ actor: RoomActor, maxUses: Int?, expiresInSeconds: Int?, now: Date = Date()) async throws -> InviteRecord {
        try actor.requireManageable()
        try actor.require(.moderator, to: "invite")
        try actor.requireNotArchived()
        if let maxUses, !(1...10_000).contains(maxUses) { throw ParleyError(.badRequest, "maxUses must be 1 to 10000") }
        if let s = expiresInSeconds, !(60...InviteService.maxLifetime).contains(s) {
            throw ParleyError(.badRequest, "expiresInSeconds must be 60 to \(InviteService.maxLifetime)")
        }
        let lifetime = expiresInSeconds.map(TimeInterval.init) ?? InviteService.defaultLifetime
        let invite = InviteRecord(roomId: actor.room.id, createdBy: actor.user.id, expiresAt: now.addingTimeInterval(lifetime), maxUses: maxUses, now: now)
        try await repos.invites.create(invite)
        try await members.audit.record(
            .inviteCreated, room: actor.room.id, by: actor.user.id,
            details: ["code": .string(invite.code), "maxUses": maxUses.map { .int64(Int64($0)) } ?? .null, "expiresAt": .date(invite.expiresAt)])
        return invite
    }

    public func list(_ actor: RoomActor) async throws -> [InviteRecord] {
        try actor.require(.moderator, to: "see the invites")
        return try await repos.invites.list(roomId: actor.room.id)
    }

    /// Joins the user to the invite's room. A member already is answered with the room
    /// and uses nothing. Returns the room record and the new membership (nil: already
    /// a member).
    public func accept(code: String, user: UserRecord) async throws -> (room: RoomRecord, membership: MembershipRecord, isNew: Bool) {
        guard InviteRecord.isWellFormed(code), let invite = try await repos.invites.find(code: code), invite.expiresAt > Date() else {
            throw ParleyError(.notFound, "no such invite, or it has expired")
        }
        guard let room = try await repos.rooms.find(id: invite.roomId) else { throw ParleyError(.notFound, "no such invite, or it has expired") }
        if let existing = try await repos.memberships.find(roomId: room.id, userId: user.id) { return (room, existing, false) }
        if user.isGuest, !room.admitsGuests { throw ParleyError(.forbidden, "this room does not let guests in") }
        if try await repos.bans.active(roomId: room.id, userId: user.id) != nil { throw ParleyError(.forbidden, "you are banned from this room") }
        guard !room.isArchived else { throw ParleyError(.forbidden, "the room is archived (read-only)") }
        guard try await repos.invites.use(code: code) != nil else { throw ParleyError(.notFound, "the invite has expired or been used up") }
        let m = MembershipRecord(roomId: room.id, userId: user.id, startingAt: try await members.rooms.settledHead(of: room), addedBy: invite.createdBy, updatesSeen: room.updateSeq)
        guard try await repos.memberships.join(m) else {
            try await repos.invites.giveBack(code: code)
            return (room, try await repos.memberships.find(roomId: room.id, userId: user.id) ?? m, false)
        }
        try await repos.rooms.adjustMemberCount(id: room.id, by: 1)
        try await members.audit.record(.inviteAccepted, room: room.id, by: user.id, target: user.id, details: ["code": .string(code)])
        return (room, m, true)
    }

    /// Revokes an invite: its creator, or a moderator or owner of its room.
    public func revoke(code: String, user: UserRecord) async throws {
        guard InviteRecord.isWellFormed(code), let invite = try await repos.invites.find(code: code) else { throw ParleyError(.notFound, "no such invite") }
        if invite.createdBy != user.id {
            guard let actor = try? await members.rooms.actor(invite.roomId, user: user) else { throw ParleyError(.notFound, "no such invite") }
            try actor.require(.moderator, to: "revoke others' invites")
        }
        guard try await repos.invites.delete(code: code) else { throw ParleyError(.notFound, "no such invite") }
        try await members.audit.record(.inviteRevoked, room: invite.roomId, by: user.id, details: ["code": .string(code)])
    }
}
