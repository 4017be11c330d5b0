import Foundation
import Mongo

/// Message search over the caller's rooms only: every query word must be among a
/// message's folded words, the last one as a prefix (so a query typed so far finds
/// as it goes); newest first; paged. Served by the `words` index, which any
/// MongoDB-wire server keeps (no text index).
public struct SearchService: Sendable {
    public let rooms: RoomService
    public let vocabulary: Vocabulary
    var repos: ParleyRepositories { rooms.repos }

    /// How many candidates one page may read before it answers with what it found
    /// (and `hasMore`, with the last read as the next `before`).
    public static let maxScan = 20_000

    public init(rooms: RoomService, vocabulary: Vocabulary) {
        self.rooms = rooms
        self.vocabulary = vocabulary
    }

    public struct Query: Sendable {
        public var q: String
        public var roomId: String?
        public var senderId: String?
        /// A seq (in each room, older messages only; with `roomId`, a page of one room)
        /// or a message id (older messages than it, across the rooms).
        public var before: String?
        public var limit: Int?

        public init(q: String, roomId: String? = nil, senderId: String? = nil, before: String? = nil, limit: Int? = nil) {
            self.q = q
            self.roomId = roomId
            self.senderId = senderId
            self.before = before
            self.limit = limit
        }
    }

    public func search(_ query: Query, for user: UserRecord) async throws -> (messages: [MessageRecord], hasMore: Bool) {
        guard (1...200).contains(query.q.unicodeScalars.count), !query.q.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ParleyError(.badRequest, "q must be 1 to 200 characters and not only whitespace")
        }
        var terms = SearchWords.words(query.q)
        // Punctuation alone finds nothing (no message is indexed by it).
        guard let last = terms.popLast() else { return ([], false) }
        let n = try Paging.limit(query.limit, default: 20, max: 100)
        var roomIds: [ObjectId]
        if let roomId = query.roomId {
            guard let id = ObjectId(roomId) else { throw ParleyError(.notFound, "no such room") }
            _ = try await rooms.memberRoom(id, for: user)
            roomIds = [id]
        } else {
            roomIds = try await repos.memberships.forUser(user.id).map(\.roomId)
        }
        var sender: ObjectId?
        if let s = query.senderId {
            guard let id = ObjectId(s) else { throw ParleyError(.badRequest, "senderId must be a user id") }
            sender = id
        }
        var beforeId: ObjectId?
        var beforeSeq: Int?
        if let b = query.before {
            if let seq = Int(b), seq >= 0 {
                beforeSeq = seq
            } else if let id = ObjectId(b) {
                beforeId = id
            } else {
                throw ParleyError(.badRequest, "before must be a seq or a message id")
            }
        }
        guard !roomIds.isEmpty else { return ([], false) }
        terms = Array(Set(terms))
        // One indexed equality reads the candidates: the longest whole word (the
        // likeliest to be rare), or the words the prefix expands to; the rest of the
        // query is checked on each candidate's words.
        let expansion = Set(try await vocabulary.expand(last))
        guard !expansion.isEmpty else { return ([], false) }
        let key: MessageSearchKey = terms.max(by: { $0.unicodeScalars.count < $1.unicodeScalars.count }).map { .word($0) } ?? .anyOf(Array(expansion))
        var matches: [MessageRecord] = []
        var scanned = 0
        let cursor = try await repos.messages.search(
            key: key, rooms: roomIds, sender: sender, before: beforeId, beforeSeq: beforeSeq)
        while matches.count <= n, scanned < SearchService.maxScan {
            let batch = try await cursor.nextBatch()
            if batch.isEmpty { break }
            for m in batch {
                scanned += 1
                let words = Set(m.words ?? [])
                guard terms.allSatisfy(words.contains), !words.isDisjoint(with: expansion) else { continue }
                matches.append(m)
                if matches.count > n { break }
            }
        }
        return (Array(matches.prefix(n)), matches.count > n || scanned >= SearchService.maxScan)
    }
}
