import Foundation
import Mongo

/// A page of messages in ascending seq order, and whether more lie beyond it in the
/// direction the page was read.
public struct MessagePage: Sendable {
    public let messages: [MessageRecord]
    public let hasMore: Bool
}

/// What a search reads its candidates by: one whole word, or any of the words a
/// prefix expands to.
public enum MessageSearchKey: Sendable, Equatable {
    case word(String)
    case anyOf([String])
}

/// Storage of messages.
public protocol MessageRepository: Sendable {
    /// Inserts in order; on a refusal, everything before it is stored and nothing after.
    func insert(_ messages: [MessageRecord]) async throws
    func find(id: ObjectId) async throws -> MessageRecord?
    func find(senderId: ObjectId, clientId: String) async throws -> MessageRecord?
    /// The messages stored under any of these `(senderId, clientId)` pairs.
    func find(clientKeys: [(ObjectId, String)]) async throws -> [MessageRecord]
    /// Per room, the highest seq stored above the given one; rooms with nothing above it
    /// are left out. Read without a descending sort, which the embedded database does not
    /// serve from the index. How readers find the messages a trailing `lastSeq` does not
    /// count yet (stored just before a crash, or by another node).
    func highestSeqs(above: [ObjectId: Int]) async throws -> [ObjectId: Int]
    /// Which of these ids are stored.
    func stored(ids: [ObjectId]) async throws -> Set<ObjectId>
    /// Messages of a room by seq: with `after`, the oldest `limit` above it; otherwise
    /// the newest `limit` below `before` (or the newest of all). Always ascending.
    func page(roomId: ObjectId, before: Int?, after: Int?, limit: Int) async throws -> MessagePage
    /// Applies `update` when the message is still at revision `rev` (a compare-and-set);
    /// the message after, nil when it changed meanwhile (or is gone).
    func update(id: ObjectId, atRev rev: Int, _ update: BSONDocument) async throws -> MessageRecord?
    /// A thread's replies by seq, after `after`, at most `limit` (+1 to tell `hasMore`).
    func thread(rootId: ObjectId, after: Int, limit: Int) async throws -> [MessageRecord]
    /// A room's pinned messages, by seq.
    func pinned(roomId: ObjectId, limit: Int) async throws -> [MessageRecord]
    /// A room's messages changed after update sequence `useq` and at most `maxSeq`
    /// (what a member who was away already had), by `useq`.
    func changed(roomId: ObjectId, after useq: Int, maxSeq: Int, limit: Int) async throws -> [MessageRecord]
    /// Candidates of a search, newest first (seq descending within one room), as a
    /// cursor: those holding `key` in their words, in these rooms.
    func search(key: MessageSearchKey, rooms: [ObjectId], sender: ObjectId?, before: ObjectId?, beforeSeq: Int?) async throws
        -> MongoCursor<MessageRecord>
    /// A room's messages with seqs in `(above, through]` (`through` nil: to the end,
    /// past a trailing `lastSeq` too), read through `{roomId, seq}`; in no order.
    func window(roomId: ObjectId, above: Int, through: Int?) async throws -> [MessageRecord]
    /// Removes every message of a room (its deletion); how many there were.
    @discardableResult func removeAll(roomId: ObjectId) async throws -> Int
    /// Renames the sender of every message of `senderId` (a deleted user's messages
    /// keep their place in history under an anonymous name); how many changed.
    @discardableResult func renameSender(_ senderId: ObjectId, to name: String) async throws -> Int
}

extension MessageRepository {
    /// The highest seq stored in a room above `seq`, or `seq` when there is none.
    public func highestSeq(roomId: ObjectId, above seq: Int) async throws -> Int {
        try await highestSeqs(above: [roomId: seq])[roomId] ?? seq
    }
}

/// `MessageRepository` over `messages`.
public struct MongoMessageRepository: MessageRepository {
    let messages: MongoCollection<MessageRecord>

    public init(database: MongoDatabase) { messages = database.collection("messages", withType: MessageRecord.self) }

    /// Reads one query per room runs at once, where a query spans rooms.
    static let parallelReads = 8

    /// The same collection read as plain documents, for projections.
    private var documents: MongoCollection<BSONDocument> { messages.database.collection(messages.name) }

    /// Ordered: a refused document stops the rest, so what landed is a prefix.
    public func update(id: ObjectId, atRev rev: Int, _ update: BSONDocument) async throws -> MessageRecord? {
        // Before migration 0005 a message had no rev: 0 matches it too.
        let revFilter: BSONValue = rev == 0 ? ["$in": [.int64(0), .null]] : .int64(Int64(rev))
        return try await messages.findOneAndUpdate(["_id": .objectId(id), "rev": revFilter], update)
    }

    public func thread(rootId: ObjectId, after: Int, limit: Int) async throws -> [MessageRecord] {
        try await messages.find(
            ["threadId": .objectId(rootId), "seq": ["$gt": .int64(Int64(after))]], options: FindOptions(sort: ["seq": 1], limit: limit)
        ).toArray()
    }

    public func pinned(roomId: ObjectId, limit: Int) async throws -> [MessageRecord] {
        try await messages.find(["roomId": .objectId(roomId), "pinned": true], options: FindOptions(sort: ["seq": 1], limit: limit)).toArray()
    }

    public func changed(roomId: ObjectId, after useq: Int, maxSeq: Int, limit: Int) async throws -> [MessageRecord] {
        try await messages.find(
            ["roomId": .objectId(roomId), "useq": ["$gt": .int64(Int64(useq))], "seq": ["$lte": .int64(Int64(maxSeq))]],
            options: FindOptions(sort: ["useq": 1], limit: limit)
        ).toArray()
    }

