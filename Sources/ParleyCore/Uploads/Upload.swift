import Foundation
import Mongo

/// A stored file (`uploads`; its bytes are the GridFS file of the same id): who
/// uploaded it, what it is (sniffed from its bytes), and the messages and rooms it
/// is attached to, which decide who may read it.
public struct UploadRecord: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var ownerId: ObjectId
    public var name: String
    public var contentType: String
    public var size: Int
    public var sha256: String
    public var width: Int?
    public var height: Int?
    public var createdAt: Date
    /// The messages carrying it, each with its room (whose members may read it). An
    /// upload may go out in several messages; it is deleted with the last of them.
    public var refs: [UploadRef]

    enum CodingKeys: String, CodingKey {
        case id = "_id", ownerId, name, contentType, size, sha256, width, height, createdAt, refs
    }

    public init(
        id: ObjectId, ownerId: ObjectId, name: String, contentType: String, size: Int, sha256: String, width: Int?, height: Int?,
        createdAt: Date = Date()
    ) {
        self.id = id
        self.ownerId = ownerId
        self.name = name
        self.contentType = contentType
        self.size = size
        self.sha256 = sha256
        self.width = width
        self.height = height
        self.createdAt = createdAt.bsonPrecision
        refs = []
    }

    /// What a message carries of it (and the wire's `upload` object).
    public var attachment: Attachment {
        Attachment(id: id, name: name, contentType: contentType, size: size, sha256: sha256, width: width, height: height)
    }
}

/// A message that carries an upload, and its room.
public struct UploadRef: Codable, Sendable, Equatable {
    public var messageId: ObjectId
    public var roomId: ObjectId

    public init(messageId: ObjectId, roomId: ObjectId) {
        self.messageId = messageId
        self.roomId = roomId
    }
}

/// An upload as a message carries it and the wire shows it: `{id, name, contentType,
/// size, sha256, width?, height?, url}` (`url` made from the id).
public struct Attachment: Codable, Sendable, Equatable {
    public var id: ObjectId
    public var name: String
    public var contentType: String
    public var size: Int
    public var sha256: String
    public var width: Int?
    public var height: Int?

    enum CodingKeys: String, CodingKey { case id, name, contentType, size, sha256, width, height, url }

    public init(id: ObjectId, name: String, contentType: String, size: Int, sha256: String, width: Int?, height: Int?) {
        self.id = id
        self.name = name
        self.contentType = contentType
        self.size = size
        self.sha256 = sha256
        self.width = width
        self.height = height
    }

    public var url: String { "/api/uploads/\(id.hex)" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(ObjectId.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        contentType = try c.decode(String.self, forKey: .contentType)
        size = try c.decode(Int.self, forKey: .size)
        sha256 = try c.decode(String.self, forKey: .sha256)
        width = try c.decodeIfPresent(Int.self, forKey: .width)
        height = try c.decodeIfPresent(Int.self, forKey: .height)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(contentType, forKey: .contentType)
        try c.encode(size, forKey: .size)
        try c.encode(sha256, forKey: .sha256)
        try c.encodeIfPresent(width, forKey: .width)
        try c.encodeIfPresent(height, forKey: .height)
        try c.encode(url, forKey: .url)
    }
}
