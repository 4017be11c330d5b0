import Synchronization

/// The other nodes as this one hears them: when each last spoke (any signal batch,
/// heartbeats included) by this node's clock, and the number of its last batch.
final class Peers: Sendable {
    /// What one batch from a peer means.
    enum Heard: Equatable {
        /// The next batch, or the first from a node not known before.
        case inOrder
        /// Batches between the last one and this one never arrived: repair.
        case gap
        /// Already applied (a stream resumed a little early): skip it.
        case repeated
    }

    private struct Peer {
        var lastSeen: ContinuousClock.Instant
        /// Nil until the first batch is heard (a node known from `nodes`).
        var lastBatch: Int?
    }

    private let state = Mutex<[String: Peer]>([:])

    /// Records batch `n` of `node`. A node numbers its batches from 1 at each start,
    /// so a 1 is a restart, never a repeat.
    func heard(_ node: String, batch n: Int, at now: ContinuousClock.Instant) -> Heard {
        state.withLock { peers in
            var peer = peers[node] ?? Peer(lastSeen: now, lastBatch: nil)
            peer.lastSeen = now
            defer { peers[node] = peer }
            guard let last = peer.lastBatch, n != 1, n != last + 1 else {
                peer.lastBatch = n
                return .inOrder
            }
            if n <= last { return .repeated }
            peer.lastBatch = n
            return .gap
        }
    }

    /// A node known alive from the `nodes` collection (at start or in a repair),
    /// before any of its batches arrived.
    func known(_ node: String, at now: ContinuousClock.Instant) {
        state.withLock { peers in
            if peers[node] == nil { peers[node] = Peer(lastSeen: now, lastBatch: nil) }
        }
    }

    /// Counts every peer as heard now (this node was away: their silence was its own).
    func refresh(at now: ContinuousClock.Instant) {
        state.withLock { peers in
            for node in peers.keys { peers[node]?.lastSeen = now }
        }
    }

    /// Removes and returns the nodes silent for longer than `timeout`.
    func expire(now: ContinuousClock.Instant, timeout: Duration) -> [String] {
        state.withLock { peers in
            let dead = peers.filter { now - $0.value.lastSeen > timeout }.map(\.key)
            for node in dead { peers[node] = nil }
            return dead
        }
    }

    /// The nodes alive, this one not included.
    var alive: [String] { state.withLock { Array($0.keys) } }
}
