import Hummingbird
import NIOCore
import ParleyCore

/// The request context of every route: the authenticated user once the auth
/// middleware has run, and the peer address for per-IP limits.
public struct ParleyRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware` on authenticated routes.
    public var user: UserRecord?
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The authenticated user; routes behind `AuthMiddleware` always have one.
    func requireUser() throws -> UserRecord {
        guard let user else { throw ParleyError(.unauthorized, "sign in first") }
        return user
    }

    /// The peer's IP address as text, or `unknown` (in-process tests).
    var clientIP: String { remoteAddress?.ipAddress ?? "unknown" }
}
