import Foundation
import Mongo

/// An invite code as stored in `invites` (the code is the `_id`): accepting it joins
/// the room, even a private one, until it expires or runs out of uses.
public struct InviteRecord: Codable, Sendable, Equatable {
    public var code: String
    public var roomId: ObjectId
    public var createdBy: ObjectId
    public var createdAt: Date
    /// The TTL index removes the invite after this instant.
    public var expiresAt: Date
    /// nil: any number of uses.
    public var maxUses: Int?
    public var uses: Int

    enum CodingKeys: String, CodingKey { case code = "_id", roomId, createdBy, createdAt, expiresAt, maxUses, uses }

    public init(roomId: ObjectId, createdBy: ObjectId, expiresAt: Date, maxUses: Int?, code: String = InviteRecord.newCode(), now: Date = Date()) {
        self.code = code
        self.roomId = roomId
        self.createdBy = createdBy
        self.createdAt = now.bsonPrecision
        self.expiresAt = expiresAt.bsonPrecision
        self.maxUses = maxUses
        self.uses = 0
    }

    /// 12 characters of `[A-Za-z0-9]` from the system's random source (71 bits): a
    /// code cannot be guessed, and it reads well in a link.
    public static func newCode() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var rng = SystemRandomNumberGenerator()
        return String((0..<12).map { _ in alphabet[Int(rng.next(upperBound: UInt64(alphabet.count)))] })
    }

    /// Whether a code a client sent can be one of ours (before any database read).
    public static func isWellFormed(_ code: String) -> Bool {
        code.utf8.count == 12 && code.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
    }
}

/// An invite on the wire: `{code, roomId, expiresAt, maxUses, uses}`.
public struct Invite: Encodable, Sendable {
    public let code: String
    public let roomId: String
    public let expiresAt: Date
    public let maxUses: Int?
    public let uses: Int
    public let createdBy: String

    public init(_ r: InviteRecord) {
        code = r.code
        roomId = r.roomId.hex
        expiresAt = r.expiresAt
        maxUses = r.maxUses
        uses = r.uses
        createdBy = r.createdBy.hex
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(roomId, forKey: .roomId)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(maxUses, forKey: .maxUses)
        try c.encode(uses, forKey: .uses)
        try c.encode(createdBy, forKey: .createdBy)
    }
    enum CodingKeys: String, CodingKey { case code, roomId, expiresAt, maxUses, uses, createdBy }
}
