import Foundation
import Mongo
import ParleyCore

/// Every room and member change of the contract as one call each, shared by REST and
/// the sockets: the rule check and the stored change (`ParleyCore`'s room services),
/// then what live connections see (`MembershipEffects`). Each returns its reply's data.
struct RoomActions: Sendable {
    let services: ParleyServices

    private var effects: MembershipEffects { services.membershipEffects }

    struct RoomReply: Encodable, Sendable { let room: Room }

    struct MembersPage: Encodable, Sendable {
        let members: [Member]
        let hasMore: Bool
    }

    struct AddedReply: Encodable, Sendable {
        let room: Room
        let added: [String]
    }

    struct MemberReply: Encodable, Sendable { let member: Member }
    struct BansReply: Encodable, Sendable { let bans: [Ban] }
    struct InviteReply: Encodable, Sendable { let invite: Invite }
    struct InvitesReply: Encodable, Sendable { let invites: [Invite] }

    struct AuditPage: Encodable, Sendable {
        let entries: [AuditEntry]
        let hasMore: Bool
    }

    func create(_ input: CreateRoomInput, forcing kind: RoomKind? = nil, user: UserRecord) async throws -> Room {
        let created = try await services.rooms.create(try input.newRoom(forcing: kind), by: user)
        effects.created(created, by: user)
        // A public room is news to everyone (`room:created`; collagemedia's `rooms:new`).
        if created.record.isVisibleToNonMembers { services.notifier.roomCreated(Room(created.record)) }
        try await services.audit.record(
            .roomCreated, room: created.record.id, by: user.id, details: ["members": .int64(Int64(created.members.count + 1))])
        return created.room
    }

    func join(_ roomId: ObjectId, user: UserRecord) async throws -> Room {
        let joined = try await services.rooms.join(roomId, user: user)
        effects.joined(roomId, user: user, isNew: joined.newlyJoined)
        return joined.room
    }

    func leave(_ roomId: ObjectId, user: UserRecord) async throws {
        if try await services.members.leave(roomId, user: user) != nil { effects.left(roomId, userId: user.id) }
    }

    func update(_ roomId: ObjectId, _ patch: RoomSettingsService.Patch, user: UserRecord) async throws -> RoomReply {
        let actor = try await services.rooms.actor(roomId, user: user)
        let before = actor.room
        let after = try await services.roomSettings.update(actor, patch)
        let room = try await services.rooms.view(after, membership: actor.membership)
        if after != before { effects.updated(room) }
        return RoomReply(room: room)
    }

    func delete(_ roomId: ObjectId, user: UserRecord) async throws {
        let actor = try await services.rooms.actor(roomId, user: user)
        _ = try await services.roomSettings.delete(actor)
        effects.deleted(roomId)
        try await services.roomSettings.purge(roomId)
        try await services.uploads.roomDeleted(roomId)
    }

    func members(_ roomId: ObjectId, after: String?, limit: Int?, user: UserRecord) async throws -> MembersPage {
        let actor = try await services.rooms.actor(roomId, user: user)
        let page = try await services.members.list(actor, after: after, limit: limit)
        return MembersPage(members: page.members, hasMore: page.hasMore)
    }

    func addMembers(_ roomId: ObjectId, _ input: MembersAddInput, user: UserRecord) async throws -> AddedReply {
        let actor = try await services.rooms.actor(roomId, user: user)
        let role = try input.role.map(RoomRole.parse) ?? .member
        let added = try await services.members.add(actor, userIds: input.userIds, role: role)
        let fresh = try await services.repos.rooms.find(id: roomId) ?? actor.room
        for (member, membership) in added {
            effects.added(try await services.rooms.view(fresh, membership: membership), user: member, by: user.id)
        }
        return AddedReply(room: try await services.rooms.view(fresh, membership: actor.membership), added: added.map(\.user.id.hex))
    }

