import Foundation
import Mongo

/// Storage of users. A protocol so services depend on what they need, not on Mongo.
public protocol UserRepository: Sendable {
    /// Stores a new user; throws `conflict` when the username is taken (any case).
    func create(_ user: UserRecord) async throws
    func find(id: ObjectId) async throws -> UserRecord?
    /// Looks a username up case-insensitively.
    func find(username: String) async throws -> UserRecord?
    /// Users in username order, `limit` at most, after `skip`.
    func list(limit: Int, skip: Int) async throws -> [UserRecord]
    /// Sets `disabled`; a disabled user's tokens stop working. False when no such user.
    func setDisabled(username: String, _ disabled: Bool) async throws -> Bool
    /// Replaces the password hash and invalidates tokens issued before now.
    func setPasswordHash(username: String, _ hash: String) async throws -> Bool
    func find(ids: [ObjectId]) async throws -> [UserRecord]
    /// Removes the user document; false when it was already gone.
    func delete(id: ObjectId) async throws -> Bool
    /// Enabled users whose username or display name contains `query`, case-insensitively:
    /// username prefix matches first, then the rest, each in username order.
    func search(_ query: String, limit: Int) async throws -> [UserRecord]
    /// Records a presence change: the status chosen, and when the user was last seen.
    func setPresence(id: ObjectId, status: PresenceStatus?, lastSeenAt: Date?) async throws
}

/// `UserRepository` over the `users` collection.
public struct MongoUserRepository: UserRepository {
    let users: MongoCollection<UserRecord>

    public init(database: MongoDatabase) { users = database.collection("users", withType: UserRecord.self) }

    public func create(_ user: UserRecord) async throws {
        do {
            try await users.insertOne(user)
        } catch let e as MongoError where e.code == .duplicateKey {
            throw ParleyError(.conflict, "username \"\(user.username)\" is taken")
        }
    }

    public func find(id: ObjectId) async throws -> UserRecord? { try await users.findOne(["_id": .objectId(id)]) }

    public func find(username: String) async throws -> UserRecord? {
        // An exact match on the stored lowercase key: the input is a value, never a pattern.
        try await users.findOne(["usernameLower": .string(username.lowercased())])
    }

    public func list(limit: Int, skip: Int) async throws -> [UserRecord] {
        try await users.find([:], options: FindOptions(sort: ["usernameLower": 1], limit: limit, skip: skip)).toArray()
    }

    public func delete(id: ObjectId) async throws -> Bool { try await users.deleteOne(["_id": .objectId(id)]).deletedCount == 1 }

    public func setDisabled(username: String, _ disabled: Bool) async throws -> Bool {
        var set: BSONDocument = ["disabled": .bool(disabled)]
        if disabled { set["tokensValidAfter"] = .date(Date()) }
        return try await users.updateOne(["usernameLower": .string(username.lowercased())], ["$set": .document(set)]).matchedCount == 1
    }

    public func find(ids: [ObjectId]) async throws -> [UserRecord] {
        guard !ids.isEmpty else { return [] }
        return try await users.find(["_id": ["$in": .array(ids.map { .objectId($0) })]]).toArray()
    }

    public func search(_ query: String, limit: Int) async throws -> [UserRecord] {
        // The query is escaped: it is matched as text, never as a pattern.
        let escaped = NSRegularExpression.escapedPattern(for: query.lowercased())
        let prefix = try await users.find(
            ["usernameLower": ["$regex": .string("^" + escaped)], "disabled": false],
            options: FindOptions(sort: ["usernameLower": 1], limit: limit)
        ).toArray()
        guard prefix.count < limit else { return prefix }
        let anywhere = try await users.find(
            [
                "$or": [["usernameLower": ["$regex": .string(escaped)]], ["displayName": ["$regex": .string(escaped), "$options": "i"]]],
                "_id": ["$nin": .array(prefix.map { .objectId($0.id) })],
                "disabled": false,
            ],
            options: FindOptions(sort: ["usernameLower": 1], limit: limit - prefix.count)
        ).toArray()
        return prefix + anywhere
    }

    public func setPresence(id: ObjectId, status: PresenceStatus?, lastSeenAt: Date?) async throws {
        var set = BSONDocument()
        if let status { set["status"] = .string(status.rawValue) }
        if let lastSeenAt { set["lastSeenAt"] = .date(lastSeenAt) }
        guard !set.isEmpty else { return }
        try await users.updateOne(["_id": .objectId(id)], ["$set": .document(set)])
    }

    public func setPasswordHash(username: String, _ hash: String) async throws -> Bool {
        try await users.updateOne(
            ["usernameLower": .string(username.lowercased())],
            ["$set": ["passwordHash": .string(hash), "tokensValidAfter": .date(Date())]]
        ).matchedCount == 1
    }
}
