import Foundation
import Mongo
import Synchronization

/// Every word any message was indexed by, once (`words`: `{_id: word, p: [its
/// prefixes of 2 to 20 characters]}`), so that the last word of a query, a prefix,
/// is expanded into the words it begins by an equality on the multikey `p` index.
/// An equality is what every MongoDB-wire server serves from an index; a prefix
/// `$regex` or a range on a multikey field is a collection scan on the embedded
/// database (measured: 3.4 to 5.3 s over 200,000 messages, against 4 to 6 ms for an
/// equality). The collection grows with the vocabulary, not with the messages.
///
/// Each entry also counts the messages its word is in (`n`, from `WordCounts`, an
/// upper bound that is 0 for a rare word), and the entry `" messages"` (no word has
/// a space) counts the messages: search reads them to know a common word from a
/// rare one before it asks the database for either. Messages stored before the
/// counts are counted by `VocabularyRecount`.
public final class Vocabulary: Sendable {
    public static let minPrefix = 2
    public static let maxPrefix = 20
    /// At most this many words stand for one prefix (the most a query expands to).
    public static let maxExpansion = 500

    /// The entry counting the messages.
    public static let messagesKey = " messages"

    private let collection: MongoCollection<BSONDocument>
    /// Words this process knows are stored: learning them again costs nothing.
    private let known = Mutex<Set<String>>([])
    private let maxKnown = 200_000
    /// What this node counted and has not handed over yet.
    public let counts: WordCounts
    /// The least time between two hand-overs of the counts, and whether one runs.
    private let flushInterval: Duration
    private let flushing = Mutex<(running: Bool, last: ContinuousClock.Instant?)>((false, nil))

    public init(database: MongoDatabase, counts: WordCounts = WordCounts(), flushInterval: Duration = .seconds(5)) {
        collection = database.collection("words")
        self.counts = counts
        self.flushInterval = flushInterval
    }

    /// The prefixes a word is found by.
    public static func prefixes(_ word: String) -> [String] {
        let scalars = Array(word.unicodeScalars)
        guard scalars.count >= minPrefix else { return [] }
        return (minPrefix...min(scalars.count, maxPrefix)).map { String(String.UnicodeScalarView(scalars[0..<$0])) }
    }

