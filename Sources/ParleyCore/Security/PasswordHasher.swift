import Foundation
import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing, run on NIO's shared blocking-work thread pool: a hash costs tens
/// of milliseconds by design and must not hold an event loop or the cooperative pool.
public struct PasswordHasher: Sendable {
    /// The bcrypt cost factor (each step doubles the work).
    public let cost: UInt8

    public init(cost: Int = 10) { self.cost = UInt8(clamping: min(max(cost, 4), 31)) }

    /// A salted bcrypt hash of `password`.
    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// A hash of a random secret at this cost, computed here and now (once, at start).
    public func decoyHash() -> String { Bcrypt.hash(UUID().uuidString, cost: cost) }

    /// True when `password` matches `hash`; false for a malformed hash.
    public func verify(_ password: String, against hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }
}
