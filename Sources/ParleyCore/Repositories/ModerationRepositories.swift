import Foundation
import Mongo

/// Storage of room bans (`bans`, one per room and user; the TTL index on `until`
/// removes expired ones, and reads ignore them before it runs).
public struct BanRepository: Sendable {
    let bans: MongoCollection<BanRecord>

    public init(database: MongoDatabase) { bans = database.collection("bans", withType: BanRecord.self) }

    /// Bans (or re-bans with new terms) a user from a room.
    public func put(_ ban: BanRecord) async throws {
        var fields = try BSONEncoder().encode(ban)
        fields["_id"] = nil
        try await bans.updateOne(
            ["roomId": .objectId(ban.roomId), "userId": .objectId(ban.userId)], ["$set": .document(fields), "$setOnInsert": ["_id": .objectId(ban.id)]],
            upsert: true)
    }

    /// The active ban of a user in a room, if any.
    public func active(roomId: ObjectId, userId: ObjectId, now: Date = Date()) async throws -> BanRecord? {
        try await bans.findOne(["roomId": .objectId(roomId), "userId": .objectId(userId), "until": ["$gt": .date(now)]])
    }

    /// Lifts a ban; false when there was none.
    public func remove(roomId: ObjectId, userId: ObjectId) async throws -> Bool {
        try await bans.deleteOne(["roomId": .objectId(roomId), "userId": .objectId(userId)]).deletedCount == 1
    }

    /// A room's active bans, oldest first.
    public func list(roomId: ObjectId, limit: Int = 500, now: Date = Date()) async throws -> [BanRecord] {
        try await bans.find(["roomId": .objectId(roomId), "until": ["$gt": .date(now)]], options: FindOptions(sort: ["at": 1], limit: limit)).toArray()
    }

    @discardableResult
    public func removeAll(roomId: ObjectId) async throws -> Int { try await bans.deleteMany(["roomId": .objectId(roomId)]).deletedCount }
}

/// Storage of invite codes (`invites`; the TTL index on `expiresAt` removes old ones).
public struct InviteRepository: Sendable {
    let invites: MongoCollection<InviteRecord>

    public init(database: MongoDatabase) { invites = database.collection("invites", withType: InviteRecord.self) }

    public func create(_ invite: InviteRecord) async throws { try await invites.insertOne(invite) }

    public func find(code: String) async throws -> InviteRecord? { try await invites.findOne(["_id": .string(code)]) }

    /// Takes one use of a live invite, atomically: nil when it is unknown, expired or
    /// used up (two accepts of a one-use code: one wins).
    public func use(code: String, now: Date = Date()) async throws -> InviteRecord? {
        try await invites.findOneAndUpdate(
            [
                "_id": .string(code), "expiresAt": ["$gt": .date(now)],
                "$or": [["maxUses": .null], ["$expr": ["$lt": ["$uses", "$maxUses"]]]],
            ],
            ["$inc": ["uses": 1]])
    }

    /// Gives a use back (the join it was taken for did not happen).
    public func giveBack(code: String) async throws { try await invites.updateOne(["_id": .string(code), "uses": ["$gt": 0]], ["$inc": ["uses": -1]]) }

    public func delete(code: String) async throws -> Bool { try await invites.deleteOne(["_id": .string(code)]).deletedCount == 1 }

    /// A room's live invites, newest first.
    public func list(roomId: ObjectId, now: Date = Date()) async throws -> [InviteRecord] {
        try await invites.find(["roomId": .objectId(roomId), "expiresAt": ["$gt": .date(now)]], options: FindOptions(sort: ["createdAt": -1], limit: 200))
            .toArray()
    }

    @discardableResult
    public func removeAll(roomId: ObjectId) async throws -> Int { try await invites.deleteMany(["roomId": .objectId(roomId)]).deletedCount }
}

/// The audit trail (`audit`): appended to, read newest first by room.
public struct AuditRepository: Sendable {
    let entries: MongoCollection<AuditRecord>

    public init(database: MongoDatabase) { entries = database.collection("audit", withType: AuditRecord.self) }

    public func append(_ entry: AuditRecord) async throws { try await entries.insertOne(entry) }

    /// A room's entries, newest first, older than the entry `before` (an id) when given.
    public func list(roomId: ObjectId, before: ObjectId?, limit: Int) async throws -> [AuditRecord] {
        var filter: BSONDocument = ["roomId": .objectId(roomId)]
        if let before { filter["_id"] = ["$lt": .objectId(before)] }
        return try await entries.find(filter, options: FindOptions(sort: ["_id": -1], limit: limit)).toArray()
    }
}
