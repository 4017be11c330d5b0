import COpenSSL
import Foundation

/// The claims of a Parley access token.
public struct TokenClaims: Codable, Sendable, Equatable {
    /// The user id (24-hex ObjectId).
    public var sub: String
    /// Issued at, in seconds since the epoch, with milliseconds.
    public var iat: Double
    /// Expires at, in seconds since the epoch.
    public var exp: Double
}

/// Signs and verifies JWTs with HS256 (HMAC-SHA256, RFC 7519), strictly: the header
/// must say `alg: HS256`, so `alg: none` and algorithm-confusion tokens are refused;
/// signatures are compared in constant time; expiry is checked.
public struct TokenSigner: Sendable {
    private let key: [UInt8]
    public let ttl: TimeInterval

    public init(secret: String, ttl: TimeInterval) {
        key = Array(secret.utf8)
        self.ttl = ttl
    }

    private static let header = base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    /// A token for `userId`, valid for `ttl` from `now`.
    public func sign(userId: String, now: Date = Date()) throws -> String {
        let t = (now.timeIntervalSince1970 * 1000).rounded(.down) / 1000
        let claims = TokenClaims(sub: userId, iat: t, exp: t + ttl)
        let payload = TokenSigner.base64URL(try JSONEncoder().encode(claims))
        let input = "\(TokenSigner.header).\(payload)"
        return "\(input).\(TokenSigner.base64URL(Data(hmac(Array(input.utf8)))))"
    }

    /// The claims of a valid, unexpired token; `unauthorized` for anything else.
    public func verify(_ token: String, now: Date = Date()) throws -> TokenClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 4096,
            let headerData = TokenSigner.decodeBase64URL(parts[0]),
            let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
            header["alg"] as? String == "HS256",
            let signature = TokenSigner.decodeBase64URL(parts[2]), signature.count == 32
        else { throw ParleyError(.unauthorized, "invalid token") }
        let expected = hmac(Array("\(parts[0]).\(parts[1])".utf8))
        let matches = signature.withUnsafeBytes { s in expected.withUnsafeBytes { e in CRYPTO_memcmp(s.baseAddress, e.baseAddress, 32) == 0 } }
        guard matches, let payload = TokenSigner.decodeBase64URL(parts[1]),
            let claims = try? JSONDecoder().decode(TokenClaims.self, from: payload)
        else { throw ParleyError(.unauthorized, "invalid token") }
        guard claims.exp > now.timeIntervalSince1970 else { throw ParleyError(.unauthorized, "token expired") }
        return claims
    }

    private func hmac(_ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ s: Substring) -> Data? {
        guard s.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F })
        else { return nil }
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        return Data(base64Encoded: b)
    }
}
