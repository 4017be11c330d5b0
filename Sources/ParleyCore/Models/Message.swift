import Foundation
import Mongo

/// A message as stored in `messages`: one document per message, whatever the number
/// of recipients. `{roomId, seq}` and `{senderId, clientId}` are unique.
public struct MessageRecord: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var roomId: ObjectId
    public var seq: Int
    public var senderId: ObjectId
    public var senderName: String
    public var text: String
    public var clientId: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey { case id = "_id", roomId, seq, senderId, senderName, text, clientId, createdAt }

    public init(
        id: ObjectId = ObjectId(), roomId: ObjectId, seq: Int, senderId: ObjectId, senderName: String, text: String, clientId: String,
        createdAt: Date = Date()
    ) {
        self.id = id
        self.roomId = roomId
        self.seq = seq
        self.senderId = senderId
        self.senderName = senderName
        self.text = text
        self.clientId = clientId
        self.createdAt = createdAt.bsonPrecision
    }
}

/// A message on the wire: `{id, roomId, seq, senderId, senderName, text, clientId, createdAt}`.
public struct Message: Codable, Sendable, Equatable {
    public var id: String
    public var roomId: String
    public var seq: Int
    public var senderId: String
    public var senderName: String
    public var text: String
    public var clientId: String
    public var createdAt: Date

    public init(_ m: MessageRecord) {
        id = m.id.hex
        roomId = m.roomId.hex
        seq = m.seq
        senderId = m.senderId.hex
        senderName = m.senderName
        text = m.text
        clientId = m.clientId
        createdAt = m.createdAt
    }
}
