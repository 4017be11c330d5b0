import Foundation
import Mongo

/// Storage of rooms and their `lastSeq`, the highest seq stored and acknowledged.
public protocol RoomRepository: Sendable {
    func create(_ room: RoomRecord) async throws
    func find(id: ObjectId) async throws -> RoomRecord?
    func find(ids: [ObjectId]) async throws -> [RoomRecord]
    func findDirect(key: String) async throws -> RoomRecord?
    /// Rooms any user may see (not private, not direct), newest first; `kind` narrows.
    func listPublic(kind: RoomKind?, limit: Int) async throws -> [RoomRecord]
    /// Every room (of `kind`, when given), newest first: the administrator's view.
    func list(kind: RoomKind?, limit: Int, skip: Int) async throws -> [RoomRecord]
    func adjustMemberCount(id: ObjectId, by delta: Int) async throws
    /// Raises each room's `lastSeq` (and `lastMessageAt`) to at least the given values,
    /// in one command: `$max`, so a late or repeated call never lowers them.
    func raiseLastSeq(_ marks: [ObjectId: Int], at time: Date) async throws
    /// The same, and each room's `lastMessage` (with `lastMessageSeq`) to the given
    /// message where the recorded one is older, in the same command.
    func raiseLastSeq(_ marks: [ObjectId: Int], latest: [MessageRecord], at time: Date) async throws
    /// Replaces the room's `lastMessage` when it is this message (an edit or delete).
    func refreshLastMessage(_ message: MessageRecord) async throws
    /// The next value of the room's update sequence (`$inc`), for a change to one of
    /// its messages.
    func nextUpdateSeq(id: ObjectId) async throws -> Int
    /// Sets the given fields (`$set`) and returns the room after, nil when it is gone.
    func update(id: ObjectId, set fields: BSONDocument) async throws -> RoomRecord?
    /// Removes the topic; returns the room after.
    func clearTopic(id: ObjectId) async throws -> RoomRecord?
    /// Takes one owner off the count only while another remains: false (nothing
    /// changed) when this would leave the room without an owner.
    func releaseOwner(id: ObjectId) async throws -> Bool
    /// Adds owners to the count (a promotion, or giving back a release not used).
    func addOwners(id: ObjectId, _ n: Int) async throws
    /// Removes the room document; false when it was already gone.
    func delete(id: ObjectId) async throws -> Bool
}

/// `RoomRepository` over `rooms`.
public struct MongoRoomRepository: RoomRepository {
    let rooms: MongoCollection<RoomRecord>

    public init(database: MongoDatabase) { rooms = database.collection("rooms", withType: RoomRecord.self) }

    public func create(_ room: RoomRecord) async throws {
        do {
            try await rooms.insertOne(room)
        } catch let e as MongoError where e.code == .duplicateKey {
            throw ParleyError(.conflict, "room already exists")
        }
    }

    public func find(id: ObjectId) async throws -> RoomRecord? { try await rooms.findOne(["_id": .objectId(id)]) }

    public func find(ids: [ObjectId]) async throws -> [RoomRecord] {
        guard !ids.isEmpty else { return [] }
        return try await rooms.find(["_id": ["$in": .array(ids.map { .objectId($0) })]]).toArray()
    }

    public func findDirect(key: String) async throws -> RoomRecord? { try await rooms.findOne(["directKey": .string(key)]) }

    public func listPublic(kind: RoomKind?, limit: Int) async throws -> [RoomRecord] {
        var filter: BSONDocument = ["private": false]
        filter["kind"] = kind.map { .string($0.rawValue) } ?? ["$in": ["group", "event"]]
        return try await rooms.find(filter, options: FindOptions(sort: ["createdAt": -1], limit: limit)).toArray()
    }

