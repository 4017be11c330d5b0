import Foundation
import Mongo

/// Storage of upload records (`uploads`; `{ownerId}` for quotas, `{refs.messageId}`
/// and `{refs.roomId}` for what a deletion takes with it, `{createdAt}` for orphans).
public struct UploadRepository: Sendable {
    let uploads: MongoCollection<UploadRecord>

    public init(database: MongoDatabase) { uploads = database.collection("uploads", withType: UploadRecord.self) }


    public func find(id: ObjectId) async throws -> UploadRecord? { try await uploads.findOne(["_id": .objectId(id)]) }

    public func find(ids: [ObjectId]) async throws -> [UploadRecord] {
        try await uploads.find(["_id": ["$in": .array(ids.map { .objectId($0) })]]).toArray()
    }

    /// The bytes a user's uploads hold.
    public func bytes(ownerId: ObjectId) async throws -> Int {
        let rows = try await uploads.database.collection("uploads").aggregate([
            ["$match": ["ownerId": .objectId(ownerId)]],
            ["$group": ["_id": .null, "bytes": ["$sum": "$size"]]],
        ]).toArray()
        return Int(rows.first?["bytes"]?.int64Value ?? 0)
    }

    /// Records that a message of a room carries these uploads (again: no change).
    public func attach(_ ids: [ObjectId], messageId: ObjectId, roomId: ObjectId) async throws {
        guard !ids.isEmpty else { return }
        _ = try await uploads.updateMany(
            ["_id": ["$in": .array(ids.map { .objectId($0) })]],
            ["$addToSet": ["refs": ["messageId": .objectId(messageId), "roomId": .objectId(roomId)]]])
    }

    /// Drops the references of a message (`messageId`) or of a whole room (`roomId`)
    /// from the uploads that had them; the uploads left with none.
    public func detach(messageId: ObjectId? = nil, roomId: ObjectId? = nil) async throws -> [UploadRecord] {
        let (field, id) = messageId.map { ("messageId", $0) } ?? ("roomId", roomId!)
        let touched = try await uploads.find(["refs.\(field)": .objectId(id)]).toArray()
        guard !touched.isEmpty else { return [] }
        _ = try await uploads.updateMany(
            ["_id": ["$in": .array(touched.map { .objectId($0.id) })]], ["$pull": ["refs": [field: .objectId(id)]]])
        return try await find(ids: touched.map(\.id)).filter(\.refs.isEmpty)
    }

    /// Uploads attached to no message and made before `before`.
    public func orphans(before: Date, limit: Int) async throws -> [UploadRecord] {
        try await uploads.find(["createdAt": ["$lt": .date(before)], "refs": ["$size": 0]], options: FindOptions(limit: limit)).toArray()
    }

    /// Removes an upload's record if no message carries it; whether it did.
    public func removeIfUnreferenced(id: ObjectId) async throws -> Bool {
        try await uploads.deleteOne(["_id": .objectId(id), "refs": ["$size": 0]]).deletedCount == 1
    }

    public func insert(_ upload: UploadRecord) async throws { _ = try await uploads.insertOne(upload) }

    /// Count and bytes of all uploads, and of those attached to nothing.
    public func stats() async throws -> (count: Int, bytes: Int, orphans: Int, orphanBytes: Int) {
        let rows = try await uploads.database.collection("uploads").aggregate([
            ["$group": [
                "_id": .null, "count": ["$sum": 1], "bytes": ["$sum": "$size"],
                "orphans": ["$sum": ["$cond": [["$eq": [["$size": "$refs"], 0]], 1, 0]]],
                "orphanBytes": ["$sum": ["$cond": [["$eq": [["$size": "$refs"], 0]], "$size", 0]]],
            ]]
        ]).toArray()
        let r = rows.first
        func n(_ k: String) -> Int { Int(r?[k]?.int64Value ?? 0) }
        return (n("count"), n("bytes"), n("orphans"), n("orphanBytes"))
    }
}
