import Foundation
import Mongo
import ParleyCore

/// Every change to a stored message as one call, for REST and the sockets alike:
/// the change (`MessageChanges`), then `message:updated {message, updateSeq}` to
/// every member's connections on every node. Also the reads that go with them: a
/// thread, a room's pins.
struct MessageActions: Sendable {
    let services: ParleyServices

    private var changes: MessageChanges { services.changes }

    struct Updated: Encodable, Sendable {
        let message: Message
        /// The room's update sequence of this change: a client acknowledges what it
        /// has seen with `message:delivered {roomId, seq, updateSeq}`.
        let updateSeq: Int
    }

    struct ThreadPage: Encodable, Sendable {
        let root: Message
        let messages: [Message]
        let hasMore: Bool
    }

    struct Messages: Encodable, Sendable { let messages: [Message] }

    func edit(_ messageId: String, in roomId: String?, text: String, user: UserRecord) async throws -> MessageReply {
        let changed = try await changes.edit(messageId, in: roomId, text: text, user: user, maxChars: services.config.messageMaxChars)
        if let words = changed?.message.words { try await services.vocabulary.learn(words) }
        return try await answer(changed, messageId)
    }

    /// A tombstone; the files only it carried are deleted with it.
    func delete(_ messageId: String, in roomId: String?, user: UserRecord) async throws {
        let changed = try await changes.delete(messageId, in: roomId, user: user)
        _ = try await answer(changed, messageId)
        if let changed { try await services.uploads.messageDeleted(changed.message.id) }
    }

    func react(_ messageId: String, in roomId: String?, emoji: String, add: Bool, user: UserRecord) async throws -> MessageReply {
        try services.eventLimiter.consume(user.id.hex)
        return try await answer(try await changes.react(messageId, in: roomId, emoji: emoji, add: add, user: user), messageId)
    }

    func pin(_ messageId: String, in roomId: String?, pinned: Bool, user: UserRecord) async throws -> MessageReply {
        try await answer(try await changes.pin(messageId, in: roomId, pinned: pinned, user: user), messageId)
    }

    /// `message:updated` to the room for a change made; the message as it is now either way.
    private func answer(_ changed: MessageChanges.Changed?, _ messageId: String) async throws -> MessageReply {
        if let changed {
            announce(changed)
            return MessageReply(message: Message(changed.message))
        }
        guard let id = ObjectId(messageId), let m = try await services.repos.messages.find(id: id) else { throw ParleyError(.notFound, "no such message") }
        return MessageReply(message: Message(m))
    }

    func announce(_ changed: MessageChanges.Changed) {
        services.notifier.toRoom("message:updated", Updated(message: Message(changed.message), updateSeq: changed.updateSeq), changed.message.roomId)
    }

    /// A thread: its root and its replies by seq, for members of the root's room.
    func thread(_ messageId: String, after: Int?, limit: Int?, user: UserRecord) async throws -> ThreadPage {
        let n = try Paging.limit(limit, default: 50, max: 200)
        if let after, after < 0 { throw ParleyError(.badRequest, "after must be 0 or more") }
        let (root, _) = try await changes.locate(messageId, in: nil, user: user)
        let found = try await services.repos.messages.thread(rootId: root.id, after: after ?? 0, limit: n + 1)
        return ThreadPage(root: Message(root), messages: found.prefix(n).map(Message.init), hasMore: found.count > n)
    }

    /// A room's pinned messages, for its members.
    func pins(_ roomId: ObjectId, user: UserRecord) async throws -> Messages {
        _ = try await services.rooms.memberRoom(roomId, for: user)
        return Messages(messages: try await services.repos.messages.pinned(roomId: roomId, limit: 200).map(Message.init))
    }
}
