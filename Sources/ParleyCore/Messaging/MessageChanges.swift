import Foundation
import Mongo

/// Every change to a stored message: edit, delete (a tombstone), reactions, pins, and
/// a thread root's reply count. Each is a compare-and-set on the message's `rev`
/// (read, change, write where `rev` is unchanged, again on a race), so concurrent
/// reactions and edits never lose one another; each takes the room's next update
/// sequence (`useq`), by which a member who was away is sent what changed.
public struct MessageChanges: Sendable {
    public let rooms: RoomService
    var repos: ParleyRepositories { rooms.repos }

    /// At most this many distinct emoji on one message.
    public static let maxReactions = 20

    public init(rooms: RoomService) { self.rooms = rooms }

    /// A changed message and the room's update sequence its change took.
    public struct Changed: Sendable {
        public let message: MessageRecord
        public let updateSeq: Int
    }

    /// What one change does to the message as it is now: the fields to set and to
    /// unset; nil when there is nothing to change (an idempotent repeat).
    typealias Mutation = @Sendable (MessageRecord) throws -> (set: BSONDocument, unset: [String])?

    /// Edits a message: only its sender, not once deleted, not in an archived room or
    /// while muted. The search words follow the text; the mentions stay as sent.
    public func edit(_ messageId: String, in roomId: String?, text: String, user: UserRecord, maxChars: Int) async throws -> Changed? {
        try SendPipeline.validate(text: text, clientId: "edit", maxChars: maxChars)
        let (message, actor) = try await locate(messageId, in: roomId, user: user)
        try postable(actor)
        guard message.senderId == user.id else { throw ParleyError(.forbidden, "only the sender edits a message") }
        return try await change(message.id) { m in
            guard !m.isDeleted else { throw ParleyError(.badRequest, "a deleted message cannot be edited") }
            guard m.text != text else { return nil }
            var set: BSONDocument = ["text": .string(text), "editedAt": .date(Date().bsonPrecision)]
            // No words (punctuation, symbols): none indexed, the field removed (the
            // validator takes an array or nothing).
            guard let words = SearchWords.index(text) else { return (set, ["words"]) }
            set["words"] = .array(words.map { .string($0) })
            return (set, [])
        }
    }

    /// Deletes a message, leaving a tombstone (same id and seq, `text` empty, no
    /// reactions, not pinned): its sender, a moderator or owner, or an admin.
    public func delete(_ messageId: String, in roomId: String?, user: UserRecord) async throws -> Changed? {
        let (message, actor) = try await locate(messageId, in: roomId, user: user, adminMayAct: true)
        if message.senderId != user.id { try actor.require(.moderator, to: "delete others' messages") }
        return try await change(message.id) { m in
            guard !m.isDeleted else { return nil }
            return (["text": "", "deletedAt": .date(Date().bsonPrecision), "pinned": false], ["reactions", "words", "mentions", "attachments"])
        }
    }

