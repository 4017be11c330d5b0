import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import Mongo
import NIOCore
import NIOWebSocket
import ParleyCore

/// The request context of the WebSocket router: keeps the channel, so a slow
/// consumer can be cut at once even while a write to it is stuck.
struct ParleyWebSocketContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }
}

/// `GET /ws`: the native protocol. Authenticates (header, `?token=`, or a first
/// `auth` frame within `WS_AUTH_TIMEOUT_MS`, else close 4401), sends `ready`, flushes
/// the offline queue, sends `sync:done`, then serves events until the client leaves.
struct WebSocketGateway {
    let services: ParleyServices
    let events: RealtimeEvents

    static let unauthorized = WebSocketErrorCode(codeNumber: 4401)
    /// RFC 6455's 1013: the address holds too many connections; retry later.
    static let tryAgainLater = WebSocketErrorCode(codeNumber: 1013)

    func addRoutes(to router: Router<ParleyWebSocketContext>) {
        router.ws("/ws") { inbound, outbound, context in
            try await serve(inbound: inbound, outbound: outbound, request: context.request, channel: context.requestContext.channel, logger: context.logger)
        }
    }

    /// Serves one connection. A protocol error from the inbound stream (a frame too
    /// large, invalid UTF-8) is rethrown after cleanup, so the WebSocket handler closes
    /// with the code it carries (1009, 1007).
    private func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, request: Request, channel: any Channel, logger: Logger) async throws {
        // One slot of the client address's connection budget, held until the socket ends.
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        guard services.connectionsByAddress.acquire(address) else {
            try? await outbound.close(WebSocketGateway.tryAgainLater, reason: "too many connections from this address")
            return
        }
        defer { services.connectionsByAddress.release(address) }
        var messages = inbound.messages(maxSize: services.config.maxFrameBytes).makeAsyncIterator()
        guard let user = await authenticate(request: request, messages: &messages, outbound: outbound, channel: channel) else { return }

        let connection = Connection(
            user: user, queueLimit: services.config.outboundQueueFrames, encode: { $0.native },
            close: { reason in
                switch reason {
                case .slowConsumer, .unauthorized:
                    // Abortive close (RST): the client is not reading, so a FIN would wait
                    // behind unsent data; this frees the kernel's buffers at once.
                    if let socket = channel as? any SocketOptionProvider {
                        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(mode: .all, promise: nil) }
                    } else {
                        channel.close(mode: .all, promise: nil)
                    }
                case .shutdown:
                    // 1001, then the socket is closed for good if the client does not
                    // answer the close handshake in time: a shutdown never waits on it.
                    Task {
                        try? await outbound.close(.goingAway, reason: "server shutting down")
                        try? await Task.sleep(for: .seconds(2))
                        channel.close(mode: .all, promise: nil)
                    }
                }
            })
        let session = RealtimeSession(services: services, connection: connection, dialect: NativeDialect(), logger: logger)
        let failure = await FramePump.run(
            writing: connection.outbound, to: channel,
            read: {
                do {
                    try await session.open()
                } catch where ParleyError.from(error).code == .unavailable {
                    // As at authentication: the database is away, come back shortly.
                    try? await outbound.close(Self.tryAgainLater, reason: "the database is unreachable; try again shortly")
                    return
                }
                while let message = try await messages.next() {
                    switch message {
                    case .text(let text): await session.receive(Data(text.utf8))
                    case .binary: connection.send(NativeDialect().error(ParleyError(.badRequest, "text frames only: one JSON object per frame")))
                    }
                }
            },
            finish: {
                await session.close()
                connection.finish()
            })
        if let failure { throw failure }
    }

    /// The user behind the connection, or nil after closing it with 4401.
    private func authenticate(
        request: Request, messages: inout WebSocketInboundMessageStream.AsyncIterator, outbound: WebSocketOutboundWriter, channel: any Channel
    ) async -> UserRecord? {
        var token: String?
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { token = String(parts[1]) }
        }
        token = token ?? request.uri.queryParameters.get("token").map { String($0) }
        if token == nil {
            let timeout = services.config.wsAuthTimeoutMs
            let timer = Task {
                try await Task.sleep(for: .milliseconds(timeout))
                try? await outbound.close(Self.unauthorized, reason: "authentication timeout")
                channel.close(mode: .all, promise: nil)
            }
            defer { timer.cancel() }
            guard case .text(let text)? = try? await messages.next(),
                let first = try? JSONDecoder().decode(AuthFrame.self, from: Data(text.utf8)), first.type == "auth"
            else {
                try? await outbound.close(Self.unauthorized, reason: "authenticate first")
                return nil
            }
            token = first.token
        }
        do {
            return try await services.auth.authenticate(token: token ?? "")
        } catch {
            // A database that cannot be reached says nothing about the token: 1013 tells
            // the client to come back, where 4401 would tell it to sign in again.
            if ParleyError.from(error).code == .unavailable {
                try? await outbound.close(Self.tryAgainLater, reason: "the database is unreachable; try again shortly")
            } else {
                try? await outbound.close(Self.unauthorized, reason: "unauthorized")
            }
            return nil
        }
    }

    struct AuthFrame: Decodable {
        let type: String
        let token: String
    }
}
