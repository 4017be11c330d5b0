import Foundation
import Mongo
import ParleyCore

/// What the dialects share: reading the payloads their clients send (a bare id or
/// an object, `text` or `message`), running the Parley events they stand for, and
/// the common fields of the messages and users they send back.
enum DialectKit {
    /// A Parley event from a dialect's payload, validated as `/ws` validates it.
    static func event(_ type: String, _ data: JSONValue) throws -> ClientEvent {
        let json = String(decoding: try WireFrames.json(data), as: UTF8.self)
        return try ClientFrame.decode(name: type, data: Substring(json)).event.get()
    }

    /// A string argument given bare (`join_room(roomId)`) or under one of `keys`.
    static func string(_ arg: JSONValue?, _ keys: String...) -> String? { string(arg, keys: keys) }

    static func string(_ arg: JSONValue?, keys: [String]) -> String? {
        guard let arg else { return nil }
        if let s = arg.string { return s }
        for k in keys { if let s = arg[k]?.string { return s } }
        return nil
    }

    /// The text of a send: bare, or `text`, `message` or `content`.
    static func text(_ arg: JSONValue?) -> String? { string(arg, "text", "message", "content") }

    /// The room an event is about: the one named, or the socket's current room.
    static func room(_ named: String?, on socket: DialectSocket) throws -> String {
        if let named { return named }
        guard let current = socket.currentRoom else { throw ParleyError(.badRequest, "no room: join one first, or name it") }
        return current.hex
    }

    /// Joins `roomId` and makes it the socket's current room; the join's answer
    /// `{room, participants, history}`.
    static func join(_ roomId: String, on socket: DialectSocket, historyLimit: Int = 50) async throws -> JSONValue {
        let reply = try await socket.answer(try event("room:join", .object(["roomId": .string(roomId), "historyLimit": .number(Double(historyLimit))])))
        if let id = ObjectId(roomId) { socket.currentRoom = id }
        return reply
    }

    /// Leaves `roomId` (and forgets it as the current room).
    static func leave(_ roomId: String, on socket: DialectSocket) async throws {
        _ = try await socket.answer(try event("room:leave", .object(["roomId": .string(roomId)])))
        if socket.currentRoom?.hex == roomId { socket.currentRoom = nil }
    }

    /// A leave event: the room named under `keys` (or the current one) is left, and
    /// the ack is `{ackKey: roomId}`.
    static func leaveEvent(_ arg: JSONValue?, keys: [String], ackKey: String, on socket: DialectSocket, ackId: Int?) async throws {
        let room = try room(string(arg, keys: keys), on: socket)
        try await leave(room, on: socket)
        socket.ack(ackId, .object([ackKey: .string(room)]))
    }

    /// A send to a room: its text, the room named under `keys` (or the current one),
    /// the payload's own clientId if any; the ack is the stored message as `shape`s it.
    static func sendEvent(
        _ event: String, _ args: [JSONValue], keys: [String], on socket: DialectSocket, ackId: Int?,
        shape: @escaping @Sendable (JSONValue) -> JSONValue
    ) async throws {
        let arg = args.first
        let room = try room(string(arg, keys: keys), on: socket)
        try await send(text(arg), room: room, clientId: arg?["clientId"]?.string, on: socket, event: event, args, ackId: ackId) {
            socket.ack(ackId, shape($0))
        }
    }

    /// Sends `text` to a room (or privately, `toUser`), with a clientId made for the
    /// emit unless the payload has one; `then` gets the stored message.
    static func send(
        _ text: String?, room: String? = nil, toUser: String? = nil, clientId given: String? = nil, on socket: DialectSocket, event name: String,
        _ args: [JSONValue], ackId: Int?, then: @escaping @Sendable (JSONValue) async -> Void
    ) async throws {
        let client = try await socket.identify()
        guard let text else { throw ParleyError(.badRequest, "\(name): the message has no text") }
        let clientId = given ?? socket.clientId(for: name, args, ackId: ackId, user: client.connection.user)
        let event: ClientEvent
        if let room {
            event = try self.event("message:send", .object(["roomId": .string(room), "text": .string(text), "clientId": .string(clientId)]))
        } else if let toUser {
            event = try self.event("message:private", .object(["toUserId": .string(toUser), "text": .string(text), "clientId": .string(clientId)]))
        } else {
            throw ParleyError(.badRequest, "\(name): name a room or a user")
        }
        try await socket.perform(event, ackId: ackId) { reply in
            let message = try JSONValue(encoding: reply)["message"] ?? .null
            if toUser != nil, let roomId = message["roomId"]?.string { socket.noteDirect(roomId, partner: toUser) }
            await then(message)
        }
    }

    /// The fields every dialect's message carries, from a Parley message.
    static func message(_ m: JSONValue) -> [String: JSONValue] {
        [
            "id": m["id"] ?? .null, "roomId": m["roomId"] ?? .null, "seq": m["seq"] ?? .null, "userId": m["senderId"] ?? .null,
            "username": m["senderName"] ?? .null, "text": m["text"] ?? .null, "timestamp": m["createdAt"] ?? .null,
            "createdAt": m["createdAt"] ?? .null,
        ]
    }

    /// A user as the name-based dialects show one: the name people see first.
    static func user(_ u: JSONValue) -> [String: JSONValue] {
        [
            "id": u["id"] ?? .null, "userId": u["id"] ?? .null, "username": u["displayName"] ?? u["username"] ?? .null,
            "status": u["status"] ?? .null, "online": u["online"] ?? .null, "guest": u["guest"] ?? .bool(false),
        ]
    }
}