    /// Whether a word is expanded to by prefixes: 2 characters or more, and not a long
    /// number (a timestamp or an id is searched whole, and would fill the vocabulary).
    public static func isExpandable(_ word: String) -> Bool {
        let n = word.unicodeScalars.count
        return n >= minPrefix && !(n > 4 && word.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
    }

    /// Whether any of these words would be written (not known to this process yet).
    public func hasNew(_ words: [String]) -> Bool {
        known.withLock { k in words.contains { Vocabulary.isExpandable($0) && !k.contains($0) } }
    }

    /// Records the words not known yet (upserts, one command).
    public func learn(_ words: [String]) async throws {
        let fresh = known.withLock { k -> [String] in
            let new = Array(Set(words.filter(Vocabulary.isExpandable)).subtracting(k))
            if k.count + new.count > maxKnown { k.removeAll(keepingCapacity: true) }
            return new
        }
        for start in stride(from: 0, to: fresh.count, by: 500) {
            let chunk = fresh[start..<min(start + 500, fresh.count)]
            try await collection.updateEach(
                chunk.map { w in
                    (["_id": .string(w)], ["$setOnInsert": ["p": .array(Vocabulary.prefixes(w).map { .string($0) })]])
                }, upsert: true)
            known.withLock { $0.formUnion(chunk) }
        }
    }

    /// Counts a stored message's words, and hands the counts over (off the caller,
    /// one hand-over at a time, at most every `flushInterval`) once some are worth it.
    public func note(_ words: [String]) {
        counts.count(words)
        guard counts.hasReady else { return }
        let start = flushing.withLock { f -> Bool in
            if f.running { return false }
            if let last = f.last, ContinuousClock.now - last < flushInterval { return false }
            f.running = true
            return true
        }
        guard start else { return }
        Task {
            try? await self.flush()
            self.flushing.withLock { $0 = (false, .now) }
        }
    }

    /// Adds what was counted to the stored counts (`everything`: the rare words'
    /// deltas too). Deltas that could not be written are kept for the next time.
    public func flush(everything: Bool = false) async throws {
        let d = counts.take(everything: everything)
        do {
            try await add(d)
        } catch {
            counts.restore(d)
            throw error
        }
    }

    /// Adds counts to the stored ones (a word's entry made if it has none, with its
    /// prefixes, so a count never hides a word from its prefixes).
    public func add(_ d: WordCounts.Deltas) async throws { try await write(d.words, messages: d.messages, operator: "$inc") }

    /// Sets the counts (a recount: `VocabularyRecount`), entries made as `add` makes them.
    public func set(_ counts: [String: Int], messages: Int) async throws { try await write(counts, messages: messages, operator: "$set") }

    /// Upserts each word's `n` (and the messages' entry) with `$inc` or `$set`.
    private func write(_ counts: [String: Int], messages: Int, operator op: String) async throws {
        var statements: [(filter: BSONDocument, update: BSONDocument)] = counts.map { w, n in
            var update: BSONDocument = [op: ["n": .int64(Int64(n))]]
            if Vocabulary.isExpandable(w) { update["$setOnInsert"] = ["p": .array(Vocabulary.prefixes(w).map { .string($0) })] }
            return (["_id": .string(w)], update)
        }
        if messages > 0 || op == "$set" { statements.append((["_id": .string(Vocabulary.messagesKey)], [op: ["n": .int64(Int64(messages))]])) }
        for start in stride(from: 0, to: statements.count, by: 500) {
            try await collection.updateEach(Array(statements[start..<min(start + 500, statements.count)]), upsert: true)
        }
    }

    /// The stored counts of these words (0 for a word never counted) and of all messages.
    public func counts(of words: [String]) async throws -> (words: [String: Int], messages: Int) {
        let keys = Array(Set(words)) + [Vocabulary.messagesKey]
        var out: [String: Int] = [:]
        for d in try await collection.find(["_id": ["$in": .array(keys.map { .string($0) })]]).toArray() {
            if let id = d["_id"]?.stringValue { out[id] = Int(d["n"]?.int64Value ?? 0) }
        }
        let messages = out.removeValue(forKey: Vocabulary.messagesKey) ?? 0
        return (words.reduce(into: [:]) { $0[$1] = out[$1] ?? 0 }, messages)
    }

    /// What a prefix stands for: the words it begins (itself included when it is a
    /// word) with their counts, and whether there were more than `maxExpansion`.
    public struct Expansion: Sendable, Equatable {
        public var words: [String: Int]
        public var complete: Bool
        /// The index entries an `$in` of these words reads.
        public var cost: Int { words.values.reduce(0, +) }

        public init(words: [String: Int], complete: Bool) {
            self.words = words
            self.complete = complete
        }
    }

    /// The words that begin with `prefix`, at most `maxExpansion`.
    public func expand(_ prefix: String) async throws -> Expansion {
        guard Vocabulary.isExpandable(prefix) else {
            return Expansion(words: [prefix: try await counts(of: [prefix]).words[prefix] ?? 0], complete: true)
        }
        let probe = String(String.UnicodeScalarView(prefix.unicodeScalars.prefix(Vocabulary.maxPrefix)))
        let found = try await collection.find(
            ["p": .string(probe)], options: FindOptions(limit: Vocabulary.maxExpansion + 1, projection: ["_id": 1, "n": 1])
        ).toArray()
        var words: [String: Int] = [:]
        // A prefix longer than the indexed ones is checked on the words themselves.
        for d in found.prefix(Vocabulary.maxExpansion) {
            if let w = d["_id"]?.stringValue, w.hasPrefix(prefix) { words[w] = Int(d["n"]?.int64Value ?? 0) }
        }
        return Expansion(words: words, complete: found.count <= Vocabulary.maxExpansion)
    }
}
