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
public final class Vocabulary: Sendable {
    public static let minPrefix = 2
    public static let maxPrefix = 20
    /// At most this many words stand for one prefix (the most a query expands to).
    public static let maxExpansion = 500

    private struct Entry: Codable {
        let id: String
        let p: [String]
        enum CodingKeys: String, CodingKey { case id = "_id", p }
    }

    private let collection: MongoCollection<BSONDocument>
    /// Words this process knows are stored: learning them again costs nothing.
    private let known = Mutex<Set<String>>([])
    private let maxKnown = 200_000

    public init(database: MongoDatabase) { collection = database.collection("words") }

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

    /// The words that begin with `prefix` (itself included when it is a word), at
    /// most `maxExpansion`.
    public func expand(_ prefix: String) async throws -> [String] {
        guard Vocabulary.isExpandable(prefix) else { return [prefix] }
        let probe = String(String.UnicodeScalarView(prefix.unicodeScalars.prefix(Vocabulary.maxPrefix)))
        let found = try await collection.find(["p": .string(probe)], options: FindOptions(limit: Vocabulary.maxExpansion, projection: ["_id": 1]))
            .toArray().compactMap { $0["_id"]?.stringValue }
        // A prefix longer than the indexed ones is checked on the words themselves.
        return found.filter { $0.hasPrefix(prefix) }
    }
}
