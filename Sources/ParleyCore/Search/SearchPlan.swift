import Foundation

/// How one search reads its candidates, chosen from the counts of its words.
///
/// The embedded database reads every index entry of a key before it applies a
/// limit (measured over 1,000,000 messages: 7 ms for a rare word, 3.0 s for a word in
/// 6 % of them, 23.5 s for one in 20 %), so a common word is cheaper found by
/// reading the caller's newest messages and checking their words here, where it
/// turns up within a few hundred.
public enum SearchPlan: Equatable, Sendable {
    /// One indexed equality on the cheapest key, every entry of it read.
    case index(MessageSearchKey)
    /// The caller's rooms newest first, a time window at a time, expecting about
    /// `share` of the messages read to match.
    case recent(share: Double)

    /// Microseconds per index entry read (decoded, checked, sorted), per message
    /// read by a window, and per window query, on the embedded database (measured
    /// over 1,000,000 messages: a word of 8,329 entries took 1.0 s through the index,
    /// about 120 µs an entry; 100 windows of 8 messages, 120 ms).
    static let entryCost = 120.0, messageCost = 40.0, queryCost = 600.0

    /// The plan for whole words `terms` and a last word whose `expansion` is known,
    /// given how many messages were counted, the page size and the rooms searched.
    /// A key at most `directLimit` entries is always read from the index.
    public static func choose(
        terms: [String: Int], expansion: Vocabulary.Expansion, messages: Int, wanted: Int, rooms: Int, directLimit: Int
    ) -> SearchPlan {
        // The cheapest key; between equal counts the longest word (likeliest rare
        // when nothing was counted yet).
        var keys: [(key: MessageSearchKey, cost: Int, length: Int)] = terms.map { (.word($0.key), $0.value, $0.key.unicodeScalars.count) }
        if expansion.complete, !expansion.words.isEmpty {
            keys.append((.anyOf(expansion.words.keys.sorted()), expansion.cost, 0))
        }
        guard let best = keys.min(by: { ($0.cost, -$0.length) < ($1.cost, -$1.length) }) else {
            // Only a prefix too common to expand whole: its matches are everywhere.
            return .recent(share: 0.5)
        }
        guard best.cost > directLimit, messages > 0 else { return .index(best.key) }
        // The share of messages that match every word, taken as independent: two
        // common words together may be rare, and then the newest messages hold few.
        var share = 1.0
        for (_, cost, _) in keys { share *= min(1, Double(cost) / Double(messages)) }
        if !expansion.complete { share *= 0.5 }
        // Twice the messages the page is expected in: the caller's rooms may hold the
        // word less often than all of them do.
        let toRead = 2 * Double(wanted) / share
        let recentCost = toRead * messageCost + 2 * Double(rooms) * queryCost
        return recentCost < Double(best.cost) * entryCost ? .recent(share: share) : .index(best.key)
    }
}
