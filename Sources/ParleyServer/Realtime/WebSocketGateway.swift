import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOWebSocket
import ParleyCore

/// `GET /ws`: the native protocol. Authenticates (header, `?token=`, or a first
/// `auth` frame within `WS_AUTH_TIMEOUT_MS`, else close 4401), sends `ready`, flushes
/// the offline queue, sends `sync:done`, then serves events until the client leaves.
///
/// The socket is served by channel handlers (`NativeSocketHandler`) installed at the
/// upgrade (`ParleyHTTPChannel`), not by a task per connection: an idle connection
/// costs its channel and a few small objects, which is what lets one process hold
/// tens of thousands of them.
struct WebSocketGateway: Sendable {
    let services: ParleyServices
    /// Every event loop's ping timer for its sockets (`WS_PING_INTERVAL_MS`).
    let pings: PingWheels

    init(services: ParleyServices) {
        self.services = services
        pings = PingWheels(interval: .milliseconds(Int64(services.config.wsPingIntervalMs)))
    }

    /// The path of the native endpoint.
    static let path = "/ws"
    static let unauthorized = WebSocketErrorCode(codeNumber: 4401)
    /// RFC 6455's 1013: retry later (too many connections from the address, or the
    /// database is unreachable).
    static let tryAgainLater = WebSocketErrorCode(codeNumber: 1013)

    /// The token an upgrade request carries: `Authorization: Bearer …`, else `?token=`.
    static func token(authorization: String?, uri: URI) -> String? {
        if let header = authorization {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]) }
        }
        return uri.queryParameters.get("token").map { String($0) }
    }

    /// The handler that serves one upgraded socket.
    func makeHandler(token: String?) -> NativeSocketHandler {
        NativeSocketHandler(gateway: self, token: token)
    }

    /// Why a socket is refused at authentication: the close code and reason to send.
    struct Refusal: Error {
        let code: WebSocketErrorCode
        let reason: String
    }

    /// The user behind `token`, or the close that refuses the socket.
    func authenticate(token: String) async -> Result<UserRecord, Refusal> {
        do {
            return .success(try await services.auth.authenticate(token: token))
        } catch {
            // A database that cannot be reached says nothing about the token: 1013 tells
            // the client to come back, where 4401 would tell it to sign in again.
            if ParleyError.from(error).code == .unavailable {
                return .failure(Refusal(code: Self.tryAgainLater, reason: "the database is unreachable; try again shortly"))
            }
            return .failure(Refusal(code: Self.unauthorized, reason: "unauthorized"))
        }
    }

    /// The first frame of a socket that came without a token: `{"type":"auth","token":…}`.
    struct AuthFrame: Decodable {
        let type: String
        let token: String
    }
}
