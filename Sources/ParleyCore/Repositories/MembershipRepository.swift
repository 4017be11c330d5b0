import Foundation
import Mongo

/// Storage of memberships and their delivery cursors.
public protocol MembershipRepository: Sendable {
    /// Adds a membership; false when the user already was a member.
    func join(_ membership: MembershipRecord) async throws -> Bool
    /// Removes a membership; false when there was none.
    func leave(roomId: ObjectId, userId: ObjectId) async throws -> Bool
    func find(roomId: ObjectId, userId: ObjectId) async throws -> MembershipRecord?
    func forUser(_ userId: ObjectId) async throws -> [MembershipRecord]
    /// Every membership of these users, in one read (a cluster repair, a dead node's users).
    func forUsers(_ userIds: [ObjectId]) async throws -> [MembershipRecord]
    func forRoom(_ roomId: ObjectId, limit: Int) async throws -> [MembershipRecord]
    /// Moves cursors forward only (`$max`); reading implies delivery and clears the
    /// mentions read. Returns the membership after the update, nil when the user is
    /// not a member.
    func advance(roomId: ObjectId, userId: ObjectId, deliveredSeq: Int?, readSeq: Int?, updatesSeen: Int?) async throws -> MembershipRecord?
    /// Records a message's seq among the unread mentions of these members of the room.
    func addMention(roomId: ObjectId, userIds: [ObjectId], seq: Int) async throws
    /// The members whose cursor (`deliveredSeq` or `readSeq`) has reached `seq`.
    func userIds(roomId: ObjectId, cursor: DeliveryCursor, atLeast seq: Int) async throws -> [ObjectId]
    /// A page of a room's members in user id order, after `after` (exclusive).
    func page(roomId: ObjectId, after: ObjectId?, limit: Int) async throws -> [MembershipRecord]
    /// Sets the role when it is still `from` (a compare-and-set); nil when the member
    /// is gone or their role changed meanwhile.
    func setRole(roomId: ObjectId, userId: ObjectId, to role: RoomRole, from: RoomRole) async throws -> MembershipRecord?
    /// Sets or clears (`nil`) the end of a member's mute; nil when not a member.
    func setMute(roomId: ObjectId, userId: ObjectId, until: Date?) async throws -> MembershipRecord?
    /// Removes a membership and returns it, nil when there was none.
    func remove(roomId: ObjectId, userId: ObjectId) async throws -> MembershipRecord?
    /// Every member's user id (a room's deletion tells them all).
    func userIds(roomId: ObjectId) async throws -> [ObjectId]
    /// Removes every membership of a room; how many there were.
    @discardableResult func removeAll(roomId: ObjectId) async throws -> Int
}

/// The two delivery cursors of a membership.
public enum DeliveryCursor: String, Sendable {
    case delivered = "deliveredSeq"
    case read = "readSeq"
}

/// `MembershipRepository` over `memberships`.
public struct MongoMembershipRepository: MembershipRepository {
    let memberships: MongoCollection<MembershipRecord>

    public init(database: MongoDatabase) { memberships = database.collection("memberships", withType: MembershipRecord.self) }

    public func join(_ membership: MembershipRecord) async throws -> Bool {
        do {
            try await memberships.insertOne(membership)
            return true
        } catch let e as MongoError where e.code == .duplicateKey {
            return false
        }
    }

    public func leave(roomId: ObjectId, userId: ObjectId) async throws -> Bool {
        try await memberships.deleteOne(["roomId": .objectId(roomId), "userId": .objectId(userId)]).deletedCount == 1
    }

    public func find(roomId: ObjectId, userId: ObjectId) async throws -> MembershipRecord? {
        try await memberships.findOne(["roomId": .objectId(roomId), "userId": .objectId(userId)])
    }

    public func forUser(_ userId: ObjectId) async throws -> [MembershipRecord] {
        try await memberships.find(["userId": .objectId(userId)]).toArray()
    }

    public func forUsers(_ userIds: [ObjectId]) async throws -> [MembershipRecord] {
        var all: [MembershipRecord] = []
        for start in stride(from: 0, to: userIds.count, by: 500) {
            let chunk = userIds[start..<min(start + 500, userIds.count)].map { BSONValue.objectId($0) }
            all += try await memberships.find(["userId": ["$in": .array(chunk)]]).toArray()
        }
        return all
    }

