import Foundation
import Mongo
import ParleyCore

/// `broadcast` (`shared/seeds/001`): `sendMessage {user, text}` and
/// `receiveMessage` with `msg.user` and `msg.text`, to everyone. Everyone is in one
/// room, the lobby (`BroadcastLobby`), joined when the socket gets its user; a
/// message may name another room the user is in (`room`), and `joinRoom`/`leaveRoom`
/// take a room id. A bare `user` name makes a guest.
struct BroadcastDialect: Dialect {
    let name = "broadcast"

    func handle(_ event: String, _ args: [JSONValue], ackId: Int?, on socket: DialectSocket) async throws {
        let arg = args.first
        switch event {
        case "sendMessage":
            try await socket.identify(token: arg?["token"]?.string, name: DialectKit.string(arg, "user", "username"))
            try await DialectKit.sendEvent(event, args, keys: ["room", "roomId"], on: socket, ackId: ackId, shape: Self.message)
        case "joinRoom":
            guard let room = DialectKit.string(arg, "room", "roomId") else { throw ParleyError(.badRequest, "joinRoom: a room id is required") }
            let joined = try await DialectKit.join(room, on: socket)
            socket.ack(ackId, .object(["room": .string(room), "messages": .array((joined["history"]?.array ?? []).map(Self.message))]))
        case "leaveRoom":
            try await DialectKit.leaveEvent(arg, keys: ["room", "roomId"], ackKey: "room", on: socket, ackId: ackId)
        default:
            throw ParleyError(.badRequest, "unknown event \"\(event.prefix(64))\" in the broadcast dialect")
        }
    }

    /// Everyone joins the lobby, where `sendMessage` goes by default.
    func opened(_ socket: DialectSocket) async {
        do {
            let lobby = try await BroadcastLobby.ensure(socket.services)
            _ = try await DialectKit.join(lobby.hex, on: socket, historyLimit: 1)
        } catch {
            socket.refuse(ParleyError.from(error), ackId: nil)
        }
    }

    func translate(_ type: String, _ data: JSONValue, for socket: DialectSocket) -> DialectEvent? {
        switch type {
        case "message:new": return DialectEvent("receiveMessage", Self.message(data["message"] ?? .null))
        case "room:user:joined":
            let user = data["user"] ?? .null
            return DialectEvent("userJoined", .object(["user": user["displayName"] ?? .null, "userId": user["id"] ?? .null, "room": data["roomId"] ?? .null]))
        case "room:user:left": return DialectEvent("userLeft", .object(["userId": data["userId"] ?? .null, "room": data["roomId"] ?? .null]))
        case "presence":
            return DialectEvent(
                "userStatus", .object(["userId": data["userId"] ?? .null, "status": data["status"] ?? .null, "online": .bool(data["status"]?.string != "offline")]))
        default: return nil
        }
    }

    /// `{user, text}` as the example reads them, with the room, ids and time.
    static func message(_ m: JSONValue) -> JSONValue {
        .object([
            "user": m["senderName"] ?? .null, "text": m["text"] ?? .null, "room": m["roomId"] ?? .null, "id": m["id"] ?? .null,
            "userId": m["senderId"] ?? .null, "seq": m["seq"] ?? .null, "createdAt": m["createdAt"] ?? .null,
        ])
    }
}

/// The broadcast dialect's one room everyone is in: a public event room open to
/// guests, with a fixed id so that every node finds (or makes) the same one.
enum BroadcastLobby {
    static let id = ObjectId("0000000000000000000b0ad1")!
    static let owner = ObjectId("0000000000000000000b0ad0")!

    static func ensure(_ services: ParleyServices) async throws -> ObjectId {
        if try await services.repos.rooms.find(id: id) != nil { return id }
        var room = RoomRecord(id: id, name: "broadcast", kind: .event, topic: "Everyone", isPrivate: false, createdBy: owner)
        room.guestAccess = true
        room.memberCount = 0
        do {
            try await services.repos.rooms.create(room)
        } catch let e as ParleyError where e.code == .conflict {
            // Made by another node meanwhile.
        }
        return id
    }
}
