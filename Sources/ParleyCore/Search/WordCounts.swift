import Foundation
import Synchronization

/// How many messages each word is in, counted in memory by the node that takes the
/// sends and handed over in coalesced deltas (`Vocabulary` adds them to the stored
/// counts). Search needs the order of magnitude, not the exact figure: a word is
/// "common" when reading all its index entries would take longer than scanning the
/// newest messages. So a word's delta is only handed over once it reaches
/// `threshold` (a word that never does is rare, and its stored count of nothing
/// says so), which keeps the writes to a few hundred words per interval whatever
/// the traffic. Deletes are not subtracted: a count is an upper bound.
public final class WordCounts: Sendable {
    public struct Deltas: Sendable, Equatable {
        public var words: [String: Int]
        /// Messages counted (the denominator of a word's share).
        public var messages: Int

        public init(words: [String: Int], messages: Int) {
            self.words = words
            self.messages = messages
        }
    }

    public let threshold: Int
    /// At most this many words pending; past it the ones below the threshold are dropped.
    public let capacity: Int
    private struct State {
        var pending: [String: Int] = [:]
        var ready = 0
        var messages = 0
    }
    private let state = Mutex(State())

    public init(threshold: Int = 16, capacity: Int = 100_000) {
        self.threshold = threshold
        self.capacity = capacity
    }

    /// Counts one message's (distinct) words.
    public func count(_ words: [String]) {
        state.withLock { s in
            s.messages += 1
            for w in words {
                let n = s.pending[w, default: 0] + 1
                s.pending[w] = n
                if n == threshold { s.ready += 1 }
            }
            if s.pending.count > capacity {
                s.pending = s.pending.filter { $0.value >= threshold }
            }
        }
    }

    /// Whether a hand-over has something worth writing.
    public var hasReady: Bool { state.withLock { $0.ready > 0 || $0.messages >= threshold * 64 } }

    /// The deltas that reached the threshold (and every message counted), removed
    /// from what is pending; `everything` hands over the rest too.
    public func take(everything: Bool = false) -> Deltas {
        state.withLock { s in
            var out: [String: Int] = [:]
            if everything {
                out = s.pending
                s.pending = [:]
            } else {
                for (w, n) in s.pending where n >= threshold { out[w] = n }
                for w in out.keys { s.pending[w] = nil }
            }
            s.ready = 0
            let messages = s.messages
            s.messages = 0
            return Deltas(words: out, messages: messages)
        }
    }

    /// Puts deltas back after a hand-over that failed, so nothing counted is lost.
    public func restore(_ d: Deltas) {
        state.withLock { s in
            s.messages += d.messages
            for (w, n) in d.words {
                let before = s.pending[w, default: 0]
                s.pending[w] = before + n
                if before < threshold, before + n >= threshold { s.ready += 1 }
            }
        }
    }
}
