import Foundation
import Mongo

/// Counts every word of the stored messages into the vocabulary (`n`, and the
/// `" messages"` entry), for a database whose messages were stored before the counts
/// existed. Read room by room through `{roomId, seq}` in windows of seqs, so the
/// database never holds more than a window (an `$unwind`/`$group` over all messages
/// is refused by the embedded database past 5,000,000 words, and would hold them all
/// anywhere). Counts are set, not added: running it twice, or on two nodes at once,
/// gives the same figures. A node runs it at start when the vocabulary has no
/// message count (`parleyctl search recount` runs it by hand).
public struct VocabularyRecount: Sendable {
    public let database: MongoDatabase
    public let vocabulary: Vocabulary
    /// Seqs read per query.
    public var window = 2_000

    public init(database: MongoDatabase, vocabulary: Vocabulary) {
        self.database = database
        self.vocabulary = vocabulary
    }

    /// Whether the vocabulary has never been counted and there are messages to count.
    public func isNeeded() async throws -> Bool {
        let words = database.collection("words")
        guard try await words.findOne(["_id": .string(Vocabulary.messagesKey)]) == nil else { return false }
        return try await database.collection("messages").findOne([:]) != nil
    }

    /// Counts and stores; how many messages and distinct words were counted.
    @discardableResult
    public func run() async throws -> (messages: Int, words: Int) {
        var counts: [String: Int] = [:]
        var messages = 0
        let rooms = MongoRoomRepository(database: database)
        var skip = 0
        while true {
            let page = try await rooms.list(kind: nil, limit: 500, skip: skip)
            if page.isEmpty { break }
            skip += page.count
            for room in page {
                // `lastSeq` trails the newest messages: past it, windows go on while
                // they find any.
                var from = 0
                var found = true
                while from < room.lastSeq || found {
                    let docs = try await database.collection("messages").find(
                        ["roomId": .objectId(room.id), "seq": ["$gt": .int64(Int64(from)), "$lte": .int64(Int64(from + window))]],
                        options: FindOptions(projection: ["words": 1, "_id": 0])
                    ).toArray()
                    found = !docs.isEmpty
                    for d in docs {
                        guard let words = d["words"]?.arrayValue, !words.isEmpty else { continue }
                        messages += 1
                        for w in words { if let s = w.stringValue { counts[s, default: 0] += 1 } }
                    }
                    from += window
                }
            }
        }
        try await vocabulary.set(counts, messages: messages)
        return (messages, counts.count)
    }
}
