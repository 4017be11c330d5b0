import Foundation
import Mongo

/// A room's settings (name, topic, private, archived, guestAccess) and its deletion.
/// Moderators rename and retopic; owners (and admins) change visibility, archive and
/// guest access; owners and admins delete.
public struct RoomSettingsService: Sendable {
    public let members: MemberService
    var repos: ParleyRepositories { members.repos }

    public init(members: MemberService) { self.members = members }

    /// What `PATCH /api/rooms/:roomId` and `room:update` may change; nil leaves a field.
    public struct Patch: Sendable {
        public var name: String?
        public var topic: String??
        public var isPrivate: Bool?
        public var archived: Bool?
        public var guestAccess: Bool?

        public init(name: String? = nil, topic: String?? = nil, isPrivate: Bool? = nil, archived: Bool? = nil, guestAccess: Bool? = nil) {
            self.name = name
            self.topic = topic
            self.isPrivate = isPrivate
            self.archived = archived
            self.guestAccess = guestAccess
        }

        var isEmpty: Bool { name == nil && topic == nil && isPrivate == nil && archived == nil && guestAccess == nil }
    }

    /// Applies the patch; returns the room after (unchanged when nothing differs).
    public func update(_ actor: RoomActor, _ patch: Patch) async throws -> RoomRecord {
        try actor.requireManageable()
        guard !patch.isEmpty else { throw ParleyError(.badRequest, "nothing to change: give name, topic, private, archived or guestAccess") }
        let room = actor.room
        var set: BSONDocument = [:]
        var unset = false
        if let name = patch.name {
            try actor.require(.moderator, to: "rename the room")
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (1...100).contains(name.unicodeScalars.count), !trimmed.isEmpty else {
                throw ParleyError(.badRequest, "name must be 1 to 100 characters and not only whitespace")
            }
            if trimmed != room.name { set["name"] = .string(trimmed) }
        }
        if let topic = patch.topic {
            try actor.require(.moderator, to: "change the topic")
            if let t = topic, t.unicodeScalars.count > 500 { throw ParleyError(.badRequest, "topic must be at most 500 characters") }
            if topic != room.topic {
                if let t = topic { set["topic"] = .string(t) } else { unset = true }
            }
        }
        if let p = patch.isPrivate {
            try actor.require(.owner, to: "make the room private or public")
            if p != room.isPrivate { set["private"] = .bool(p) }
        }
        if let g = patch.guestAccess {
            try actor.require(.owner, to: "change guest access")
            guard room.kind == .event else { throw ParleyError(.badRequest, "guestAccess belongs to event rooms") }
            if g != (room.guestAccess ?? false) { set["guestAccess"] = .bool(g) }
        }
        if let a = patch.archived {
            try actor.require(.owner, to: "archive the room")
            if a != room.isArchived { set["archived"] = .bool(a) }
        }
        // An archived room takes no change but its unarchiving.
        if room.isArchived && patch.archived != false && (!set.isEmpty || unset) { try actor.requireNotArchived() }
        guard !set.isEmpty || unset else { return room }
        var updated = room
        if !set.isEmpty { updated = try await repos.rooms.update(id: room.id, set: set) ?? room }
        if unset { updated = try await repos.rooms.clearTopic(id: room.id) ?? updated }
        let action: AuditAction = set["archived"] == .bool(true) ? .roomArchived : set["archived"] == .bool(false) ? .roomUnarchived : .roomUpdated
        var details = set
        if unset { details["topic"] = .null }
        try await members.audit.record(action, room: room.id, by: actor.user.id, details: details)
        return updated
    }

    /// Deletes the room with its memberships, bans and invites (its messages go with
    /// `purge`, once no node delivers the room any more). Returns who were members.
    public func delete(_ actor: RoomActor) async throws -> [ObjectId] {
        if actor.room.kind == .direct, !actor.isAdmin { throw ParleyError(.badRequest, "direct conversations cannot be deleted") }
        try actor.require(.owner, to: "delete the room")
        let memberIds = try await repos.memberships.userIds(roomId: actor.room.id)
        guard try await repos.rooms.delete(id: actor.room.id) else { throw ParleyError(.notFound, "no such room") }
        try await repos.memberships.removeAll(roomId: actor.room.id)
        try await repos.bans.removeAll(roomId: actor.room.id)
        try await repos.invites.removeAll(roomId: actor.room.id)
        try await members.audit.record(.roomDeleted, room: actor.room.id, by: actor.user.id, details: ["name": .string(actor.room.name)])
        return memberIds
    }

    /// The deleted room's messages (after the nodes dropped its subscriptions, so no
    /// send already past its membership check lands after the purge unseen).
    public func purge(_ roomId: ObjectId) async throws { try await repos.messages.removeAll(roomId: roomId) }
}