    public func list(kind: RoomKind?, limit: Int, skip: Int) async throws -> [RoomRecord] {
        let filter: BSONDocument = kind.map { ["kind": .string($0.rawValue)] } ?? [:]
        return try await rooms.find(filter, options: FindOptions(sort: ["createdAt": -1], limit: limit, skip: skip)).toArray()
    }

    public func adjustMemberCount(id: ObjectId, by delta: Int) async throws {
        try await rooms.updateOne(["_id": .objectId(id)], ["$inc": ["memberCount": .int64(Int64(delta))]])
    }

    public func update(id: ObjectId, set fields: BSONDocument) async throws -> RoomRecord? {
        try await rooms.findOneAndUpdate(["_id": .objectId(id)], ["$set": .document(fields)])
    }

    public func clearTopic(id: ObjectId) async throws -> RoomRecord? {
        try await rooms.findOneAndUpdate(["_id": .objectId(id)], ["$unset": ["topic": ""]])
    }

    public func releaseOwner(id: ObjectId) async throws -> Bool {
        try await rooms.findOneAndUpdate(["_id": .objectId(id), "ownerCount": ["$gt": 1]], ["$inc": ["ownerCount": -1]]) != nil
    }

    public func addOwners(id: ObjectId, _ n: Int) async throws {
        try await rooms.updateOne(["_id": .objectId(id)], ["$inc": ["ownerCount": .int64(Int64(n))]])
    }

    public func delete(id: ObjectId) async throws -> Bool { try await rooms.deleteOne(["_id": .objectId(id)]).deletedCount == 1 }

    public func raiseLastSeq(_ marks: [ObjectId: Int], at time: Date) async throws {
        try await raiseLastSeq(marks, latest: [], at: time)
    }

    /// One statement per room with a latest message (the send path's case): it raises
    /// `lastSeq` and `lastMessageAt` to it and sets `lastMessage`, unless the room
    /// already holds a later `lastMessage`. That filter may skip the `$max` too, and
    /// may: whoever stored the later `lastMessage` raised `lastSeq` to at least its
    /// seq in the same statement. A mark beyond its room's latest message (a reader's
    /// `learn`) gets a `$max` statement of its own. On SecantusDB the one statement
    /// costs 0.55 to 0.6 of the two it replaces (docs/BENCHMARKS.md).
    public func raiseLastSeq(_ marks: [ObjectId: Int], latest: [MessageRecord], at time: Date) async throws {
        let latestByRoom = Dictionary(latest.map { ($0.roomId, $0) }, uniquingKeysWith: { a, b in a.seq >= b.seq ? a : b })
        var statements: [(filter: BSONDocument, update: BSONDocument)] = []
        for (room, seq) in marks where seq > latestByRoom[room]?.seq ?? 0 {
            statements.append((["_id": .objectId(room)], ["$max": ["lastSeq": .int64(Int64(seq)), "lastMessageAt": .date(time)]]))
        }
        for (room, m) in latestByRoom {
            statements.append((
                ["_id": .objectId(room), "lastMessageSeq": ["$not": ["$gte": .int64(Int64(m.seq))]]],
                [
                    "$max": ["lastSeq": .int64(Int64(m.seq)), "lastMessageAt": .date(time)],
                    "$set": ["lastMessage": .document(try BSONEncoder().encode(m)), "lastMessageSeq": .int64(Int64(m.seq))],
                ]))
        }
        try await rooms.updateEach(statements)
    }

    public func refreshLastMessage(_ message: MessageRecord) async throws {
        try await rooms.updateOne(
            ["_id": .objectId(message.roomId), "lastMessageSeq": .int64(Int64(message.seq))],
            ["$set": ["lastMessage": .document(try BSONEncoder().encode(message))]])
    }

    public func nextUpdateSeq(id: ObjectId) async throws -> Int {
        guard let r = try await rooms.findOneAndUpdate(["_id": .objectId(id)], ["$inc": ["updateSeq": 1]]) else {
            throw ParleyError(.notFound, "no such room")
        }
        return r.updateSeq ?? 1
    }
}
