import Foundation
import Mongo
import ParleyCore

/// `collagemedia` (`shared/seeds/002`): `user:login` (a token, or a bare name making
/// a guest) answered with `rooms:list`; rooms with `room:join`/`room:leave`/
/// `room:message`/`room:create`, answered `room:history`, `room:message:new`,
/// `room:user:joined`/`left`, `rooms:new`/`rooms:update`; private messages with
/// `message:private` (`message:private:sent` to the sender); typing in a room and in
/// private; `user:status`, seen as `user:status:update` and `user:offline`.
struct CollageMediaDialect: Dialect {
    let name = "collagemedia"
    var announcesNewRooms: Bool { true }

    func handle(_ event: String, _ args: [JSONValue], ackId: Int?, on socket: DialectSocket) async throws {
        let arg = args.first
        switch event {
        case "user:login":
            let client = try await socket.identify(token: arg?["token"]?.string, name: DialectKit.string(arg, "username", "name", "displayName"))
            socket.ack(ackId, .object(["user": try JSONValue(encoding: User(client.connection.user, online: true))]))
        case "room:join":
            guard let room = DialectKit.string(arg, "roomId", "room", "id") else { throw ParleyError(.badRequest, "room:join: a room id is required") }
            let joined = try await DialectKit.join(room, on: socket)
            let messages = JSONValue.array((joined["history"]?.array ?? []).map(Self.message))
            socket.emit("room:history", .object(["roomId": .string(room), "messages": messages]))
            socket.ack(ackId, .object(["room": joined["room"] ?? .null, "participants": joined["participants"] ?? .array([]), "messages": messages]))
        case "room:leave":
            try await DialectKit.leaveEvent(arg, keys: ["roomId", "room", "id"], ackKey: "roomId", on: socket, ackId: ackId)
        case "room:message":
            try await DialectKit.sendEvent(event, args, keys: ["roomId", "room"], on: socket, ackId: ackId, shape: Self.message)
        case "room:create":
            var body = arg?.object ?? [:]
            if let name = arg?.string { body = ["name": .string(name)] }
            let created = try await socket.answer(try DialectKit.event("room:create", .object(body)))
            socket.ack(ackId, created["room"] ?? .null)
        case "message:private":
            guard let to = DialectKit.string(arg, "toUserId", "to", "receiverId", "userId") else {
                throw ParleyError(.badRequest, "message:private: toUserId is required")
            }
            try await DialectKit.send(DialectKit.text(arg), toUser: to, clientId: arg?["clientId"]?.string, on: socket, event: event, args, ackId: ackId) {
                socket.ack(ackId, Self.message($0))
            }
        case "user:typing":
            let room = try DialectKit.room(DialectKit.string(arg, "roomId", "room"), on: socket)
            try await typing(in: room, arg, on: socket)
            socket.ack(ackId, .object([:]))
        case "user:typing:private":
            let client = try await socket.identify()
            guard let to = DialectKit.string(arg, "toUserId", "to", "receiverId", "userId"), let id = ObjectId(to),
                let other = try await socket.services.accounts.users.find(id: id)
            else { throw ParleyError(.notFound, "user:typing:private: no such user") }
            guard let room = try await socket.services.rooms.directRoom(between: client.connection.user, and: other, create: false) else {
                throw ParleyError(.notFound, "user:typing:private: no conversation with this user yet")
            }
            socket.noteDirect(room.id.hex, partner: to)
            try await typing(in: room.id.hex, arg, on: socket)
            socket.ack(ackId, .object([:]))
        case "user:status":
            guard let status = DialectKit.string(arg, "status") else { throw ParleyError(.badRequest, "user:status: a status is required") }
            _ = try await socket.answer(try DialectKit.event("presence:set", .object(["status": .string(status)])))
            socket.ack(ackId, .object(["status": .string(status)]))
        default:
            throw ParleyError(.badRequest, "unknown event \"\(event.prefix(64))\" in the collagemedia dialect")
        }
    }

    private func typing(in room: String, _ arg: JSONValue?, on socket: DialectSocket) async throws {
        let isTyping = arg?.bool ?? arg?["isTyping"]?.bool ?? true
        _ = try await socket.answer(try DialectKit.event("typing", .object(["roomId": .string(room), "isTyping": .bool(isTyping)])))
    }

    /// `rooms:list` once the user is known: the public rooms and theirs.
    func opened(_ socket: DialectSocket) async {
        do {
            let rooms = try await socket.answer(.roomsList)
            socket.emit("rooms:list", rooms["rooms"] ?? .array([]))
        } catch {
            socket.refuse(ParleyError.from(error), ackId: nil)
        }
    }

    func translate(_ type: String, _ data: JSONValue, for socket: DialectSocket) -> DialectEvent? {
        switch type {
        case "message:new":
            let m = data["message"] ?? .null
            guard let roomId = m["roomId"]?.string, socket.direct(roomId).isDirect else { return DialectEvent("room:message:new", Self.message(m)) }
            let own = m["senderId"]?.string == socket.user?.id.hex
            return DialectEvent(own ? "message:private:sent" : "message:private", Self.message(m))
        case "room:user:joined", "room:user:left": return DialectEvent(type, data)
        case "typing":
            guard let roomId = data["roomId"]?.string else { return nil }
            return DialectEvent(socket.direct(roomId).isDirect ? "user:typing:private" : "user:typing", data)
        case "presence":
            return DialectEvent(data["status"]?.string == "offline" ? "user:offline" : "user:status:update", data)
        case "room:created", "room:added": return DialectEvent("rooms:new", data["room"] ?? .null)
        case "room:updated": return DialectEvent("rooms:update", data["room"] ?? .null)
        default: return nil
        }
    }

    /// A message: Parley's fields, with the common ones (`userId`, `username`) and,
    /// in a conversation, `from`.
    static func message(_ m: JSONValue) -> JSONValue {
        .object((m.object ?? [:]).merging(DialectKit.message(m)) { old, _ in old }.merging(["from": m["senderId"] ?? .null]) { _, n in n })
    }
}
