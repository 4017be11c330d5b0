import Foundation
import Mongo

/// A user's role: admins may create users and operate the service.
public enum UserRole: String, Codable, Sendable, CaseIterable {
    case user, admin
}

/// Presence status as the contract names it.
public enum PresenceStatus: String, Codable, Sendable, CaseIterable {
    case online, away, busy, offline
}

/// A user as stored in `users`. Holds the password hash, so it never leaves the
/// server as it is: the wire form is `User`.
public struct UserRecord: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var username: String
    /// The unique key: usernames are unique case-insensitively.
    public var usernameLower: String
    public var displayName: String
    public var passwordHash: String
    public var role: UserRole
    public var disabled: Bool
    /// The status the user chose (`away`, `busy`); `online`/`offline` follow connections.
    public var status: PresenceStatus
    public var lastSeenAt: Date?
    public var createdAt: Date
    /// Tokens issued before this instant are refused (set on password change and disable).
    public var tokensValidAfter: Date?
    /// A guest (`POST /api/auth/guest`): no password, no rooms of their own, no
    /// private messages, no uploads; absent on every other account.
    public var guest: Bool?
    /// When a guest's account stops working (`GUEST_TTL` after it was made).
    public var expiresAt: Date?

    public var isGuest: Bool { guest == true }

    enum CodingKeys: String, CodingKey {
        case id = "_id", username, usernameLower, displayName, passwordHash, role, disabled, status, lastSeenAt, createdAt, tokensValidAfter, guest,
            expiresAt
    }

    public init(id: ObjectId = ObjectId(), username: String, displayName: String, passwordHash: String, role: UserRole = .user, createdAt: Date = Date()) {
        self.id = id
        self.username = username
        self.usernameLower = username.lowercased()
        self.displayName = displayName
        self.passwordHash = passwordHash
        self.role = role
        self.disabled = false
        self.status = .offline
        self.lastSeenAt = nil
        self.createdAt = createdAt.bsonPrecision
        self.tokensValidAfter = nil
    }
}

/// A user on the wire: `{id, username, displayName, status, online, lastSeenAt, createdAt}`.
/// Never any password field.
public struct User: Codable, Sendable, Equatable {
    public var id: String
    public var username: String
    public var displayName: String
    public var status: PresenceStatus
    public var online: Bool
    public var lastSeenAt: Date?
    public var createdAt: Date
    public var guest: Bool

    public init(_ record: UserRecord, online: Bool) {
        id = record.id.hex
        username = record.username
        displayName = record.displayName
        status = online ? (record.status == .offline ? .online : record.status) : .offline
        self.online = online
        lastSeenAt = record.lastSeenAt
        createdAt = record.createdAt
        guest = record.isGuest
    }

    /// Writes `lastSeenAt: null` rather than omitting it: the contract's shape is fixed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(username, forKey: .username)
        try c.encode(displayName, forKey: .displayName)
        try c.encode(status, forKey: .status)
        try c.encode(online, forKey: .online)
        try c.encode(lastSeenAt, forKey: .lastSeenAt)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(guest, forKey: .guest)
    }
}
