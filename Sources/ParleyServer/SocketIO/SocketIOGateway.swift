import Foundation
import Hummingbird
import HummingbirdCore
import NIOPosix
import Logging
import NIOCore
import NIOWebSocket
import ParleyCore
import Synchronization

/// Socket.IO v5 over Engine.IO v4 at `/socket.io/`: HTTP long-polling, WebSocket,
/// and the upgrade from one to the other, for the default namespace. Events go to
/// the same `RealtimeEvents` as `/ws`, with the same limits and authorization.
final class SocketIOGateway: Sendable {
    let services: ParleyServices
    let logger: Logger
    private let sessions = Mutex<[String: EngineSession]>([:])

    var pingInterval: Duration { .milliseconds(services.config.socketIOPingIntervalMs) }
    var pingTimeout: Duration { .milliseconds(services.config.socketIOPingTimeoutMs) }
    /// The largest Engine.IO payload (a polling body, or one packet).
    var maxPayload: Int { services.config.maxFrameBytes }

    /// Every event loop's ping timer for its sessions (`SOCKETIO_PING_INTERVAL_MS`).
    let pings: PingWheels

    init(services: ParleyServices, logger: Logger) {
        self.services = services
        self.logger = logger
        pings = PingWheels(interval: .milliseconds(Int64(services.config.socketIOPingIntervalMs)))
    }

    // MARK: Routes

    /// The polling transport's routes. The WebSocket transport is upgraded by
    /// `ParleyHTTPChannel` and served by `EngineSocketHandler`.
    func addRoutes(http router: Router<ParleyRequestContext>) {
        router.get("socket.io") { request, context in try await self.pollingGet(request, context: context) }
        router.post("socket.io") { request, _ in try await self.pollingPost(request) }
    }

    /// The path of the Engine.IO endpoint.
    static let path = "/socket.io"

    /// Whether an upgrade request is Engine.IO v4's WebSocket transport: its query
    /// (with the `sid` of the polling session it upgrades, nil for a fresh one), or
    /// nil to refuse it.
    static func webSocketUpgrade(_ uri: URI) -> EngineQuery? {
        let q = uri.queryParameters
        guard q.get("EIO") == "4", q.get("transport") == "websocket" else { return nil }
        return EngineQuery(uri)
    }

    /// Engine.IO's own error replies: `{"code": N, "message": "..."}` with 400.
    private func engineError(_ code: Int, _ message: String, status: HTTPResponse.Status = .badRequest) throws -> Response {
        try JSONResponse.make(["code": AnyCodableValue.int(code), "message": .string(message)], status: status)
    }

    private func pollingGet(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let q = request.uri.queryParameters
        guard q.get("EIO") == "4" else { return try engineError(5, "Unsupported protocol version") }
        guard q.get("transport") == "polling" else { return try engineError(0, "Transport unknown") }
        guard let sid = q.get("sid") else {
            guard let session = newSession(address: context.clientIP, query: EngineQuery(request.uri), polling: true) else {
                return try engineError(4, "Too many connections from this address", status: .tooManyRequests)
            }
            session.transmit(openPacket(session, upgrades: ["websocket"]))
            session.runPings(on: pings.wheel(on: NIOSingletons.posixEventLoopGroup.next()))
            return text(session.drain())
        }
        guard let session = sessions.withLock({ $0[String(sid)] }) else { return try engineError(1, "Session ID unknown") }
        guard let packets = await session.poll(timeout: pingInterval + .seconds(5)) else {
            session.close()
            return try engineError(3, "Bad request: overlapping polls")
        }
        return text(packets)
    }

