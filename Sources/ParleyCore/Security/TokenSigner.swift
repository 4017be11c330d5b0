import Foundation
import JWTKit

/// The claims of a Parley access token.
public struct TokenClaims: JWTPayload, Equatable {
    /// The user id (24-hex ObjectId).
    public var sub: String
    /// Issued at, in seconds since the epoch, with milliseconds: a password change
    /// revokes the tokens issued before it to the millisecond.
    public var iat: Double
    /// Expires at, in seconds since the epoch.
    public var exp: Double

    /// jwt-kit calls this after the signature checked out; `now` is read here, so a
    /// token that expired a moment ago is refused.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try ExpirationClaim(value: Date(timeIntervalSince1970: exp)).verifyNotExpired()
    }
}

/// Signs and verifies HS256 JWTs (RFC 7519) with vapor/jwt-kit over swift-crypto:
/// strict about the signature (an `alg: none` token, another algorithm or another
/// key never verifies), expiry checked.
///
/// Key rotation: tokens are signed with `secret`; a token signed with `previous`
/// (`JWT_SECRET_PREVIOUS`) still verifies, so a secret can be changed without
/// signing every user out. Drop the previous secret once tokens signed with it have
/// expired (`JWT_TTL`).
public struct TokenSigner: Sendable {
    private let keys: JWTKeyCollection
    public let ttl: TimeInterval

    /// Tokens longer than this are refused before any parsing.
    static let maxTokenBytes = 4096

    public init(secret: String, previous: String? = nil, ttl: TimeInterval) async {
        keys = JWTKeyCollection()
        // The current key is the default one, used to sign (no `kid`, as tokens signed
        // before rotation existed); the previous one is tried only to verify.
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        if let previous, previous != secret {
            await keys.add(hmac: HMACKey(from: previous), digestAlgorithm: .sha256, kid: "previous")
        }
        self.ttl = ttl
    }

    /// A token for `userId`, valid for `ttl` (or `lifetime`, when shorter) from `now`.
    public func sign(userId: String, lifetime: TimeInterval? = nil, now: Date = Date()) async throws -> String {
        let t = (now.timeIntervalSince1970 * 1000).rounded(.down) / 1000
        return try await keys.sign(TokenClaims(sub: userId, iat: t, exp: t + min(ttl, lifetime ?? ttl)))
    }

    /// The claims of a valid, unexpired token signed with the current or the previous
    /// secret; `unauthorized` for anything else.
    public func verify(_ token: String) async throws -> TokenClaims {
        guard token.utf8.count <= TokenSigner.maxTokenBytes else { throw ParleyError(.unauthorized, "invalid token") }
        do {
            return try await keys.verify(token, as: TokenClaims.self, iteratingKeys: true)
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            throw ParleyError(.unauthorized, "token expired")
        } catch {
            throw ParleyError(.unauthorized, "invalid token")
        }
    }

    /// Base64url without padding, as JWTs carry their parts (for tests that forge them).
    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
