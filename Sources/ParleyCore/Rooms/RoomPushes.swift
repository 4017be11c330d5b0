import Foundation

/// The data of the room and member pushes of the contract (`room:added`,
/// `room:removed`, `room:updated`, `room:deleted`, `room:role`, `room:muted`,
/// `room:unmuted`), shared by the server and `parleyctl`, which tells the nodes of
/// its own changes with the same pushes.
public enum RoomPushes {
    /// `room:added {room}` and `room:updated {room}`.
    public struct RoomData: Encodable, Sendable {
        public let room: Room
        public init(room: Room) { self.room = room }
    }

    /// `room:removed {roomId, by, reason, banned}`: to the removed user's connections.
    public struct Removed: Encodable, Sendable {
        public let roomId: String
        public let by: String?
        public let reason: String?
        public let banned: Bool

        public init(roomId: String, by: String?, reason: String?, banned: Bool) {
            self.roomId = roomId
            self.by = by
            self.reason = reason
            self.banned = banned
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(roomId, forKey: .roomId)
            try c.encode(by, forKey: .by)
            try c.encode(reason, forKey: .reason)
            try c.encode(banned, forKey: .banned)
        }
        enum CodingKeys: String, CodingKey { case roomId, by, reason, banned }
    }

    /// `room:user:joined {roomId, user, by?}`: `by` when someone added the user.
    public struct Joined: Encodable, Sendable {
        public let roomId: String
        public let user: User
        public let by: String?
        public init(roomId: String, user: User, by: String?) {
            self.roomId = roomId
            self.user = user
            self.by = by
        }
    }

    /// `room:user:left {roomId, userId, by?, reason?}`: `by` and `reason` only for a removal.
    public struct Left: Encodable, Sendable {
        public let roomId: String
        public let userId: String
        public var by: String?
        public var reason: String?

        public init(roomId: String, userId: String, by: String? = nil, reason: String? = nil) {
            self.roomId = roomId
            self.userId = userId
            self.by = by
            self.reason = reason
        }
    }

    /// `room:deleted {roomId}`.
    public struct Deleted: Encodable, Sendable {
        public let roomId: String
        public init(roomId: String) { self.roomId = roomId }
    }

    /// `room:role {roomId, userId, role}`.
    public struct RoleChanged: Encodable, Sendable {
        public let roomId: String
        public let userId: String
        public let role: RoomRole
        public init(roomId: String, userId: String, role: RoomRole) {
            self.roomId = roomId
            self.userId = userId
            self.role = role
        }
    }

    /// `room:muted {roomId, userId, mutedUntil}` and `room:unmuted` (`mutedUntil` null).
    public struct Muted: Encodable, Sendable {
        public let roomId: String
        public let userId: String
        public let mutedUntil: Date?

        public init(roomId: String, userId: String, mutedUntil: Date?) {
            self.roomId = roomId
            self.userId = userId
            self.mutedUntil = mutedUntil
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(roomId, forKey: .roomId)
            try c.encode(userId, forKey: .userId)
            try c.encode(mutedUntil, forKey: .mutedUntil)
        }
        enum CodingKeys: String, CodingKey { case roomId, userId, mutedUntil }
    }
}