    public func search(key: MessageSearchKey, rooms: [ObjectId], sender: ObjectId?, before: ObjectId?, beforeSeq: Int?) async throws
        -> MongoCursor<MessageRecord>
    {
        // One implicit AND of equalities: the embedded database serves it from the
        // `words` index, where an `$and` of clauses is a collection scan.
        var filter: BSONDocument = [:]
        switch key {
        case .word(let w): filter["words"] = .string(w)
        case .anyOf(let ws): filter["words"] = ["$in": .array(ws.map { .string($0) })]
        }
        filter["roomId"] = rooms.count == 1 ? .objectId(rooms[0]) : ["$in": .array(rooms.map { .objectId($0) })]
        if let sender { filter["senderId"] = .objectId(sender) }
        if let before { filter["_id"] = ["$lt": .objectId(before)] }
        if let beforeSeq { filter["seq"] = ["$lt": .int64(Int64(beforeSeq))] }
        let sort: BSONDocument = rooms.count == 1 ? ["seq": -1] : ["_id": -1]
        return try await messages.find(filter, options: FindOptions(sort: sort, batchSize: 500))
    }

    public func window(roomId: ObjectId, above: Int, through: Int?) async throws -> [MessageRecord] {
        var seq: BSONDocument = ["$gt": .int64(Int64(above))]
        // A bounded window holds at most one message per seq: a first batch one larger
        // drains it in one round trip.
        var batch: Int?
        if let through {
            seq["$lte"] = .int64(Int64(through))
            batch = through > above ? through - above + 1 : 1
        }
        return try await messages.find(["roomId": .objectId(roomId), "seq": .document(seq)], options: FindOptions(batchSize: batch)).toArray()
    }

    @discardableResult
    public func removeAll(roomId: ObjectId) async throws -> Int { try await messages.deleteMany(["roomId": .objectId(roomId)]).deletedCount }

    @discardableResult
    public func renameSender(_ senderId: ObjectId, to name: String) async throws -> Int {
        try await messages.updateMany(["senderId": .objectId(senderId)], ["$set": ["senderName": .string(name)]]).modifiedCount
    }

    public func insert(_ batch: [MessageRecord]) async throws { try await messages.insertMany(batch, ordered: true) }

    public func find(id: ObjectId) async throws -> MessageRecord? { try await messages.findOne(["_id": .objectId(id)]) }

    public func find(senderId: ObjectId, clientId: String) async throws -> MessageRecord? {
        try await messages.findOne(["senderId": .objectId(senderId), "clientId": .string(clientId)])
    }

    public func find(clientKeys: [(ObjectId, String)]) async throws -> [MessageRecord] {
        // One read of `{senderId, clientId}` per sender (almost always one): an `$or`
        // is served by no index on the embedded database.
        var bySender: [ObjectId: [String]] = [:]
        for (sender, clientId) in clientKeys { bySender[sender, default: []].append(clientId) }
        var found: [MessageRecord] = []
        for (sender, clientIds) in bySender {
            let ids: BSONValue = clientIds.count == 1 ? .string(clientIds[0]) : ["$in": .array(clientIds.map { .string($0) })]
            found += try await messages.find(["senderId": .objectId(sender), "clientId": ids]).toArray()
        }
        return found
    }

    public func highestSeqs(above heads: [ObjectId: Int]) async throws -> [ObjectId: Int] {
        // One range read of `{roomId, seq}` per room, a few at a time: an `$or` of the
        // rooms is served by no index on the embedded database, which then reads every
        // message of every room (a user in two rooms paid a scan of the collection at
        // each connect).
        let documents = self.documents
        let found = try await parallelMap(Array(heads), limit: Self.parallelReads) { room, seq in
            let above = try await documents.find(
                ["roomId": .objectId(room), "seq": ["$gt": .int64(Int64(seq))]], options: FindOptions(projection: ["_id": 0, "seq": 1])
            ).toArray()
            return (room, above.compactMap { $0["seq"]?.int64Value.map(Int.init) }.max())
        }
        return Dictionary(uniqueKeysWithValues: found.compactMap { room, seq in seq.map { (room, $0) } })
    }

    public func stored(ids: [ObjectId]) async throws -> Set<ObjectId> {
        guard !ids.isEmpty else { return [] }
        let found = try await documents.find(
            ["_id": ["$in": .array(ids.map { .objectId($0) })]], options: FindOptions(projection: ["_id": 1])
        ).toArray()
        return Set(found.compactMap { $0["_id"]?.objectIdValue })
    }

    public func page(roomId: ObjectId, before: Int?, after: Int?, limit: Int) async throws -> MessagePage {
        var range = BSONDocument()
        if let before { range["$lt"] = .int64(Int64(before)) }
        if let after { range["$gt"] = .int64(Int64(after)) }
        var filter: BSONDocument = ["roomId": .objectId(roomId)]
        if !range.isEmpty { filter["seq"] = .document(range) }
        // One more than asked tells whether there is more, without a count.
        let ascending = after != nil
        let found = try await messages.find(filter, options: FindOptions(sort: ["seq": ascending ? 1 : -1], limit: limit + 1)).toArray()
        let hasMore = found.count > limit
        let page = Array(found.prefix(limit))
        return MessagePage(messages: ascending ? page : page.reversed(), hasMore: hasMore)
    }
}
