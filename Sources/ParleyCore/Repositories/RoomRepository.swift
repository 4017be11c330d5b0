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
    func adjustMemberCount(id: ObjectId, by delta: Int) async throws
    /// Raises each room's `lastSeq` (and `lastMessageAt`) to at least the given values,
    /// in one command: `$max`, so a late or repeated call never lowers them.
    func raiseLastSeq(_ marks: [ObjectId: Int], at time: Date) async throws
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

    public func adjustMemberCount(id: ObjectId, by delta: Int) async throws {
        try await rooms.updateOne(["_id": .objectId(id)], ["$inc": ["memberCount": .int64(Int64(delta))]])
    }

    public func raiseLastSeq(_ marks: [ObjectId: Int], at time: Date) async throws {
        try await rooms.updateEach(marks.map { room, seq in
            (["_id": .objectId(room)], ["$max": ["lastSeq": .int64(Int64(seq)), "lastMessageAt": .date(time)]])
        })
    }
}
