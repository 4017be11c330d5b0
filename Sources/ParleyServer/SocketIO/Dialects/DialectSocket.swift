import Foundation
import Logging
import Mongo
import NIOCore
import ParleyCore
import Synchronization

/// A Socket.IO socket speaking a dialect. It may connect without a user: the
/// dialect's own login event (or a bare name, making a guest) gives it one later
/// (`identify`). From then on it holds a `SocketIOClient` whose pushes go through
/// the dialect's `translate`, and whose sends are Parley's, stored and fanned out
/// like any other; what the dialect's clients never acknowledge themselves, the
/// delivery of what they were sent, is marked for them (`DeliveryMarker`).
final class DialectSocket: SocketIOSocket {
    let dialect: any Dialect
    let services: ParleyServices
    var logger: Logger { services.logger }
    private weak let engine: EngineSession?
    private let sid: String
    private let state = Mutex(State())

    private struct State {
        var client: SocketIOClient?
        var marker: DeliveryMarker?
        var ended = false
        /// The room the dialect's events without a room id are about (the last joined).
        var currentRoom: ObjectId?
        /// Direct rooms this socket knows, with the other member when known.
        var direct: [String: String?] = [:]
    }

    init(dialect: any Dialect, engine: EngineSession, services: ParleyServices) {
        self.dialect = dialect
        self.engine = engine
        self.sid = engine.sid
        self.services = services
    }

    var user: UserRecord? { state.withLock { $0.client?.connection.user } }
    var client: SocketIOClient? { state.withLock { $0.client } }

    var currentRoom: ObjectId? {
        get { state.withLock { $0.currentRoom } }
        set { state.withLock { $0.currentRoom = newValue } }
    }

    /// Remembers a direct room (and its other member, when known).
    func noteDirect(_ roomId: String, partner: String?) {
        state.withLock { s in
            if partner != nil || s.direct[roomId] == nil { s.direct[roomId] = .some(partner) }
        }
    }

    /// Whether `roomId` is a direct room, and its other member when known.
    func direct(_ roomId: String) -> (isDirect: Bool, partner: String?) {
        state.withLock { s in
            guard let p = s.direct[roomId] else { return (false, nil) }
            return (true, p)
        }
    }

    // MARK: Identity

    /// The socket's user: as it is, or the user of `token`, or a new guest named
    /// `name`. `unauthorized` when none of them is given.
    @discardableResult
    func identify(token: String? = nil, name: String? = nil) async throws -> SocketIOClient {
        if let client { return client }
        let user: UserRecord
        if let token, !token.isEmpty {
            user = try await services.auth.authenticate(token: token)
        } else if let name {
            guard services.config.guestAccess else { throw ParleyError(.unauthorized, "log in first: guest access is off on this server") }
            user = try await services.auth.guest(displayName: name, ttl: services.config.guestTTL).user
        } else {
            throw ParleyError(.unauthorized, "log in first: give a token (auth.token, ?token=) or a name")
        }
        guard let client = await open(as: user) else { throw ParleyError(.unavailable, "the connection closed") }
        return client
    }

    /// The user of a bare id (`authenticate(userId)`), believed only with
    /// `DIALECT_TRUST_USER_IDS` (development only); a token in its place always works.
    func identify(userIdOrToken value: String) async throws -> SocketIOClient {
        if let client { return client }
        if let id = ObjectId(value) {
            guard services.config.dialectTrustUserIds else {
                throw ParleyError(.unauthorized, "a bare user id is not believed here: authenticate with a token (DIALECT_TRUST_USER_IDS is off)")
            }
            guard let user = try await services.accounts.users.find(id: id), !user.disabled else { throw ParleyError(.unauthorized, "no such user") }
            guard let client = await open(as: user) else { throw ParleyError(.unavailable, "the connection closed") }
            return client
        }
        return try await identify(token: value)
    }

    /// Opens the Parley session of `user`: registers it, flushes what it missed
    /// (translated), then the dialect's greeting. Nil when the socket ended first.
    @discardableResult
    func open(as user: UserRecord) async -> SocketIOClient? {
        guard let engine else { return nil }
        let marker = DeliveryMarker(user: user, services: services)
        let client = SocketIOClient(
            user: user, engine: engine, services: services, receivesOwnMessages: dialect.echoesOwnMessages,
            hearsNewRooms: dialect.announcesNewRooms,
            encode: { [weak self] frame in self?.encode(frame) })
        let taken = state.withLock { s -> Bool in
            guard s.client == nil, !s.ended else { return false }
            s.client = client
            s.marker = marker
            return true
        }
        guard taken else { return state.withLock { $0.client } }
        engine.feed(from: client.connection.outbound)
        do {
            try await client.realtime.open()
        } catch {
            client.realtime.fail(nil, error)
            engine.close()
            return nil
        }
        await dialect.opened(self)
        return client
    }

