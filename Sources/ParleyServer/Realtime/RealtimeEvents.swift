import Foundation
import Mongo
import ParleyCore

/// The client events of the wire contract, independent of the transport: `/ws` and
/// Socket.IO both hand each event here and send back what it returns as the ack.
struct RealtimeEvents: Sendable {
    let services: ParleyServices

    private var notifier: RoomNotifier { services.notifier }

    /// An event's answer: the ack's `data` now, or a wait for it (a message send
    /// awaiting its database write) that the transport runs off its read loop.
    enum Reply: Sendable {
        case now(any Encodable & Sendable)
        case later(@Sendable () async throws -> any Encodable & Sendable)
    }

    /// The events that store a message: their acks keep the order of the sends.
    static func isSend(_ type: String) -> Bool { type == "message:send" || type == "message:private" }

    /// Handles one event. `frame` is the whole JSON frame, whose `data` is decoded as
    /// the event's own type. Sends are queued before this returns, so a connection's
    /// messages keep the order it sent them in. Throws a `ParleyError`.
    func handle(type: String, frame: Data, connection: Connection) async throws -> Reply {
        switch type {
        case "message:send":
            let body: SendBody = try decode(frame)
            try services.messageLimiter.consume(connection.userId.hex)
            try SendPipeline.validate(text: body.text, clientId: body.clientId, maxChars: services.config.messageMaxChars)
            let roomId = try body.room()
            try await requireMember(roomId, user: connection.user)
            return try store(roomId: roomId, text: body.text, clientId: body.clientId, connection: connection)
        case "message:private":
            let body: PrivateBody = try decode(frame)
            try services.messageLimiter.consume(connection.userId.hex)
            try SendPipeline.validate(text: body.text, clientId: body.clientId, maxChars: services.config.messageMaxChars)
            let roomId = try await directRoom(to: body.toUserId, from: connection.user)
            return try store(roomId: roomId, text: body.text, clientId: body.clientId, connection: connection)
        default:
            return .now(try await handleOther(type: type, frame: frame, connection: connection))
        }
    }

    private func handleOther(type: String, frame: Data, connection: Connection) async throws -> any Encodable & Sendable {
        let user = connection.user
        switch type {
        case "ping":
            return EmptyObject()
        case "rooms:list":
            return ["rooms": try await services.rooms.rooms(for: user)]
        case "room:create":
            let body: CreateRoomInput = try decode(frame)
            let room = try await services.rooms.create(try body.newRoom(forcing: nil), by: user)
            if let id = ObjectId(room.id) { services.membershipEffects.created(id, by: user.id) }
            return ["room": room]
        case "room:join":
            return try await join(decode(frame), user: user)
        case "room:leave":
            let body: RoomRef = try decode(frame)
            let roomId = try body.room()
            if try await services.rooms.leave(roomId, user: user) { services.membershipEffects.left(roomId, userId: user.id) }
            return EmptyObject()
        case "message:delivered", "message:read":
            let body: CursorBody = try decode(frame)
            let m = try await services.history.moveCursor(roomId: try body.room(), user: user, seq: body.seq, read: type == "message:read")
            notifier.cursorMoved(m)
            return EmptyObject()
        case "history":
            let body: HistoryBody = try decode(frame)
            let page = try await services.history.history(
                roomId: try body.room(), user: user, before: body.beforeSeq, after: body.afterSeq, limit: body.limit)
            return HistoryReply(messages: page.messages.map(Message.init), hasMore: page.hasMore)
        case "typing":
            let body: TypingBody = try decode(frame)
            try services.eventLimiter.consume(user.id.hex)
            let roomId = try body.room()
            try await requireMember(roomId, user: user)
            notifier.ephemeral("typing", TypingPush(roomId: roomId.hex, userId: user.id.hex, username: user.username, isTyping: body.isTyping), to: roomId, from: user.id)
            return EmptyObject()
        case "room:activity":
            let body: ActivityBody = try decode(frame)
            try services.eventLimiter.consume(user.id.hex)
            guard (1...32).contains(body.kind.unicodeScalars.count) else { throw ParleyError(.badRequest, "kind must be 1 to 32 characters") }
            let data = body.data ?? .null
            guard try WireFrames.json(data).count <= 4096 else { throw ParleyError(.tooLarge, "activity data must be at most 4 KiB") }
            let roomId = try body.room()
            try await requireMember(roomId, user: user)
            notifier.ephemeral("room:activity", ActivityPush(roomId: roomId.hex, userId: user.id.hex, kind: body.kind, data: data), to: roomId, from: user.id)
            return EmptyObject()
        case "presence:set":
            let body: PresenceBody = try decode(frame)
            guard body.status != .offline else { throw ParleyError(.badRequest, "status must be online, away or busy") }
            try await services.accounts.setPresence(id: user.id, status: body.status, lastSeenAt: nil)
            notifier.presenceChanged(userId: user.id, status: body.status, lastSeenAt: nil)
            return EmptyObject()
        default:
            throw ParleyError(.badRequest, "unknown event \"\(type.prefix(64))\"")
        }
    }

