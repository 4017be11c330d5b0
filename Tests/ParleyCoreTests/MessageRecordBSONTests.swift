import Foundation
import Mongo
import ParleyCore
import Testing

/// `MessageRecord.bsonDocument()` (the send path's encoding) against the synthesized
/// `encode(to:)` it stands in for: the same fields, in the same order, to the byte,
/// and read back to the same record.
@Suite("A stored message's BSON, written by hand")
struct MessageRecordBSONTests {
    /// Hides the record's own document, so `BSONEncoder` takes the Codable path.
    struct ThroughCodable: Encodable {
        let record: MessageRecord
        func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
    }

    static func check(_ record: MessageRecord) throws {
        let own = try BSONEncoder().encode(record)
        let codable = try BSONEncoder().encode(ThroughCodable(record: record))
        #expect(own.keys == codable.keys)
        #expect(try own.bsonBytes() == codable.bsonBytes())
        #expect(try BSONDecoder().decode(MessageRecord.self, from: own) == record)
    }

    @Test("a plain message, as the send path stores most")
    func plain() throws {
        try Self.check(MessageRecord(roomId: ObjectId(), seq: 42, senderId: ObjectId(), senderName: "Ann", text: "hello there", clientId: "c-1"))
        try Self.check(
            MessageRecord(
                roomId: ObjectId(), seq: 1, senderId: ObjectId(), senderName: "Bø", text: "Café, naïve: 東京", clientId: "c",
                extras: MessageExtras(words: SearchWords.index("Café, naïve: 東京"))))
    }

    @Test("every optional field set: reply, thread, reactions, mentions, pin, revisions, files, edits and a tombstone")
    func everyField() throws {
        let original = MessageRecord(roomId: ObjectId(), seq: 3, senderId: ObjectId(), senderName: "Cy", text: "the root", clientId: "r")
        let file = Attachment(id: ObjectId(), name: "a.png", contentType: "image/png", size: 1234, sha256: String(repeating: "ab", count: 32), width: 10, height: nil)
        var m = MessageRecord(
            roomId: original.roomId, seq: 9, senderId: ObjectId(), senderName: "Di", text: "a reply @cy", clientId: "x",
            createdAt: Date(timeIntervalSince1970: 1_800_000_000.123),
            extras: MessageExtras(replyTo: ReplyRef(original), threadId: original.id, mentions: [original.senderId], words: ["a", "reply", "cy"], attachments: [file]))
        m.editedAt = Date(timeIntervalSince1970: 1_800_000_100.5)
        m.replyCount = 2
        m.lastReplyAt = Date(timeIntervalSince1970: 1_800_000_200)
        m.reactions = [ReactionRecord(emoji: "👍", users: [ObjectId(), ObjectId()])]
        m.pinned = true
        m.rev = 4
        m.useq = 17
        try Self.check(m)
        m.deletedAt = Date(timeIntervalSince1970: 1_800_000_300)
        m.pinned = false
        m.reactions = []
        try Self.check(m)
    }
}