    /// Removes a member; the caller's own id is a leave.
    func removeMember(_ roomId: ObjectId, userId: String, reason: String?, user: UserRecord) async throws {
        // Checked first: removing oneself is leaving, which takes no reason, but a
        // reason over the limit is refused there too.
        let reason = try Paging.reason(reason)
        if userId == user.id.hex { return try await leave(roomId, user: user) }
        let actor = try await services.rooms.actor(roomId, user: user)
        let removed = try await services.members.remove(actor, userId: userId, reason: reason)
        effects.removed(roomId, userId: removed.userId, by: user.id, reason: reason, banned: false)
    }

    func setRole(_ roomId: ObjectId, userId: String, role: String, user: UserRecord) async throws -> MemberReply {
        let actor = try await services.rooms.actor(roomId, user: user)
        let changed = try await services.members.setRole(actor, userId: userId, role: try RoomRole.parse(role))
        effects.roleChanged(changed)
        return MemberReply(member: try await member(changed))
    }

    func ban(_ roomId: ObjectId, _ input: BanInput, user: UserRecord) async throws {
        let actor = try await services.rooms.actor(roomId, user: user)
        let banned = try await services.moderation.ban(actor, userId: input.userId, until: input.until, reason: input.reason)
        if let removed = banned.removed {
            effects.removed(roomId, userId: removed.userId, by: user.id, reason: banned.ban.reason, banned: true)
        }
    }

    func unban(_ roomId: ObjectId, userId: String, user: UserRecord) async throws {
        try await services.moderation.unban(try await services.rooms.actor(roomId, user: user), userId: userId)
    }

    func bans(_ roomId: ObjectId, user: UserRecord) async throws -> BansReply {
        BansReply(bans: try await services.moderation.bans(try await services.rooms.actor(roomId, user: user)))
    }

    func mute(_ roomId: ObjectId, _ input: MuteInput, user: UserRecord) async throws -> MemberReply {
        let m = try await services.moderation.mute(try await services.rooms.actor(roomId, user: user), userId: input.userId, until: input.until)
        effects.muteChanged(m)
        return MemberReply(member: try await member(m))
    }

    func unmute(_ roomId: ObjectId, userId: String, user: UserRecord) async throws -> MemberReply {
        let m = try await services.moderation.unmute(try await services.rooms.actor(roomId, user: user), userId: userId)
        effects.muteChanged(m)
        return MemberReply(member: try await member(m))
    }

    func createInvite(_ roomId: ObjectId, _ input: InviteInput, user: UserRecord) async throws -> InviteReply {
        let actor = try await services.rooms.actor(roomId, user: user)
        return InviteReply(invite: Invite(try await services.invites.create(actor, maxUses: input.maxUses, expiresInSeconds: input.expiresInSeconds)))
    }

    func invites(_ roomId: ObjectId, user: UserRecord) async throws -> InvitesReply {
        InvitesReply(invites: try await services.invites.list(try await services.rooms.actor(roomId, user: user)).map(Invite.init))
    }

    func acceptInvite(_ code: String, user: UserRecord) async throws -> RoomReply {
        let accepted = try await services.invites.accept(code: code, user: user)
        let fresh = try await services.repos.rooms.find(id: accepted.room.id) ?? accepted.room
        let room = try await services.rooms.view(fresh, membership: accepted.membership)
        if accepted.isNew { effects.added(room, user: user, by: nil) }
        return RoomReply(room: room)
    }

    func revokeInvite(_ code: String, user: UserRecord) async throws { try await services.invites.revoke(code: code, user: user) }

    func audit(_ roomId: ObjectId, before: String?, limit: Int?, user: UserRecord) async throws -> AuditPage {
        let page = try await services.audit.entries(of: try await services.rooms.actor(roomId, user: user), before: before, limit: limit)
        return AuditPage(entries: page.entries, hasMore: page.hasMore)
    }

    private func member(_ m: MembershipRecord) async throws -> Member {
        guard let u = try await services.repos.users.find(id: m.userId) else { throw ParleyError(.notFound, "no such user") }
        return Member(m, user: services.wire(u))
    }
}
