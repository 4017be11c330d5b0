import Foundation
import Mongo

/// Creating and administering accounts: validation, hashing and storage in one place,
/// shared by the REST API and `parleyctl`.
public struct AccountService: Sendable {
    public let users: any UserRepository
    public let hasher: PasswordHasher

    public init(users: any UserRepository, hasher: PasswordHasher) {
        self.users = users
        self.hasher = hasher
    }

    /// Validates and creates an account; `displayName` defaults to the username.
    public func createUser(username: String, password: String, displayName: String? = nil, role: UserRole = .user) async throws -> UserRecord {
        let display = displayName ?? username
        try AccountRules.validateNewAccount(username: username, password: password, displayName: display)
        let record = UserRecord(username: username, displayName: display, passwordHash: try await hasher.hash(password), role: role)
        try await users.create(record)
        return record
    }

    /// Replaces a user's password; earlier tokens stop working.
    public func setPassword(username: String, password: String) async throws {
        try AccountRules.validatePassword(password)
        guard try await users.setPasswordHash(username: username, try await hasher.hash(password)) else {
            throw ParleyError(.notFound, "no user \"\(username)\"")
        }
    }

    /// Disables or re-enables a user.
    public func setDisabled(username: String, _ disabled: Bool) async throws {
        guard try await users.setDisabled(username: username, disabled) else {
            throw ParleyError(.notFound, "no user \"\(username)\"")
        }
    }

    /// Keeps a user's presence: a status they set (nil: back to online when they
    /// connect), and when they were last seen.
    public func setPresence(id: ObjectId, status: PresenceStatus?, lastSeenAt: Date?) async throws {
        try await users.setPresence(id: id, status: status, lastSeenAt: lastSeenAt)
    }
}