    // MARK: Events with more to them

    private func join(_ body: JoinBody, user: UserRecord) async throws -> JoinReply {
        let roomId = try body.room()
        let limit = body.historyLimit ?? HistoryService.defaultLimit
        guard (0...HistoryService.maxLimit).contains(limit) else { throw ParleyError(.badRequest, "historyLimit must be 0 to \(HistoryService.maxLimit)") }
        let joined = try await services.rooms.join(roomId, user: user)
        services.membershipEffects.joined(roomId, user: user, isNew: joined.newlyJoined)
        let participants = try await services.rooms.participants(of: roomId)
        let history = try await services.history.latest(roomId: roomId, limit: limit)
        return JoinReply(room: joined.room, participants: participants, history: history.map(Message.init))
    }

    private func store(roomId: ObjectId, text: String, clientId: String, connection: Connection) throws -> Reply {
        // During a graceful shutdown nothing new is taken: the client retries the same
        // clientId after reconnecting, so nothing is lost and nothing stored twice.
        guard !services.hub.isDraining else { throw ParleyError(.unavailable, "the server is restarting; send again after reconnecting") }
        let promise = services.pipeline.enqueue(
            SendPipeline.Submission(roomId: roomId, sender: connection.user, text: text, clientId: clientId, origin: connection.id))
        return .later { MessageReply(message: Message(try await promise.value().message)) }
    }

    /// The direct room with another user, opened on the first private message; both
    /// users' connections are subscribed to it.
    private func directRoom(to toUserId: String, from user: UserRecord) async throws -> ObjectId {
        let (room, other) = try await services.rooms.directRoom(from: user, to: toUserId)
        services.membershipEffects.opened(direct: room.id, between: user.id, and: other.id)
        return room.id
    }

    /// Membership, from the hub when the user's connections know the room, otherwise
    /// from the database (then the hub learns it). `not_found` for rooms the user
    /// cannot see, `forbidden` for visible rooms they are not in.
    private func requireMember(_ roomId: ObjectId, user: UserRecord) async throws {
        if services.hub.isSubscribed(user.id, to: roomId) { return }
        _ = try await services.rooms.memberRoom(roomId, for: user)
        services.membershipEffects.confirmed(user.id, in: roomId)
    }

    private func decode<T: Decodable>(_ frame: Data) throws -> T {
        do {
            guard let data = try WireFrames.decoder.decode(InboundData<T>.self, from: frame).data else {
                throw ParleyError(.badRequest, "data is required")
            }
            return data
        } catch let e as ParleyError {
            throw e
        } catch let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c), let DecodingError.dataCorrupted(c) {
            throw ParleyError(.badRequest, "invalid \(c.codingPath.dropFirst().map(\.stringValue).joined(separator: ".")): \(c.debugDescription)")
        } catch let DecodingError.keyNotFound(key, _) {
            throw ParleyError(.badRequest, "missing field \(key.stringValue)")
        } catch {
            throw ParleyError(.badRequest, "malformed data")
        }
    }
}

// MARK: Payloads

/// A payload naming a room by its id string.
protocol RoomPayload {
    var roomId: String { get }
}

extension RoomPayload {
    /// The room id; a string that is not an id names no room.
    func room() throws -> ObjectId {
        guard let id = ObjectId(roomId) else { throw ParleyError(.notFound, "no such room") }
        return id
    }
}

struct RoomRef: Decodable, RoomPayload { let roomId: String }

struct JoinBody: Decodable, RoomPayload {
    let roomId: String
    let historyLimit: Int?
}

struct SendBody: Decodable, RoomPayload {
    let roomId: String
    let text: String
    let clientId: String
}

struct PrivateBody: Decodable {
    let toUserId: String
    let text: String
    let clientId: String
}

struct CursorBody: Decodable, RoomPayload {
    let roomId: String
    let seq: Int
}

struct HistoryBody: Decodable, RoomPayload {
    let roomId: String
    let beforeSeq: Int?
    let afterSeq: Int?
    let limit: Int?
}

struct TypingBody: Decodable, RoomPayload {
    let roomId: String
    let isTyping: Bool
}

struct ActivityBody: Decodable, RoomPayload {
    let roomId: String
    let kind: String
    let data: BSONValue?
}

struct PresenceBody: Decodable { let status: PresenceStatus }

struct JoinReply: Encodable, Sendable {
    let room: Room
    let participants: [User]
    let history: [Message]
}

struct MessageReply: Encodable, Sendable { let message: Message }

struct HistoryReply: Encodable, Sendable {
    let messages: [Message]
    let hasMore: Bool
}

struct TypingPush: Encodable {
    let roomId: String
    let userId: String
    let username: String
    let isTyping: Bool
}

struct ActivityPush: Encodable {
    let roomId: String
    let userId: String
    let kind: String
    let data: BSONValue
}