    public func forRoom(_ roomId: ObjectId, limit: Int) async throws -> [MembershipRecord] {
        try await memberships.find(["roomId": .objectId(roomId)], options: FindOptions(sort: ["joinedAt": 1], limit: limit)).toArray()
    }

    public func advance(roomId: ObjectId, userId: ObjectId, deliveredSeq: Int?, readSeq: Int?, updatesSeen: Int?) async throws -> MembershipRecord? {
        var max = BSONDocument()
        let delivered = [deliveredSeq, readSeq].compactMap { $0 }.max()
        if let delivered { max["deliveredSeq"] = .int64(Int64(delivered)) }
        if let readSeq { max["readSeq"] = .int64(Int64(readSeq)) }
        if let updatesSeen { max["updatesSeen"] = .int64(Int64(updatesSeen)) }
        let filter: BSONDocument = ["roomId": .objectId(roomId), "userId": .objectId(userId)]
        guard !max.isEmpty else { return try await find(roomId: roomId, userId: userId) }
        var update: BSONDocument = ["$max": .document(max)]
        if let readSeq { update["$pull"] = ["mentionSeqs": ["$lte": .int64(Int64(readSeq))]] }
        return try await memberships.findOneAndUpdate(filter, update)
    }

    public func addMention(roomId: ObjectId, userIds: [ObjectId], seq: Int) async throws {
        guard !userIds.isEmpty else { return }
        try await memberships.updateMany(
            ["roomId": .objectId(roomId), "userId": ["$in": .array(userIds.map { .objectId($0) })]],
            ["$push": ["mentionSeqs": ["$each": [.int64(Int64(seq))], "$slice": -100]]])
    }

    public func page(roomId: ObjectId, after: ObjectId?, limit: Int) async throws -> [MembershipRecord] {
        var filter: BSONDocument = ["roomId": .objectId(roomId)]
        if let after { filter["userId"] = ["$gt": .objectId(after)] }
        return try await memberships.find(filter, options: FindOptions(sort: ["userId": 1], limit: limit)).toArray()
    }

    public func setRole(roomId: ObjectId, userId: ObjectId, to role: RoomRole, from: RoomRole) async throws -> MembershipRecord? {
        var filter: BSONDocument = ["roomId": .objectId(roomId), "userId": .objectId(userId)]
        // Before migration 0004 a member had no role field.
        filter["role"] = from == .member ? ["$in": ["member", .null]] : .string(from.rawValue)
        return try await memberships.findOneAndUpdate(filter, ["$set": ["role": .string(role.rawValue)]])
    }

    public func setMute(roomId: ObjectId, userId: ObjectId, until: Date?) async throws -> MembershipRecord? {
        let filter: BSONDocument = ["roomId": .objectId(roomId), "userId": .objectId(userId)]
        let update: BSONDocument = until.map { ["$set": ["mutedUntil": .date($0)]] } ?? ["$unset": ["mutedUntil": ""]]
        return try await memberships.findOneAndUpdate(filter, update)
    }

    public func remove(roomId: ObjectId, userId: ObjectId) async throws -> MembershipRecord? {
        let raw = try await memberships.database.runCommand([
            "findAndModify": "memberships", "query": ["roomId": .objectId(roomId), "userId": .objectId(userId)], "remove": true,
        ])
        guard let value = raw["value"], value != .null else { return nil }
        return try BSONDecoder().decode(MembershipRecord.self, fromValue: value)
    }

    public func userIds(roomId: ObjectId) async throws -> [ObjectId] {
        let raw = memberships.database.collection("memberships")
        return try await raw.find(["roomId": .objectId(roomId)], options: FindOptions(projection: ["userId": 1, "_id": 0])).toArray()
            .compactMap { $0["userId"]?.objectIdValue }
    }

    @discardableResult
    public func removeAll(roomId: ObjectId) async throws -> Int { try await memberships.deleteMany(["roomId": .objectId(roomId)]).deletedCount }

    public func userIds(roomId: ObjectId, cursor: DeliveryCursor, atLeast seq: Int) async throws -> [ObjectId] {
        let raw = memberships.database.collection("memberships")
        let found = try await raw.find(
            ["roomId": .objectId(roomId), cursor.rawValue: ["$gte": .int64(Int64(seq))]],
            options: FindOptions(sort: ["userId": 1], projection: ["userId": 1, "_id": 0])
        ).toArray()
        return found.compactMap { $0["userId"]?.objectIdValue }
    }
}
