import Foundation
import Mongo

/// Members of a room and their roles: add, remove (kick), leave, change a role, list.
/// The rules of the contract: moderators and owners add and remove members of lower
/// role; only owners change roles; a room always keeps an owner. That last rule holds
/// under concurrency through the room's `ownerCount`: an owner is taken off it with
/// a conditional `$inc` (only while another remains) before their role changes, so
/// of two owners demoting each other at once, one is refused.
public struct MemberService: Sendable {
    public let rooms: RoomService
    public let audit: AuditLog
    var repos: ParleyRepositories { rooms.repos }

    /// The most user ids one add takes.
    public static let maxAdd = 100

    public init(rooms: RoomService, audit: AuditLog) {
        self.rooms = rooms
        self.audit = audit
    }

    /// A page of members in user id order, with their users.
    public func list(_ actor: RoomActor, after: String?, limit: Int?) async throws -> (members: [Member], hasMore: Bool) {
        guard actor.membership != nil || actor.room.isVisibleToNonMembers || actor.isAdmin else { throw ParleyError(.notFound, "no such room") }
        let n = try Paging.limit(limit, default: 100, max: 500)
        var cursor: ObjectId?
        if let after {
            guard let id = ObjectId(after) else { throw ParleyError(.badRequest, "after must be a user id") }
            cursor = id
        }
        let page = try await repos.memberships.page(roomId: actor.room.id, after: cursor, limit: n + 1)
        let shown = Array(page.prefix(n))
        let users = Dictionary(try await repos.users.find(ids: shown.map(\.userId)).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let members = shown.compactMap { m in users[m.userId].map { Member(m, user: User($0, online: rooms.presence.isOnline($0.id))) } }
        return (members, page.count > n)
    }

    /// Adds users to the room (the only door into a private room besides invites).
    /// Returns the users newly added (members already are skipped) and their memberships.
    public func add(_ actor: RoomActor, userIds: [String], role: RoomRole = .member) async throws -> [(user: UserRecord, membership: MembershipRecord)] {
        try actor.requireManageable()
        try actor.require(.moderator, to: "add members")
        try actor.requireNotArchived()
        if role > .member { try actor.require(.owner, to: "add members as \(role.rawValue)") }
        let users = try await resolveUsers(userIds)
        for u in users {
            if try await repos.bans.active(roomId: actor.room.id, userId: u.id) != nil {
                throw ParleyError(.forbidden, "\(u.username) is banned from this room; unban them first")
            }
        }
        let head = try await rooms.settledHead(of: actor.room)
        var added: [(UserRecord, MembershipRecord)] = []
        for u in users {
            let m = MembershipRecord(roomId: actor.room.id, userId: u.id, startingAt: head, role: role, addedBy: actor.user.id, updatesSeen: actor.room.updateSeq)
            guard try await repos.memberships.join(m) else { continue }
            try await repos.rooms.adjustMemberCount(id: actor.room.id, by: 1)
            if role == .owner { try await repos.rooms.addOwners(id: actor.room.id, 1) }
            try await audit.record(.memberAdded, room: actor.room.id, by: actor.user.id, target: u.id, details: ["role": .string(role.rawValue)])
            added.append((u, m))
        }
        return added
    }

    /// Removes a member of lower role than the actor (yourself: `leave`). Returns the
    /// removed membership.
    public func remove(_ actor: RoomActor, userId: String, reason: String?) async throws -> MembershipRecord {
        try actor.requireManageable()
        let reason = try Paging.reason(reason)
        guard let targetId = ObjectId(userId) else { throw ParleyError(.notFound, "no such member") }
        try actor.require(.moderator, to: "remove members")
        guard let target = try await repos.memberships.find(roomId: actor.room.id, userId: targetId) else {
            throw ParleyError(.notFound, "no such member")
        }
        try actor.requireAbove(target.roomRole, to: "remove")
        let removed = try await take(target, from: actor.room)
        try await audit.record(.memberRemoved, room: actor.room.id, by: actor.user.id, target: targetId, reason: reason)
        return removed
    }

    /// The user leaves the room. An owner leaves once another owner remains (hand
    /// over first), or as its last member. Returns the membership ended, nil when the
    /// user was not a member (harmless).
    public func leave(_ roomId: ObjectId, user: UserRecord) async throws -> MembershipRecord? {
        let (room, membership) = try await rooms.visibleRoom(roomId, for: user)
        guard let membership else { return nil }
        guard room.kind != .direct else { throw ParleyError(.badRequest, "direct conversations cannot be left") }
        do {
            return try await take(membership, from: room)
        } catch let e as ParleyError where e.code == .conflict && membership.roomRole == .owner {
            // The only owner: free to go as the last member, otherwise hand over first.
            let others = try await repos.memberships.page(roomId: roomId, after: nil, limit: 2).filter { $0.userId != user.id }
            guard others.isEmpty else {
                throw ParleyError(.conflict, "you are this room's only owner: make another member owner before leaving")
            }
            guard let gone = try await repos.memberships.remove(roomId: roomId, userId: user.id) else { return nil }
            try await repos.rooms.adjustMemberCount(id: roomId, by: -1)
            try await repos.rooms.addOwners(id: roomId, -1)
            return gone
        }
    }

    /// Changes a member's role (owners only; admins too). Demoting the last owner is
    /// refused with `conflict`.
    public func setRole(_ actor: RoomActor, userId: String, role: RoomRole) async throws -> MembershipRecord {
        try actor.requireManageable()
        try actor.require(.owner, to: "change roles")
        guard let targetId = ObjectId(userId), let target = try await repos.memberships.find(roomId: actor.room.id, userId: targetId) else {
            throw ParleyError(.notFound, "no such member")
        }
        let from = target.roomRole
        guard from != role else { return target }
        if from == .owner {
            guard try await repos.rooms.releaseOwner(id: actor.room.id) else {
                throw ParleyError(.conflict, "a room keeps at least one owner: make another member owner first")
            }
        }
        guard let changed = try await repos.memberships.setRole(roomId: actor.room.id, userId: targetId, to: role, from: from) else {
            if from == .owner { try await repos.rooms.addOwners(id: actor.room.id, 1) }
            throw ParleyError(.conflict, "the member's role changed or they left meanwhile; try again")
        }
        if role == .owner { try await repos.rooms.addOwners(id: actor.room.id, 1) }
        try await audit.record(.roleChanged, room: actor.room.id, by: actor.user.id, target: targetId, details: ["from": .string(from.rawValue), "role": .string(role.rawValue)])
        return changed
    }

    /// Ends a membership, keeping the counts: an owner is released from `ownerCount`
    /// first (`conflict` when they are the last one). Used by removals, bans and leaves.
    func take(_ m: MembershipRecord, from room: RoomRecord) async throws -> MembershipRecord {
        let wasOwner = m.roomRole == .owner
        if wasOwner {
            guard try await repos.rooms.releaseOwner(id: room.id) else {
                throw ParleyError(.conflict, "a room keeps at least one owner: make another member owner first")
            }
        }
        guard let gone = try await repos.memberships.remove(roomId: room.id, userId: m.userId) else {
            if wasOwner { try await repos.rooms.addOwners(id: room.id, 1) }
            throw ParleyError(.notFound, "no such member")
        }
        try await repos.rooms.adjustMemberCount(id: room.id, by: -1)
        return gone
    }

    /// The users named by these ids: each must exist and be enabled (`not_found`).
    func resolveUsers(_ ids: [String]) async throws -> [UserRecord] {
        guard !ids.isEmpty else { throw ParleyError(.badRequest, "userIds must hold 1 to \(MemberService.maxAdd) user ids") }
        return try await MemberService.users(ids, in: repos)
    }

    /// `resolveUsers` for any caller; an empty list is fine here.
    static func users(_ ids: [String], in repos: ParleyRepositories) async throws -> [UserRecord] {
        guard ids.count <= MemberService.maxAdd else { throw ParleyError(.badRequest, "at most \(MemberService.maxAdd) user ids at once") }
        var parsed: [ObjectId] = []
        for s in ids {
            guard let id = ObjectId(s) else { throw ParleyError(.notFound, "no such user: \(s.prefix(24))") }
            if !parsed.contains(id) { parsed.append(id) }
        }
        let found = Dictionary(try await repos.users.find(ids: parsed).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return try parsed.map { id in
            guard let u = found[id], !u.disabled else { throw ParleyError(.notFound, "no such user: \(id.hex)") }
            return u
        }
    }
}
