import Foundation
import Mongo

/// Registration, login and token checks. A token names a user; every check reloads
/// that user, so disabling an account or changing its password takes effect at once.
public struct AuthService: Sendable {
    public let accounts: AccountService
    public let signer: TokenSigner

    /// A bcrypt hash of a random string at the configured cost: verifying against it
    /// when the user does not exist makes a failed login take as long either way.
    private let decoyHash: String

    public init(accounts: AccountService, signer: TokenSigner) {
        self.accounts = accounts
        self.signer = signer
        decoyHash = accounts.hasher.decoyHash()
    }

    /// Creates an account and signs its first token.
    public func register(username: String, password: String, displayName: String?) async throws -> (token: String, user: UserRecord) {
        let user = try await accounts.createUser(username: username, password: password, displayName: displayName)
        return (try await signer.sign(userId: user.id.hex), user)
    }

    /// Checks a password; one message for an unknown user and a wrong password, so a
    /// login attempt does not reveal which usernames exist.
    public func login(username: String, password: String) async throws -> (token: String, user: UserRecord) {
        let user = AccountRules.usernameLength.contains(username.utf8.count) ? try await accounts.users.find(username: username) : nil
        // A guest has no password: checked against the decoy, it never matches.
        let matches = try await accounts.hasher.verify(password, against: user.flatMap { $0.isGuest ? nil : $0.passwordHash } ?? decoyHash)
        guard let user, matches else { throw ParleyError(.unauthorized, "wrong username or password") }
        guard !user.disabled else { throw ParleyError(.forbidden, "this account is disabled") }
        return (try await signer.sign(userId: user.id.hex), user)
    }

    /// Makes a guest named `displayName` and signs its token, both valid for `ttl`
    /// seconds: an account without a password or username of its own choosing
    /// (`guest-` and 12 random hex digits), for event rooms that let guests in.
    public func guest(displayName: String, ttl: Int, now: Date = Date()) async throws -> (token: String, user: UserRecord) {
        // Checked as given (no control characters anywhere), stored trimmed.
        try AccountRules.validateDisplayName(displayName)
        let name = displayName.trimmingCharacters(in: .whitespacesAndNewlines)
        var suffix = ""
        for _ in 0..<6 { suffix += String(format: "%02x", UInt8.random(in: 0...255)) }
        // No password: a placeholder no bcrypt check ever matches (login never checks a
        // guest's: see `login`), of the length the users' validator asks of a hash.
        var user = UserRecord(username: "guest-" + suffix, displayName: name, passwordHash: "!guest: no password, never checked", createdAt: now)
        user.guest = true
        user.expiresAt = now.addingTimeInterval(TimeInterval(ttl)).bsonPrecision
        try await accounts.users.create(user)
        return (try await signer.sign(userId: user.id.hex, lifetime: TimeInterval(ttl), now: now), user)
    }

    /// The user a bearer token stands for; `unauthorized` for a bad, expired or revoked
    /// token and for a disabled or deleted user.
    public func authenticate(token: String) async throws -> UserRecord {
        let claims = try await signer.verify(token)
        guard let id = ObjectId(claims.sub), let user = try await accounts.users.find(id: id) else {
            throw ParleyError(.unauthorized, "invalid token")
        }
        guard !user.disabled else { throw ParleyError(.unauthorized, "this account is disabled") }
        if let expiresAt = user.expiresAt, expiresAt <= Date() { throw ParleyError(.unauthorized, "this guest account has expired") }
        if let after = user.tokensValidAfter, claims.iat < (after.timeIntervalSince1970 * 1000).rounded(.down) / 1000 {
            throw ParleyError(.unauthorized, "token revoked")
        }
        return user
    }
}
