import Foundation
import Mongo
import ParleyCore

/// `chat-backend` (`shared/seeds/004`): `authenticate(userId)` (a token; a bare id
/// only with `DIALECT_TRUST_USER_IDS`), `join_room(roomId)`, `leave_room(roomId)`,
/// `send_message {receiverId, message, roomId}`, answered `new_message`, with
/// `error` events for every refusal; delivery and read state as `message_status`.
struct ChatBackendDialect: Dialect {
    let name = "chat-backend"
    var errorEventsAlways: Bool { true }

    func handle(_ event: String, _ args: [JSONValue], ackId: Int?, on socket: DialectSocket) async throws {
        let arg = args.first
        switch event {
        case "authenticate":
            guard let value = DialectKit.string(arg, "token", "userId") else { throw ParleyError(.unauthorized, "authenticate: give a token or a user id") }
            let client = try await socket.identify(userIdOrToken: value)
            let user = JSONValue.object(["user": try JSONValue(encoding: User(client.connection.user, online: true))])
            socket.emit("authenticated", user)
            socket.ack(ackId, user)
        case "join_room":
            guard let room = DialectKit.string(arg, "roomId", "room") else { throw ParleyError(.badRequest, "join_room: a room id is required") }
            let joined = try await DialectKit.join(room, on: socket)
            socket.ack(ackId, .object(["roomId": .string(room), "messages": .array((joined["history"]?.array ?? []).map { Self.message($0, for: socket) })]))
        case "leave_room":
            try await DialectKit.leaveEvent(arg, keys: ["roomId", "room"], ackKey: "roomId", on: socket, ackId: ackId)
        case "send_message":
            guard let arg, arg.object != nil else { throw ParleyError(.badRequest, "send_message: expected {receiverId?, message, roomId?}") }
            let room = arg["roomId"]?.string
            let receiver = room == nil ? arg["receiverId"]?.string : nil
            if room == nil, receiver == nil { throw ParleyError(.badRequest, "send_message: roomId or receiverId is required") }
            try await DialectKit.send(
                DialectKit.text(arg), room: room, toUser: receiver, clientId: arg["clientId"]?.string, on: socket, event: event, args, ackId: ackId
            ) { socket.ack(ackId, Self.message($0, for: socket)) }
        default:
            throw ParleyError(.badRequest, "unknown event \"\(event.prefix(64))\" in the chat-backend dialect")
        }
    }

    func translate(_ type: String, _ data: JSONValue, for socket: DialectSocket) -> DialectEvent? {
        switch type {
        case "message:new": return DialectEvent("new_message", Self.message(data["message"] ?? .null, for: socket))
        case "message:status": return DialectEvent("message_status", data)
        case "presence":
            return DialectEvent(
                "user_status", .object(["userId": data["userId"] ?? .null, "status": data["status"] ?? .null, "online": .bool(data["status"]?.string != "offline")]))
        default: return nil
        }
    }

    /// A message as this system stored one: `message` for the text, `senderId`,
    /// `receiverId` in a conversation, `status`, `timestamp`, and `_id`.
    static func message(_ m: JSONValue, for socket: DialectSocket) -> JSONValue {
        var receiver: JSONValue = .null
        if let roomId = m["roomId"]?.string {
            let direct = socket.direct(roomId)
            if direct.isDirect {
                let own = m["senderId"]?.string == socket.user?.id.hex
                receiver = own ? direct.partner.map(JSONValue.string) ?? .null : socket.user.map { .string($0.id.hex) } ?? .null
            }
        }
        return .object(
            DialectKit.message(m).merging([
                "_id": m["id"] ?? .null, "senderId": m["senderId"] ?? .null, "senderName": m["senderName"] ?? .null, "receiverId": receiver,
                "message": m["text"] ?? .null, "status": .string("sent"),
            ]) { _, n in n })
    }
}
