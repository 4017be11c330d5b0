import Mongo

/// A stored message's document written field by field: the send path encodes every
/// message it inserts, and through the Codable encoder that was 9 % of the server's
/// CPU per stored message at the maximum rate. The fields and their order are the
/// synthesized `encode(to:)`'s (`MessageRecordBSONTests` compares the bytes); the
/// rare nested values (a reply's quote, reactions, attachments) still go through it.
extension MessageRecord: BSONDocumentEncodable {
    public func bsonDocument() throws -> BSONDocument {
        var d: BSONDocument = [
            "_id": .objectId(id), "roomId": .objectId(roomId), "seq": .int64(Int64(seq)), "senderId": .objectId(senderId),
            "senderName": .string(senderName), "text": .string(text), "clientId": .string(clientId), "createdAt": .date(createdAt),
        ]
        if let editedAt { d.append("editedAt", .date(editedAt)) }
        if let deletedAt { d.append("deletedAt", .date(deletedAt)) }
        if let replyTo { d.append("replyTo", try BSONEncoder().encodeValue(replyTo)) }
        if let threadId { d.append("threadId", .objectId(threadId)) }
        if let replyCount { d.append("replyCount", .int64(Int64(replyCount))) }
        if let lastReplyAt { d.append("lastReplyAt", .date(lastReplyAt)) }
        if let reactions { d.append("reactions", try BSONEncoder().encodeValue(reactions)) }
        if let mentions { d.append("mentions", .array(mentions.map { .objectId($0) })) }
        if let pinned { d.append("pinned", .bool(pinned)) }
        if let rev { d.append("rev", .int64(Int64(rev))) }
        if let useq { d.append("useq", .int64(Int64(useq))) }
        if let words { d.append("words", .array(words.map { .string($0) })) }
        if let attachments { d.append("attachments", try BSONEncoder().encodeValue(attachments)) }
        return d
    }
}
