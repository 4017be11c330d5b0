import Foundation
import Mongo
import ParleyCore

/// `live-event` (`shared/seeds/000`): events are Parley's event rooms. A client
/// joins with `joinEvent {username, eventId}` (a bare name makes a guest) and is
/// answered `eventHistory`; messages, joins, leaves and typing come as `newMessage`,
/// `userJoined`, `userLeft`, `userTyping`; `getActiveEvents` lists the events that
/// have not ended.
struct LiveEventDialect: Dialect {
    let name = "live-event"

    func handle(_ event: String, _ args: [JSONValue], ackId: Int?, on socket: DialectSocket) async throws {
        let arg = args.first
        switch event {
        case "joinEvent":
            try await socket.identify(token: arg?["token"]?.string, name: DialectKit.string(arg, "username", "name", "user"))
            guard let eventId = DialectKit.string(arg, "eventId", "roomId", "id") else { throw ParleyError(.badRequest, "joinEvent: eventId is required") }
            let joined = try await DialectKit.join(eventId, on: socket)
            let history = JSONValue.object([
                "eventId": .string(eventId), "event": Self.event(joined["room"] ?? .null),
                "messages": .array((joined["history"]?.array ?? []).map { Self.message($0) }),
                "participants": .array((joined["participants"]?.array ?? []).map { .object(DialectKit.user($0)) }),
            ])
            socket.emit("eventHistory", history)
            socket.ack(ackId, history)
        case "sendMessage":
            try await DialectKit.sendEvent(event, args, keys: ["eventId", "roomId"], on: socket, ackId: ackId, shape: Self.message)
        case "leaveEvent":
            try await DialectKit.leaveEvent(arg, keys: ["eventId", "roomId"], ackKey: "eventId", on: socket, ackId: ackId)
        case "typing":
            let room = try DialectKit.room(DialectKit.string(arg, "eventId", "roomId"), on: socket)
            let isTyping = arg?.bool ?? arg?["isTyping"]?.bool ?? true
            _ = try await socket.answer(try DialectKit.event("typing", .object(["roomId": .string(room), "isTyping": .bool(isTyping)])))
            socket.ack(ackId, .object([:]))
        case "getActiveEvents":
            let events = JSONValue.object(["events": .array(try await Self.activeEvents(socket).map(Self.event))])
            socket.emit("activeEvents", events)
            socket.ack(ackId, events)
        default:
            throw ParleyError(.badRequest, "unknown event \"\(event.prefix(64))\" in the live-event dialect")
        }
    }

    func translate(_ type: String, _ data: JSONValue, for socket: DialectSocket) -> DialectEvent? {
        switch type {
        case "message:new": return DialectEvent("newMessage", Self.message(data["message"] ?? .null))
        case "room:user:joined":
            let user = data["user"] ?? .null
            return DialectEvent("userJoined", .object(DialectKit.user(user).merging(["eventId": data["roomId"] ?? .null]) { _, n in n }))
        case "room:user:left":
            return DialectEvent("userLeft", .object(["eventId": data["roomId"] ?? .null, "userId": data["userId"] ?? .null, "reason": data["reason"] ?? .null]))
        case "typing":
            return DialectEvent(
                "userTyping",
                .object([
                    "eventId": data["roomId"] ?? .null, "userId": data["userId"] ?? .null, "username": data["displayName"] ?? data["username"] ?? .null,
                    "isTyping": data["isTyping"] ?? .bool(true),
                ]))
        case "presence":
            return DialectEvent("participantStatus", data)
        default: return nil
        }
    }

    /// A message as `newMessage` carries it: the common fields, with `eventId`, and
    /// the text also as `message`.
    static func message(_ m: JSONValue) -> JSONValue {
        .object(DialectKit.message(m).merging(["eventId": m["roomId"] ?? .null, "message": m["text"] ?? .null]) { _, new in new })
    }

    /// An event room as this dialect lists one.
    static func event(_ r: JSONValue) -> JSONValue {
        .object([
            "id": r["id"] ?? .null, "name": r["name"] ?? .null, "topic": r["topic"] ?? .null, "startsAt": r["startsAt"] ?? .null,
            "endsAt": r["endsAt"] ?? .null, "participantCount": r["memberCount"] ?? .null, "guestAccess": r["guestAccess"] ?? .bool(false),
        ])
    }

    /// The public event rooms (and the caller's own) that have not ended.
    static func activeEvents(_ socket: DialectSocket) async throws -> [JSONValue] {
        let now = Date()
        if let user = socket.user {
            return try await socket.services.rooms.rooms(for: user, kind: .event).filter { ($0.endsAt ?? .distantFuture) > now }.map { try JSONValue(encoding: $0) }
        }
        return try await socket.services.repos.rooms.listPublic(kind: .event, limit: 200).filter { ($0.endsAt ?? .distantFuture) > now }
            .map { try JSONValue(encoding: Room($0, head: nil, membership: nil)) }
    }
}
