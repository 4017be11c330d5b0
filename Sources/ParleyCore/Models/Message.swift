import Foundation
import Mongo

/// A message as stored in `messages`: one document per message, whatever the number
/// of recipients. `{roomId, seq}` and `{senderId, clientId}` are unique. Every field
/// after `createdAt` is optional in storage (messages stored before migration 0005
/// have none) and read through the accessors below.
public struct MessageRecord: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var roomId: ObjectId
    public var seq: Int
    public var senderId: ObjectId
    public var senderName: String
    public var text: String
    public var clientId: String
    public var createdAt: Date
    public var editedAt: Date?
    /// A tombstone: `text` is empty, reactions and attachments are gone, `seq` stays.
    public var deletedAt: Date?
    public var replyTo: ReplyRef?
    /// The thread's root message, for a reply in a thread.
    public var threadId: ObjectId?
    /// On a thread's root: how many replies, and the latest one's time.
    public var replyCount: Int?
    public var lastReplyAt: Date?
    public var reactions: [ReactionRecord]?
    /// The members `@username` named, resolved at send time.
    public var mentions: [ObjectId]?
    public var pinned: Bool?
    /// +1 on every change; the compare-and-set of `MessageChanges`.
    public var rev: Int?
    /// The room's update sequence at the message's last change (`rooms.updateSeq`):
    /// what a member who was away has not seen is `useq > updatesSeen`.
    public var useq: Int?
    /// The folded words of `text`, for search (`SearchWords`).
    public var words: [String]?
    /// The uploads it carries, as they were when it was sent.
    public var attachments: [Attachment]?

    enum CodingKeys: String, CodingKey {
        case id = "_id", roomId, seq, senderId, senderName, text, clientId, createdAt, editedAt, deletedAt, replyTo, threadId, replyCount,
            lastReplyAt, reactions, mentions, pinned, rev, useq, words, attachments
    }

    public init(
        id: ObjectId = ObjectId(), roomId: ObjectId, seq: Int, senderId: ObjectId, senderName: String, text: String, clientId: String,
        createdAt: Date = Date(), extras: MessageExtras = MessageExtras()
    ) {
        self.id = id
        self.roomId = roomId
        self.seq = seq
        self.senderId = senderId
        self.senderName = senderName
        self.text = text
        self.clientId = clientId
        self.createdAt = createdAt.bsonPrecision
        self.replyTo = extras.replyTo
        self.threadId = extras.threadId
        self.mentions = extras.mentions.isEmpty ? nil : extras.mentions
        self.words = extras.words
        self.attachments = extras.attachments.isEmpty ? nil : extras.attachments
    }

    public var revision: Int { rev ?? 0 }
    public var isDeleted: Bool { deletedAt != nil }
}

/// What a send carries besides its text, settled before it is queued (off the
/// pipeline's one write): the reply's quote, the thread, the members mentioned and
/// the search words.
public struct MessageExtras: Sendable, Equatable {
    public var replyTo: ReplyRef?
    public var threadId: ObjectId?
    public var mentions: [ObjectId]
    public var words: [String]?
    public var attachments: [Attachment]

    public init(
        replyTo: ReplyRef? = nil, threadId: ObjectId? = nil, mentions: [ObjectId] = [], words: [String]? = nil, attachments: [Attachment] = []
    ) {
        self.replyTo = replyTo
        self.threadId = threadId
        self.mentions = mentions
        self.words = words
        self.attachments = attachments
    }
}

/// What a reply quotes of the message it answers, as it was then.
public struct ReplyRef: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var seq: Int
    public var senderId: ObjectId
    public var senderName: String
    public var excerpt: String

    /// The excerpt: the first 140 characters of the original.
    public init(_ original: MessageRecord) {
        id = original.id
        seq = original.seq
        senderId = original.senderId
        senderName = original.senderName
        excerpt = original.isDeleted ? "" : String(original.text.unicodeScalars.prefix(140).map(Character.init))
    }
}

/// One emoji's reactions: who reacted, in order.
public struct ReactionRecord: Codable, Sendable, Equatable {
    public var emoji: String
    public var users: [ObjectId]

    public init(emoji: String, users: [ObjectId]) {
        self.emoji = emoji
        self.users = users
    }
}

/// A message on the wire: v1's `{id, roomId, seq, senderId, senderName, text,
/// clientId, createdAt}` and v2's `editedAt, deletedAt, replyTo, threadId,
/// replyCount, lastReplyAt, reactions, mentions, pinned, attachments, rev`, every one
/// written (null when unset).
public struct Message: Codable, Sendable, Equatable {
    public struct Reply: Codable, Sendable, Equatable {
        public var id: String
        public var seq: Int
        public var senderId: String
        public var senderName: String
        public var excerpt: String
    }

    public struct Reaction: Codable, Sendable, Equatable {
        public var emoji: String
        public var count: Int
        /// The first 20 who reacted.
        public var userIds: [String]
    }

    public var id: String
    public var roomId: String
    public var seq: Int
    public var senderId: String
    public var senderName: String
    public var text: String
    public var clientId: String
    public var createdAt: Date
    public var editedAt: Date?
    public var deletedAt: Date?
    public var replyTo: Reply?
    public var threadId: String?
    public var replyCount: Int
    public var lastReplyAt: Date?
    public var reactions: [Reaction]
    public var mentions: [String]
    public var pinned: Bool
    public var attachments: [Attachment]
    public var rev: Int

    public init(_ m: MessageRecord) {
        id = m.id.hex
        roomId = m.roomId.hex
        seq = m.seq
        senderId = m.senderId.hex
        senderName = m.senderName
        text = m.text
        clientId = m.clientId
        createdAt = m.createdAt
        editedAt = m.editedAt
        deletedAt = m.deletedAt
        replyTo = m.replyTo.map { Reply(id: $0.id.hex, seq: $0.seq, senderId: $0.senderId.hex, senderName: $0.senderName, excerpt: $0.excerpt) }
        threadId = m.threadId?.hex
        replyCount = m.replyCount ?? 0
        lastReplyAt = m.lastReplyAt
        reactions = (m.reactions ?? []).map { Reaction(emoji: $0.emoji, count: $0.users.count, userIds: $0.users.prefix(20).map(\.hex)) }
        mentions = (m.mentions ?? []).map(\.hex)
        pinned = m.pinned ?? false
        attachments = m.isDeleted ? [] : m.attachments ?? []
        rev = m.revision
    }

    enum CodingKeys: String, CodingKey {
        case id, roomId, seq, senderId, senderName, text, clientId, createdAt, editedAt, deletedAt, replyTo, threadId, replyCount, lastReplyAt,
            reactions, mentions, pinned, attachments, rev
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(roomId, forKey: .roomId)
        try c.encode(seq, forKey: .seq)
        try c.encode(senderId, forKey: .senderId)
        try c.encode(senderName, forKey: .senderName)
        try c.encode(text, forKey: .text)
        try c.encode(clientId, forKey: .clientId)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(editedAt, forKey: .editedAt)
        try c.encode(deletedAt, forKey: .deletedAt)
        try c.encode(replyTo, forKey: .replyTo)
        try c.encode(threadId, forKey: .threadId)
        try c.encode(replyCount, forKey: .replyCount)
        try c.encode(lastReplyAt, forKey: .lastReplyAt)
        try c.encode(reactions, forKey: .reactions)
        try c.encode(mentions, forKey: .mentions)
        try c.encode(pinned, forKey: .pinned)
        try c.encode(attachments, forKey: .attachments)
        try c.encode(rev, forKey: .rev)
    }
}