    /// Adds or removes the user's reaction; idempotent. At most 20 distinct emoji.
    public func react(_ messageId: String, in roomId: String?, emoji: String, add: Bool, user: UserRecord) async throws -> Changed? {
        let trimmed = emoji.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...32).contains(emoji.unicodeScalars.count), !trimmed.isEmpty, trimmed == emoji else {
            throw ParleyError(.badRequest, "emoji must be 1 to 32 characters, without spaces around it")
        }
        let (message, actor) = try await locate(messageId, in: roomId, user: user)
        try postable(actor)
        let me = user.id
        return try await change(message.id) { m in
            guard !m.isDeleted else { throw ParleyError(.badRequest, "a deleted message takes no reactions") }
            var reactions = m.reactions ?? []
            let at = reactions.firstIndex { $0.emoji == emoji }
            if add {
                if let at {
                    guard !reactions[at].users.contains(me) else { return nil }
                    reactions[at].users.append(me)
                } else {
                    guard reactions.count < MessageChanges.maxReactions else {
                        throw ParleyError(.badRequest, "a message takes at most \(MessageChanges.maxReactions) different reactions")
                    }
                    reactions.append(ReactionRecord(emoji: emoji, users: [me]))
                }
            } else {
                guard let at, reactions[at].users.contains(me) else { return nil }
                reactions[at].users.removeAll { $0 == me }
                if reactions[at].users.isEmpty { reactions.remove(at: at) }
            }
            return (["reactions": try BSONEncoder().encodeValue(reactions)], [])
        }
    }

    /// Pins or unpins: moderators and owners (and admins).
    public func pin(_ messageId: String, in roomId: String?, pinned: Bool, user: UserRecord) async throws -> Changed? {
        let (message, actor) = try await locate(messageId, in: roomId, user: user, adminMayAct: true)
        try actor.require(.moderator, to: "pin messages")
        return try await change(message.id) { m in
            guard !m.isDeleted || !pinned else { throw ParleyError(.badRequest, "a deleted message cannot be pinned") }
            guard (m.pinned ?? false) != pinned else { return nil }
            return (["pinned": .bool(pinned)], [])
        }
    }

    /// A reply was stored in the thread of `rootId`: the root counts it.
    public func replyAdded(to rootId: ObjectId, at time: Date) async throws -> Changed? {
        try await change(rootId) { m in
            let latest = max(m.lastReplyAt ?? time, time)
            return (["replyCount": .int64(Int64((m.replyCount ?? 0) + 1)), "lastReplyAt": .date(latest.bsonPrecision)], [])
        }
    }

    /// The message and who acts on it: `not_found` for an unknown id, one in another
    /// room than `roomId`, or one the user may not see; `forbidden` for a non-member.
    public func locate(_ messageId: String, in roomId: String?, user: UserRecord, adminMayAct: Bool = false) async throws -> (MessageRecord, RoomActor) {
        guard let id = ObjectId(messageId), let message = try await repos.messages.find(id: id) else { throw ParleyError(.notFound, "no such message") }
        if let roomId, roomId != message.roomId.hex { throw ParleyError(.notFound, "no such message") }
        let actor: RoomActor
        do {
            actor = try await rooms.actor(message.roomId, user: user)
        } catch let e as ParleyError where e.code == .notFound {
            throw ParleyError(.notFound, "no such message")
        }
        guard actor.membership != nil || (adminMayAct && actor.isAdmin) else {
            throw actor.room.isVisibleToNonMembers ? ParleyError(.forbidden, "you are not a member of this room") : ParleyError(.notFound, "no such message")
        }
        return (message, actor)
    }

    /// `forbidden` in an archived room, or for a muted member.
    func postable(_ actor: RoomActor) throws {
        try actor.requireNotArchived()
        if let until = actor.membership?.muted() { throw ParleyError(.forbidden, "you are muted in this room", mutedUntil: until) }
    }

    /// The compare-and-set loop: at most 8 tries against concurrent changes.
    func change(_ id: ObjectId, _ mutate: Mutation) async throws -> Changed? {
        for _ in 0..<8 {
            guard let current = try await repos.messages.find(id: id) else { throw ParleyError(.notFound, "no such message") }
            guard let (set, unset) = try mutate(current) else { return nil }
            let useq = try await repos.rooms.nextUpdateSeq(id: current.roomId)
            var fields = set
            fields["useq"] = .int64(Int64(useq))
            var update: BSONDocument = ["$set": .document(fields), "$inc": ["rev": 1]]
            if !unset.isEmpty { update["$unset"] = .document(BSONDocument(unset.map { ($0, BSONValue.string("")) })) }
            if let changed = try await repos.messages.update(id: id, atRev: current.revision, update) {
                try await repos.rooms.refreshLastMessage(changed)
                return Changed(message: changed, updateSeq: useq)
            }
        }
        throw ParleyError(.conflict, "the message is changing too fast; try again")
    }
}
