import Foundation
import Mongo
import ParleyCore

/// The client events of the wire contract, independent of the transport: `/ws` and
/// Socket.IO both decode each frame into a `ClientEvent`, hand it here and send back
/// what it returns as the ack.
struct RealtimeEvents: Sendable {
    let services: ParleyServices

    private var notifier: RoomNotifier { services.notifier }
    private var rooms: RoomActions { RoomActions(services: services) }
    private var messages: MessageActions { MessageActions(services: services) }

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
        case .roomCreate(let body): return .now(["room": try await rooms.create(body, user: user)])
        case .roomJoin(let body): return .now(try await join(body, user: user))
        case .roomLeave(let body):
            try await rooms.leave(try body.room(), user: user)
            return .now(EmptyObject())
        case .messageDelivered(let body): return .now(try await moveCursor(body, user: user, read: false))
        case .messageRead(let body): return .now(try await moveCursor(body, user: user, read: true))
        case .history(let body): return .now(try await history(body, user: user))
        case .typing(let body): return .now(try await typing(body, user: user))
        case .roomActivity(let body): return .now(try await activity(body, user: user))
        case .presenceSet(let body): return .now(try await setPresence(body, user: user))
        default: return .now(try await manage(event, user: user))
        }
    }

    /// The room management events: each is `RoomActions`' call, as REST makes it.
    private func manage(_ event: ClientEvent, user: UserRecord) async throws -> any Encodable & Sendable {
        switch event {
        case .roomUpdate(let b): return try await rooms.update(try b.roomId.roomId(), b.patch, user: user)
        case .roomDelete(let b):
            try await rooms.delete(try b.room(), user: user)
            return EmptyObject()
        case .roomMembers(let b): return try await rooms.members(try b.room(), after: b.after, limit: b.limit, user: user)
        case .roomMembersAdd(let b): return try await rooms.addMembers(try b.roomId.roomId(), b, user: user)
        case .roomMembersRemove(let b):
            try await rooms.removeMember(try b.roomId.roomId(), userId: try b.userId.required("userId"), reason: b.reason, user: user)
            return EmptyObject()
        case .roomRole(let b): return try await rooms.setRole(try b.roomId.roomId(), userId: try b.userId.required("userId"), role: b.role, user: user)
        case .roomBan(let b):
            try await rooms.ban(try b.roomId.roomId(), b, user: user)
            return EmptyObject()
        case .roomUnban(let b):
            try await rooms.unban(try b.room(), userId: b.userId, user: user)
            return EmptyObject()
        case .roomMute(let b):
            _ = try await rooms.mute(try b.roomId.roomId(), b, user: user)
            return EmptyObject()
        case .roomUnmute(let b):
            _ = try await rooms.unmute(try b.room(), userId: b.userId, user: user)
            return EmptyObject()
        case .roomInvite(let b): return try await rooms.createInvite(try b.roomId.roomId(), b, user: user)
        case .inviteAccept(let b): return try await rooms.acceptInvite(b.code, user: user)
        case .messageEdit(let b): return try await messages.edit(b.messageId, in: b.roomId, text: b.text, user: user)
        case .messageDelete(let b):
            try await messages.delete(b.messageId, in: b.roomId, user: user)
            return EmptyObject()
        case .reactionAdd(let b): return try await messages.react(b.messageId, in: b.roomId, emoji: b.emoji, add: true, user: user)
        case .reactionRemove(let b): return try await messages.react(b.messageId, in: b.roomId, emoji: b.emoji, add: false, user: user)
        case .messagePin(let b): return try await messages.pin(b.messageId, in: b.roomId, pinned: b.pinned, user: user)
        default: throw ParleyError(.badRequest, "unknown event")
        }
    }

    // MARK: One handler per event

    private var sender: MessageSender { MessageSender(services: services) }

    private func send(_ body: SendBody, connection: Connection) async throws -> Reply {
        let promise = try await sender.submit(body.request, to: try body.room(), from: connection.user, origin: connection.receivesOwnMessages ? nil : connection.id)
        return reply(to: promise)
    }

    private func sendPrivate(_ body: PrivateBody, connection: Connection) async throws -> Reply {
        let promise = try await sender.submit(body.request, toUser: body.toUserId, from: connection.user, origin: connection.receivesOwnMessages ? nil : connection.id)
        return reply(to: promise)
    }

    /// The ack of a send: the stored message's bytes, once the database has it.
    private func reply(to promise: Deferred<SendPipeline.Outcome>) -> Reply {
        .later {
            let outcome = try await promise.value()
            return try WireFrames.message(outcome.message, in: outcome.encoded)
        }
    }

    private func moveCursor(_ body: CursorBody, user: UserRecord, read: Bool) async throws -> EmptyObject {
        let m = try await services.history.moveCursor(roomId: try body.room(), user: user, seq: body.seq, read: read, updateSeq: body.updateSeq)
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
        try await services.gate.check(roomId, user: user.id, ephemeral: true)
        notifier.ephemeral("typing", TypingPush(roomId: roomId.hex, userId: user.id.hex, username: user.username, displayName: user.displayName, isTyping: body.isTyping), to: roomId, from: user.id)
        return EmptyObject()
    }

    private func activity(_ body: ActivityBody, user: UserRecord) async throws -> EmptyObject {
        try services.eventLimiter.consume(user.id.hex)
        guard (1...32).contains(body.kind.unicodeScalars.count) else { throw ParleyError(.badRequest, "kind must be 1 to 32 characters") }
        let data = body.data ?? .null
        guard try WireFrames.json(data).count <= 4096 else { throw ParleyError(.tooLarge, "activity data must be at most 4 KiB") }
        let roomId = try body.room()
        try await requireMember(roomId, user: user)
        try await services.gate.check(roomId, user: user.id, ephemeral: true)
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
        let room = try await rooms.join(roomId, user: user)
        let participants = try await services.rooms.participants(of: roomId)
        let history = try await services.history.latest(roomId: roomId, limit: limit)
        return JoinReply(room: room, participants: participants, history: history.map(Message.init))
    }

    private func requireMember(_ roomId: ObjectId, user: UserRecord) async throws { try await sender.requireMember(roomId, user: user) }
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
    /// The name people see (a guest's chosen name; its username is made up).
    let displayName: String
    let isTyping: Bool
}

struct ActivityPush: Encodable {
    let roomId: String
    let userId: String
    let kind: String
    let data: BSONValue
}
