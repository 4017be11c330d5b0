import Foundation
import Mongo

/// The error every layer above Mongo throws. Its `code` is the wire contract's error
/// code, so the HTTP and WebSocket boundaries map it without guessing.
public struct ParleyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The contract's error codes (`docs/PROTOCOL.md`).
    public struct Code: RawRepresentable, Sendable, Hashable, Codable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let badRequest = Code(rawValue: "bad_request")
        public static let unauthorized = Code(rawValue: "unauthorized")
        public static let forbidden = Code(rawValue: "forbidden")
        public static let notFound = Code(rawValue: "not_found")
        public static let conflict = Code(rawValue: "conflict")
        public static let tooLarge = Code(rawValue: "too_large")
        /// A known REST path with a method it does not serve (HTTP 405, with `Allow`).
        public static let methodNotAllowed = Code(rawValue: "method_not_allowed")
        public static let rateLimited = Code(rawValue: "rate_limited")
        public static let unavailable = Code(rawValue: "unavailable")
        public static let `internal` = Code(rawValue: "internal")

        /// The HTTP status the contract pairs with this code.
        public var httpStatus: Int {
            switch self {
            case .badRequest: 400
            case .unauthorized: 401
            case .forbidden: 403
            case .notFound: 404
            case .conflict: 409
            case .methodNotAllowed: 405
            case .tooLarge: 413
            case .rateLimited: 429
            case .unavailable: 503
            default: 500
            }
        }
    }

    public var code: Code
    public var message: String
    /// For `rate_limited`: how long to wait before trying again.
    public var retryAfterMs: Int?
    /// For a muted member's `forbidden`: when the mute ends.
    public var mutedUntil: Date?

    public init(_ code: Code, _ message: String, retryAfterMs: Int? = nil, mutedUntil: Date? = nil) {
        self.code = code
        self.message = message
        self.retryAfterMs = retryAfterMs
        self.mutedUntil = mutedUntil
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Maps any error to the contract: a `ParleyError` as it is, a database outage to
    /// `unavailable`, a duplicate key to `conflict`, anything else to `internal`
    /// (whose message never leaks internals).
    public static func from(_ error: any Error) -> ParleyError {
        if let e = error as? ParleyError { return e }
        if let e = error as? MongoError {
            if e.code == .duplicateKey { return ParleyError(.conflict, "already exists") }
            if e.isTransient { return ParleyError(.unavailable, "the database is unreachable; try again shortly") }
        }
        return ParleyError(.internal, "internal error")
    }
}
