import Foundation
import Mongo
import ParleyCore

/// `hangout` (`shared/seeds/003`): users log in over REST (`/auth/login`) and
/// connect with the token; `join_room`, `leave_room` and `message`, answered
/// `user_joined`, `user_leaved` and `message` (to the whole room); click, scroll
/// and page sync are Parley's room activity (`click_event` → `user_clicked`,
/// `scroll_update` → `scroll_updated`, `page_change` → `page_changed`).
struct HangoutDialect: Dialect {
    let name = "hangout"

    /// The sync events: what the client emits, the activity kind, what the room gets.
    static let sync: [(event: String, kind: String, push: String)] = [
        ("click_event", "click", "user_clicked"), ("scroll_update", "scroll", "scroll_updated"), ("page_change", "page", "page_changed"),
    ]

    func handle(_ event: String, _ args: [JSONValue], ackId: Int?, on socket: DialectSocket) async throws {
        let arg = args.first
        switch event {
        case "join_room":
            try await socket.identify(token: arg?["token"]?.string)
            guard let room = DialectKit.string(arg, "roomId", "room", "id") else { throw ParleyError(.badRequest, "join_room: a room id is required") }
            let joined = try await DialectKit.join(room, on: socket)
            let participants = JSONValue.array((joined["participants"]?.array ?? []).map { .object(DialectKit.user($0)) })
            // The joiner sees its own arrival too, with who is there.
            if let me = socket.user {
                var mine = DialectKit.user(try JSONValue(encoding: User(me, online: true)))
                mine["roomId"] = .string(room)
                mine["participants"] = participants
                socket.emit("user_joined", .object(mine))
            }
            socket.ack(ackId, .object(["room": joined["room"] ?? .null, "participants": participants]))
        case "leave_room":
            try await DialectKit.leaveEvent(arg, keys: ["roomId", "room", "id"], ackKey: "roomId", on: socket, ackId: ackId)
        case "message":
            try await DialectKit.sendEvent(event, args, keys: ["roomId", "room"], on: socket, ackId: ackId, shape: Self.message)
        default:
            guard let sync = Self.sync.first(where: { $0.event == event }) else {
                throw ParleyError(.badRequest, "unknown event \"\(event.prefix(64))\" in the hangout dialect")
            }
            let room = try DialectKit.room(DialectKit.string(arg, "roomId", "room"), on: socket)
            var data = arg?.object ?? [:]
            if data.isEmpty, let arg { data["value"] = arg }
            data["roomId"] = nil
            _ = try await socket.answer(try DialectKit.event("room:activity", .object(["roomId": .string(room), "kind": .string(sync.kind), "data": .object(data)])))
            socket.ack(ackId, .object([:]))
        }
    }

    func translate(_ type: String, _ data: JSONValue, for socket: DialectSocket) -> DialectEvent? {
        switch type {
        case "message:new": return DialectEvent("message", Self.message(data["message"] ?? .null))
        case "room:user:joined":
            return DialectEvent("user_joined", .object(DialectKit.user(data["user"] ?? .null).merging(["roomId": data["roomId"] ?? .null]) { _, n in n }))
        case "room:user:left": return DialectEvent("user_leaved", .object(["roomId": data["roomId"] ?? .null, "userId": data["userId"] ?? .null]))
        case "room:activity":
            guard let sync = Self.sync.first(where: { $0.kind == data["kind"]?.string }) else { return nil }
            let payload = (data["data"]?.object ?? [:]).merging(["roomId": data["roomId"] ?? .null, "userId": data["userId"] ?? .null]) { _, n in n }
            return DialectEvent(sync.push, .object(payload))
        default: return nil
        }
    }

    /// A chat message: the common fields, the text also as `message`.
    static func message(_ m: JSONValue) -> JSONValue {
        .object(DialectKit.message(m).merging(["message": m["text"] ?? .null]) { _, n in n })
    }
}
