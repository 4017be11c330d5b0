import Foundation
import Logging
import NIOCore
import ParleyCore
import Synchronization

/// A connected Socket.IO socket of the default namespace: the contract's events
/// (`SocketIOClient`) or a dialect's (`DialectSocket`).
protocol SocketIOSocket: AnyObject, Sendable {
    /// One EVENT: its name (nil when the packet is not `["name", ...]`) and the raw
    /// JSON of its arguments.
    func event(_ name: String?, arguments: [Substring], ackId: Int?) async
    /// Ends the socket once: unregisters it and takes the user offline if it was
    /// their last connection.
    func end()
}

/// A Socket.IO socket of the contract's events, authenticated at CONNECT: the same
/// `Connection` and `RealtimeSession` as a `/ws` client, with Socket.IO framing; the
/// Engine.IO session's transport drains the connection's queue (`feed(from:)`). A
/// dialect's socket holds one of these once it knows its user, with the dialect's
/// envelope for pushes (`encode`).
final class SocketIOClient: SocketIOSocket {
    let realtime: RealtimeSession<SocketIODialect>
    var connection: Connection { realtime.connection }
    private let ended = Mutex(false)

    init(
        user: UserRecord, engine: EngineSession, services: ParleyServices, receivesOwnMessages: Bool = false,
        hearsNewRooms: Bool = false, encode: @escaping @Sendable (PushFrame) -> ByteBuffer? = { $0.socketIO }
    ) {
        let connection = Connection(
            user: user, queueLimit: services.config.outboundQueueFrames, receivesOwnMessages: receivesOwnMessages, hearsNewRooms: hearsNewRooms,
            encode: encode,
            // A strong capture: the closure is then the session itself, with no context
            // or weak-reference table of its own. The cycle (session, client,
            // connection, closure) ends at the session's `close`, which lets its
            // client go.
            close: { _ in engine.close() })
        realtime = RealtimeSession(services: services, connection: connection, dialect: SocketIODialect.self)
    }

    /// Feeds the connection's queue to the Engine.IO session and sends `ready`, the
    /// offline queue and `sync:done`.
    func start(on engine: EngineSession) {
        engine.feed(from: connection.outbound)
        let realtime = self.realtime
        Task {
            do {
                try await realtime.open()
            } catch {
                realtime.fail(nil, error)
                engine.close()
            }
        }
    }

    func event(_ name: String?, arguments: [Substring], ackId: Int?) async {
        let id = ackId.map { RequestID.number(Double($0)) }
        guard let name else {
            realtime.fail(id, ParleyError(.badRequest, "an event is [\"name\", data]"))
            return
        }
        let data = arguments.first ?? ""
        // The ack id is Socket.IO's, outside the payload; a payload that is not JSON is
        // answered in its turn like any refused event.
        let event = (try? ClientFrame.decode(name: name, data: data))?.event ?? .failure(ParleyError(.badRequest, "malformed data"))
        await realtime.dispatch(ClientFrame(type: name, id: id, event: event))
    }

    /// Ends the socket once: unregisters it and takes the user offline if it was
    /// their last connection.
    func end() {
        let first = ended.withLock { e -> Bool in
            defer { e = true }
            return !e
        }
        guard first else { return }
        connection.transportEnded()
        let realtime = self.realtime
        Task { await realtime.close() }
    }
}
