import Foundation
import Mongo

/// Message search over the caller's rooms only: every query word must be among a
/// message's folded words, the last one as a prefix (so a query typed so far finds
/// as it goes); newest first; paged. Served by the `words` index, which any
/// MongoDB-wire server keeps (no text index): a rare word through that index, a
/// common one by reading the newest messages (`SearchPlan`, `RecentScan`).
public struct SearchService: Sendable {
    public let rooms: RoomService
    public let vocabulary: Vocabulary
    var repos: ParleyRepositories { rooms.repos }

    /// How many candidates one page may read before it answers with what it found
    /// (and `hasMore`, with the last read as the next `before`).
    public static let maxScan = 20_000
    /// A key with at most this many entries is read from the index whatever its
    /// share (`SearchPlan`).
    public let directLimit: Int
    /// Which reader a search uses.
    public enum Strategy: Sendable {
        /// The one `SearchPlan` chooses from the counts.
        case automatic
        /// Always the index, or always the newest messages: for comparing the two
        /// readers on the same data (tests, benchmarks).
        case index, recent
    }
    public let strategy: Strategy

    public init(rooms: RoomService, vocabulary: Vocabulary, directLimit: Int = 1_000, strategy: Strategy = .automatic) {
        self.rooms = rooms
        self.vocabulary = vocabulary
        self.directLimit = directLimit
        self.strategy = strategy
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
        var terms = SearchWords.words(query.q)
        // Punctuation alone finds nothing (no message is indexed by it); every
        // parameter was checked before that answer.
        guard let last = terms.popLast(), !roomIds.isEmpty else { return ([], false) }
        terms = Array(Set(terms))
        let expansion = try await vocabulary.expand(last)
        guard !expansion.words.isEmpty else { return ([], false) }
        let counted = try await vocabulary.counts(of: terms)
        var plan = SearchPlan.choose(
            terms: counted.words, expansion: expansion, messages: counted.messages, wanted: n + 1, rooms: roomIds.count, directLimit: directLimit)
        switch (strategy, plan) {
        case (.recent, .index): plan = .recent(share: 0.01)
        case (.index, .recent):
            plan = .index(terms.max { $0.unicodeScalars.count < $1.unicodeScalars.count }.map { .word($0) } ?? .anyOf(expansion.words.keys.sorted()))
        default: break
        }
        // The rest of the query is checked on each candidate's words.
        let matches: @Sendable (MessageRecord) -> Bool = { [terms, sender, beforeSeq] m in
            let words = m.words ?? []
            return terms.allSatisfy(words.contains) && words.contains { $0.hasPrefix(last) }
                && (sender == nil || m.senderId == sender) && (beforeSeq == nil || m.seq < beforeSeq!)
        }
        switch plan {
        case .index(let key):
            var found: [MessageRecord] = []
            var scanned = 0
            let cursor = try await repos.messages.search(key: key, rooms: roomIds, sender: sender, before: beforeId, beforeSeq: beforeSeq)
            while found.count <= n, scanned < SearchService.maxScan {
                let batch = try await cursor.nextBatch()
                if batch.isEmpty { break }
                for m in batch {
                    scanned += 1
                    guard matches(m) else { continue }
                    found.append(m)
                    if found.count > n { break }
                }
            }
            return (Array(found.prefix(n)), found.count > n || scanned >= SearchService.maxScan)
        case .recent(let share):
            let rooms = try await repos.rooms.find(ids: roomIds)
            var (found, stoppedShort) = try await RecentScan(messages: repos.messages, rooms: rooms).run(
                before: beforeId, beforeSeq: beforeSeq, share: share, wanted: n + 1, maxScan: SearchService.maxScan, matches: matches)
            if query.roomId != nil { found.sort { $0.seq > $1.seq } }
            return (Array(found.prefix(n)), found.count > n || stoppedShort)
        }
    }
}
