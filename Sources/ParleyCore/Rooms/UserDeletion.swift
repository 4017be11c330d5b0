import Foundation
import Mongo

/// Deletes a user and keeps every room consistent: each membership goes (counts
/// kept), a room left without an owner gets its longest-standing member as owner,
/// the user's messages stay in history under an anonymous sender name, and the user
/// document goes (the username is free again). Each room's trail records it.
public struct UserDeletion: Sendable {
    public let members: MemberService
    var repos: ParleyRepositories { members.repos }

    /// The sender name a deleted user's messages keep.
    public static let anonymousName = "Deleted user"

    public init(members: MemberService) { self.members = members }

    /// What the deletion changed, for the live connections: the rooms the user left,
    /// and in each the member made owner, if any.
    public struct Outcome: Sendable {
        public let user: UserRecord
        public let rooms: [(room: ObjectId, newOwner: MembershipRecord?)]
        public let messagesRenamed: Int
    }

    public func delete(username: String, by actor: ObjectId?) async throws -> Outcome {
        guard let user = try await repos.users.find(username: username) else { throw ParleyError(.notFound, "no such user: \(username)") }
        var rooms: [(ObjectId, MembershipRecord?)] = []
        for m in try await repos.memberships.forUser(user.id) {
            var promoted: MembershipRecord?
            if m.roomRole == .owner, try await !repos.rooms.releaseOwner(id: m.roomId) {
                // The only owner: hand the room to its longest-standing other member.
                let others = try await repos.memberships.forRoom(m.roomId, limit: 1000).filter { $0.userId != user.id }
                if let heir = others.min(by: { $0.joinedAt < $1.joinedAt }) {
                    promoted = try await repos.memberships.setRole(roomId: m.roomId, userId: heir.userId, to: .owner, from: heir.roomRole)
                }
                if promoted == nil { try await repos.rooms.addOwners(id: m.roomId, -1) }
            }
            if try await repos.memberships.remove(roomId: m.roomId, userId: user.id) != nil {
                try await repos.rooms.adjustMemberCount(id: m.roomId, by: -1)
            }
            try await members.audit.record(.userDeleted, room: m.roomId, by: actor, target: user.id, details: ["username": .string(user.username)])
            if let promoted {
                try await members.audit.record(.roleChanged, room: m.roomId, by: actor, target: promoted.userId, details: ["role": "owner"])
            }
            rooms.append((m.roomId, promoted))
        }
        let renamed = try await repos.messages.renameSender(user.id, to: UserDeletion.anonymousName)
        _ = try await repos.users.delete(id: user.id)
        return Outcome(user: user, rooms: rooms, messagesRenamed: renamed)
    }
}
