import Foundation
import Mongo
import ParleyCore

/// The client events of the wire contract, independent of the transport: `/ws` and
/// Socket.IO both decode each frame into a `ClientEvent`, hand it here and send back
/// what it returns as the ack.
struct RealtimeEvents: Sendable {
    let services: ParleyServices

    private var notifier: RoomNotifier { services.notifier }

    /// An event's answer: the ack's `data` now, or a wait for it (a message send
    /// awaiting its database write) that the transport runs off its read loop.
    enum Reply: Sendable {
        case now(any Encodable & Sendable)
        case later(@Sendable () async throws -> any Encodable & Sendable)
    }

    /// Handles one event: one handler per event of the contract. Sends are queued
    /// before this returns, so a connection's messages keep the order it sent them in.
    /// Throws a `ParleyError`.
    func handle(_ event: ClientEvent, connection: Connection) async throws -> Reply {
        let user = connection.user
        switch event {
        case .messageSend(let body): return try await send(body, connection: connection)
        case .messagePrivate(let body): return try await sendPrivate(body, connection: connection)
        case .auth, .ping: return .now(EmptyObject())
        case .roomsList: return .now(["rooms": try await services.rooms.rooms(for: user)])
        case .roomCreate(let body): return .now(try await create(body, user: user))
        case .roomJoin(let body): return .now(try await join(body, user: user))
        case .roomLeave(let body): return .now(try await leave(body, user: user))
        case .messageDelivered(let body): return .now(try await moveCursor(body, user: user, read: false))
        case .messageRead(let body): return .now(try await moveCursor(body, user: user, read: true))
        case .history(let body): return .now(try await history(body, user: user))
        case .typing(let body): return .now(try await typing(body, user: user))
        case .roomActivity(let body): return .now(try await activity(body, user: user))
        case .presenceSet(let body): return .now(try await setPresence(body, user: user))
        }
    }

    // MARK: One handler per event

    private func send(_ body: SendBody, connection: Connection) async throws -> Reply {
        try services.messageLimiter.consume(connection.userId.hex)
        try SendPipeline.validate(text: body.text, clientId: body.clientId, maxChars: services.config.messageMaxChars)
        let roomId = try body.room()
        try await requireMember(roomId, user: connection.user)
        return try store(roomId: roomId, text: body.text, clientId: body.clientId, connection: connection)
    }

    private func sendPrivate(_ body: PrivateBody, connection: Connection) async throws -> Reply {
        try services.messageLimiter.consume(connection.userId.hex)
        try SendPipeline.validate(text: body.text, clientId: body.clientId, maxChars: services.config.messageMaxChars)
        let roomId = try await directRoom(to: body.toUserId, from: connection.user)
        return try store(roomId: roomId, text: body.text, clientId: body.clientId, connection: connection)
    }

    private func create(_ body: CreateRoomInput, user: UserRecord) async throws -> [String: Room] {
        let room = try await services.rooms.create(try body.newRoom(forcing: nil), by: user)
        if let id = ObjectId(room.id) { services.membershipEffects.created(id, by: user.id) }
        return ["room": room]
    }

    private func leave(_ body: RoomRef, user: UserRecord) async throws -> EmptyObject {
        let roomId = try body.room()
        if try await services.rooms.leave(roomId, user: user) { services.membershipEffects.left(roomId, userId: user.id) }
        return EmptyObject()
    }

    private func moveCursor(_ body: CursorBody, user: UserRecord, read: Bool) async throws -> EmptyObject {
        let m = try await services.history.moveCursor(roomId: try body.room(), user: user, seq: body.seq, read: read)
        notifier.cursorMoved(m)
        return EmptyObject()
    }

    private func history(_ body: HistoryBody, user: UserRecord) async throws -> HistoryReply {
        let page = try await services.history.history(roomId: try body.room(), user: user, before: body.beforeSeq, after: body.afterSeq, limit: body.limit)
        return HistoryReply(messages: page.messages.map(Message.init), hasMore: page.hasMore)
    }

    private func typing(_ body: TypingBody, user: UserRecord) async throws -> EmptyObject {
        try services.eventLimiter.consume(user.id.hex)
        let roomId = try body.room()
        try await requireMember(roomId, user: user)
        notifier.ephemeral("typing", TypingPush(roomId: roomId.hex, userId: user.id.hex, username: user.username, isTyping: body.isTyping), to: roomId, from: user.id)
        return EmptyObject()
    }

    private func activity(_ body: ActivityBody, user: UserRecord) async throws -> EmptyObject {
        try services.eventLimiter.consume(user.id.hex)
        guard (1...32).contains(body.kind.unicodeScalars.count) else { throw ParleyError(.badRequest, "kind must be 1 to 32 characters") }
        let data = body.data ?? .null
        guard try WireFrames.json(data).count <= 4096 else { throw ParleyError(.tooLarge, "activity data must be at most 4 KiB") }
        let roomId = try body.room()
        try await requireMember(roomId, user: user)
        notifier.ephemeral("room:activity", ActivityPush(roomId: roomId.hex, userId: user.id.hex, kind: body.kind, data: data), to: roomId, from: user.id)
        return EmptyObject()
    }

    private func setPresence(_ body: PresenceBody, user: UserRecord) async throws -> EmptyObject {
        guard body.status != .offline else { throw ParleyError(.badRequest, "status must be online, away or busy") }
        try await services.accounts.setPresence(id: user.id, status: body.status, lastSeenAt: nil)
        notifier.presenceChanged(userId: user.id, status: body.status, lastSeenAt: nil)
        return EmptyObject()
    }

    private func join(_ body: JoinBody, user: UserRecord) async throws -> JoinReply {
        let roomId = try body.room()
        let limit = try HistoryService.checkHistoryLimit(body.historyLimit)
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
        return .later {
            let outcome = try await promise.value()
            return try WireFrames.message(outcome.message, in: outcome.encoded)
        }
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
}

// MARK: Replies and pushes

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
