import Foundation
import Mongo

/// Who is acting on a room, with the authority the contract gives them: their role
/// in it, and above every role, an admin (the user role), who may manage and delete
/// any room. Every management rule of `MemberService`, `ModerationService`,
/// `InviteService` and `RoomSettingsService` is a check on this value.
public struct RoomActor: Sendable {
    public let user: UserRecord
    public let room: RoomRecord
    public let membership: MembershipRecord?

    public var isAdmin: Bool { user.role == .admin }
    public var role: RoomRole? { membership?.roomRole }

    /// Higher acts on lower: member 0, moderator 1, owner 2, admin 3; -1 for a
    /// non-member.
    public var rank: Int { isAdmin ? 3 : (role?.rank ?? -1) }

    public init(user: UserRecord, room: RoomRecord, membership: MembershipRecord?) {
        self.user = user
        self.room = room
        self.membership = membership
    }

    /// `forbidden` unless the actor holds at least `role` (admins hold every role).
    public func require(_ role: RoomRole, to what: String) throws {
        guard rank >= role.rank else { throw ParleyError(.forbidden, "only \(RoomActor.holders(of: role)) may \(what)") }
    }

    /// `forbidden` unless the actor outranks a member of role `target`.
    public func requireAbove(_ target: RoomRole, to what: String) throws {
        guard rank > target.rank else { throw ParleyError(.forbidden, "you may not \(what) a member whose role is \(target.rawValue)") }
    }

    /// Rooms whose membership cannot be managed: a direct conversation has two fixed members.
    public func requireManageable() throws {
        guard room.kind != .direct else { throw ParleyError(.badRequest, "direct conversations have no members to manage") }
    }

    /// `forbidden` for an archived room's changes of content or membership.
    public func requireNotArchived() throws {
        guard !room.isArchived else { throw ParleyError(.forbidden, "the room is archived (read-only)") }
    }

    static func holders(of role: RoomRole) -> String {
        switch role {
        case .member: "members"
        case .moderator: "moderators and owners"
        case .owner: "owners"
        }
    }
}
