import Foundation
import NIOCore
import ParleyCore

/// One Socket.IO dialect: the events of one of the systems Parley replaces
/// (`shared/seeds/`, `docs/DIALECTS.md`), mapped onto Parley's. Its client events
/// become Parley's events (`handle`), run by the same services as `/ws`; Parley's
/// pushes become its server events (`translate`), per recipient.
protocol Dialect: Sendable {
    /// The name a connection picks it by (`auth.dialect`, `?dialect=`, `SOCKETIO_DIALECT`).
    var name: String { get }
    /// Whether a sender gets its own messages back: the system broadcast each message
    /// to the whole room, its sender included (`io.to(room).emit`).
    var echoesOwnMessages: Bool { get }
    /// Whether a refusal is an `error` event even when the client asked for an ack.
    var errorEventsAlways: Bool { get }
    /// Whether its clients hear of every new public room (`room:created`).
    var announcesNewRooms: Bool { get }
    /// Runs one client event; throws a `ParleyError` to refuse it
    /// (`DialectSocket.refuse`).
    func handle(_ event: String, _ args: [JSONValue], ackId: Int?, on socket: DialectSocket) async throws
    /// Parley's push (`type`, its `data`) as this dialect's event for the socket's
    /// user; nil when the dialect has none.
    func translate(_ type: String, _ data: JSONValue, for socket: DialectSocket) -> DialectEvent?
    /// Sent once the socket knows its user (`collagemedia`'s `rooms:list`).
    func opened(_ socket: DialectSocket) async
}

extension Dialect {
    var echoesOwnMessages: Bool { true }
    var errorEventsAlways: Bool { false }
    var announcesNewRooms: Bool { false }
    func opened(_ socket: DialectSocket) async {}
}

/// A server event of a dialect: its name and its one argument.
struct DialectEvent: Sendable {
    let name: String
    let data: JSONValue

    init(_ name: String, _ data: JSONValue) {
        self.name = name
        self.data = data
    }

    /// `42["name",data]`.
    var packet: ByteBuffer {
        var b = ByteBuffer(string: "42[")
        b.writeBytes((try? WireFrames.json(name)) ?? [])
        b.writeString(",")
        b.writeBytes((try? WireFrames.json(data)) ?? Array("null".utf8))
        b.writeString("]")
        return b
    }
}

/// The dialects by name.
enum Dialects {
    static let all: [any Dialect] = [LiveEventDialect(), BroadcastDialect(), CollageMediaDialect(), HangoutDialect(), ChatBackendDialect()]

    static func named(_ name: String) -> (any Dialect)? { all.first { $0.name == name } }
}