    // MARK: Events

    func event(_ name: String?, arguments: [Substring], ackId: Int?) async {
        guard let name else {
            refuse(ParleyError(.badRequest, "an event is [\"name\", ...arguments]"), ackId: ackId)
            return
        }
        var args: [JSONValue] = []
        for raw in arguments {
            guard let v = JSONValue.parse(raw.utf8) else {
                refuse(ParleyError(.badRequest, "\(name.prefix(64)): an argument is not JSON"), ackId: ackId)
                return
            }
            args.append(v)
        }
        do {
            try await dialect.handle(name, args, ackId: ackId, on: self)
        } catch {
            let p = ParleyError.from(error)
            if p.code == .internal { logger.error("\(dialect.name) \(name.prefix(64)) failed: \(error)") }
            refuse(p, ackId: ackId)
        }
    }

    /// Runs a Parley event as this socket's user and hands the outcome to `then`
    /// (a send's once stored, in the order of the sends; see `RealtimeSession.perform`).
    func perform(
        _ event: ClientEvent, ackId: Int?, then: @escaping @Sendable (any Encodable & Sendable) async throws -> Void = { _ in }
    ) async throws {
        let client = try await identify()
        let isSend: Bool
        switch event {
        case .messageSend, .messagePrivate: isSend = true
        default: isSend = false
        }
        await client.realtime.perform(event, isSend: isSend) { [weak self] result in
            guard let self else { return }
            do {
                try await then(try result.get())
            } catch {
                self.refuse(ParleyError.from(error), ackId: ackId)
            }
        }
    }

    /// Runs a Parley event and returns its answer now (not for sends).
    func answer(_ event: ClientEvent) async throws -> JSONValue {
        let client = try await identify()
        switch try await RealtimeEvents(services: services).handle(event, connection: client.connection) {
        case .now(let data): return try JSONValue(encoding: data)
        case .later(let wait): return try JSONValue(encoding: try await wait())
        }
    }

    /// A clientId for a send of a dialect whose clients give none, so a retried emit is
    /// stored once (`EmitIdentity`).
    func clientId(for event: String, _ args: [JSONValue], ackId: Int?, user: UserRecord) -> String {
        services.emitIdentity.clientId(user: user.id, event: event, payload: (try? WireFrames.json(args)) ?? [], acked: ackId != nil)
    }

    // MARK: Sending

    /// Sends one of the dialect's events to this socket.
    func emit(_ event: String, _ data: JSONValue) {
        send(DialectEvent(event, data).packet)
    }

    /// Answers an emit's ack callback with `data`.
    func ack(_ ackId: Int?, _ data: JSONValue) {
        guard let ackId else { return }
        var b = ByteBuffer(string: "43\(ackId)[")
        b.writeBytes((try? WireFrames.json(data)) ?? Array("null".utf8))
        b.writeString("]")
        send(b)
    }

    /// Refuses an event: `{error: {code, message}}` to its ack callback, and an
    /// `error` event when there is no callback (or always, in some dialects).
    func refuse(_ error: ParleyError, ackId: Int?) {
        let body = JSONValue.parse(WireFrames.errorBody(error)) ?? .null
        if let ackId { ack(ackId, .object(["error": body])) }
        if ackId == nil || dialect.errorEventsAlways { emit("error", body) }
    }

    private func send(_ bytes: ByteBuffer) {
        if let client { client.connection.reply(bytes) } else { engine?.transmit(bytes) }
    }

    /// A push for this socket, in the dialect's words; nil when it has none. Messages
    /// sent are marked delivered.
    private func encode(_ frame: PushFrame) -> ByteBuffer? {
        let data = frame.parsed
        switch frame.type {
        case "ready":
            for room in data["rooms"]?.array ?? [] where room["kind"]?.string == "direct" {
                if let id = room["id"]?.string { noteDirect(id, partner: nil) }
            }
        case "room:added":
            if let room = data["room"], room["kind"]?.string == "direct", let id = room["id"]?.string { noteDirect(id, partner: nil) }
        default: break
        }
        guard let event = dialect.translate(frame.type, data, for: self) else { return nil }
        if frame.type == "message:new", let m = data["message"], let room = m["roomId"]?.string.flatMap(ObjectId.init), let seq = m["seq"]?.int,
            m["senderId"]?.string != user?.id.hex
        {
            state.withLock { $0.marker }?.note(room, seq: seq)
        }
        return event.packet
    }

    func end() {
        let client = state.withLock { s -> SocketIOClient? in
            defer { s.ended = true }
            return s.ended ? nil : s.client
        }
        client?.end()
    }
}