    private func pollingPost(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        guard q.get("EIO") == "4", q.get("transport") == "polling", let sid = q.get("sid") else {
            return try engineError(3, "Bad request")
        }
        guard let session = sessions.withLock({ $0[String(sid)] }) else { return try engineError(1, "Session ID unknown") }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxPayload)
        } catch {
            session.close()
            return try engineError(3, "Payload too large", status: .contentTooLarge)
        }
        for packet in String(buffer: body).split(separator: "\u{1e}", omittingEmptySubsequences: true) {
            await handle(packet, session: session)
        }
        return Response(status: .ok, headers: [.contentType: "text/html"], body: .init(byteBuffer: ByteBuffer(string: "ok")))
    }

    private func text(_ packets: [ByteBuffer]) -> Response {
        var body = ByteBuffer()
        for (i, p) in packets.enumerated() {
            if i > 0 { body.writeString("\u{1e}") }
            var p = p
            body.writeBuffer(&p)
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=UTF-8"], body: .init(byteBuffer: body))
    }

    // MARK: Sessions and packets

    /// The open session `sid`, if any.
    func session(_ sid: String) -> EngineSession? { sessions.withLock { $0[sid] } }

    /// The handler that serves one upgraded Engine.IO WebSocket: a fresh session, or
    /// the upgrade of the polling session `query.sid`.
    func makeHandler(query: EngineQuery) -> EngineSocketHandler {
        EngineSocketHandler(gateway: self, query: query)
    }

    /// A new Engine.IO session holding one of `address`'s connection slots until it
    /// closes; nil when the address holds all it may. A polling session is found by
    /// its `sid` (its polls, its posts, its upgrade); one opened on a WebSocket never
    /// is (a poll or an upgrade naming it is refused either way), so it is not kept
    /// in the table.
    func newSession(address: String, query: EngineQuery?, polling: Bool) -> EngineSession? {
        guard services.connectionsByAddress.acquire(address) else { return nil }
        let session = EngineSession(gateway: self, address: address, query: query)
        if polling { sessions.withLock { $0[session.sid] = session } }
        return session
    }

    /// A session closed: its connection slot goes back and its `sid` is forgotten.
    func closed(_ session: EngineSession) {
        services.connectionsByAddress.release(session.address)
        _ = sessions.withLock { $0.removeValue(forKey: session.sid) }
    }

    private struct Handshake: Encodable {
        let sid: String
        let upgrades: [String]
        let pingInterval: Int
        let pingTimeout: Int
        let maxPayload: Int
    }

    func openPacket(_ session: EngineSession, upgrades: [String]) -> ByteBuffer {
        var b = ByteBuffer(string: "0")
        let handshake = Handshake(
            sid: session.sid, upgrades: upgrades, pingInterval: services.config.socketIOPingIntervalMs,
            pingTimeout: services.config.socketIOPingTimeoutMs, maxPayload: maxPayload)
        b.writeBytes((try? WireFrames.json(handshake)) ?? [])
        return b
    }

    /// One Engine.IO packet from the client.
    func handle(_ packet: Substring, session: EngineSession) async {
        guard let type = packet.first else { return }
        switch type {
        case "3": session.pong()
        case "2": session.transmit("3" + packet.dropFirst())
        case "1": session.close()
        case "4": await handleSocketIO(packet.dropFirst(), session: session)
        case "6", "5": break
        default: session.transmit(SocketIODialect().error(ParleyError(.badRequest, "malformed Engine.IO packet")))
        }
    }

    /// One Socket.IO packet from the client.
    private func handleSocketIO(_ text: Substring, session: EngineSession) async {
        guard let packet = SocketIOPacket(text) else {
            session.transmit(SocketIODialect().error(ParleyError(.badRequest, "malformed Socket.IO packet")))
            return
        }
        guard packet.namespace == "/" else {
            session.transmit("44\(packet.namespace),{\"message\":\"Invalid namespace\"}")
            return
        }
        switch packet.kind {
        case .connect:
            await connect(packet, session: session)
        case .disconnect:
            session.close()
        case .event:
            guard let socket = session.socket else {
                session.transmit(#"44{"message":"connect first"}"#)
                return
            }
            let elements = SocketIOPacket.arrayElements(packet.payload) ?? []
            let name = elements.first.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8), options: .fragmentsAllowed)) as? String }
            await socket.event(name, arguments: Array(elements.dropFirst()), ackId: packet.ackId)
        case .ack:
            break
        case .binaryEvent, .binaryAck, .connectError:
            refuseBinary(session: session, ackId: packet.ackId)
        }
    }

    private struct ConnectAuth: Decodable {
        let token: String?
        let dialect: String?
    }

    /// CONNECT: the contract's events need a token now; a dialect's socket may give
    /// its user later, by its own login event (`DialectSocket`).
    private func connect(_ packet: SocketIOPacket, session: EngineSession) async {
        guard session.socket == nil else { return }
        let auth = packet.payload.isEmpty ? nil : try? JSONDecoder().decode(ConnectAuth.self, from: Data(packet.payload.utf8))
        let query = session.query
        let token = auth?.token ?? query?.token
        let dialectName = (auth?.dialect ?? query?.dialect ?? services.config.socketIODialect).lowercased()
        do {
            if dialectName != "parley" {
                guard let dialect = Dialects.named(dialectName) else {
                    throw ParleyError(.badRequest, "unknown dialect \"\(dialectName.prefix(32))\": one of \(ParleyConfiguration.dialects.joined(separator: ", "))")
                }
                let socket = DialectSocket(dialect: dialect, engine: session, services: services)
                // A token given is checked now, so a bad one is refused at CONNECT.
                var user: UserRecord?
                if let token { user = try await services.auth.authenticate(token: token) }
                guard session.attach(socket) else { return }
                session.transmit("40{\"sid\":\"\(UUID().uuidString)\"}")
                if let user { await socket.open(as: user) }
                return
            }
            let user = try await services.auth.authenticate(token: token ?? "")
            let socket = SocketIOClient(user: user, engine: session, services: services)
            guard session.attach(socket) else { return }
            session.transmit("40{\"sid\":\"\(UUID().uuidString)\"}")
            socket.start(on: session)
        } catch {
            let p = ParleyError.from(error)
            var b = ByteBuffer(string: #"44{"message":"#)
            b.writeBytes((try? WireFrames.json(p.code == .unauthorized ? "unauthorized" : p.message)) ?? [])
            b.writeString(#","data":"#)
            b.writeBytes(WireFrames.errorBody(p))
            b.writeString("}")
            session.transmit(b)
        }
    }

    func refuseBinary(session: EngineSession, ackId: Int?) {
        let e = ParleyError(
            .badRequest, "binary attachments are not taken over Socket.IO: upload files with POST /api/uploads and send their ids in attachments")
        let dialect = SocketIODialect()
        session.transmit(ackId.map { dialect.ackError(id: .number(Double($0)), e) } ?? dialect.error(e))
    }
}

/// A small JSON value for Engine.IO's error bodies.
enum AnyCodableValue: Encodable {
    case int(Int)
    case string(String)

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        }
    }
}
