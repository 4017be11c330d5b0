import Mongo
import Synchronization

/// Who is online: a count of open connections per user on this node, and, in a
/// cluster, the other nodes each user has a connection on. A user is online while
/// any of their connections (any device, any transport, any node) is open.
public final class PresenceRegistry: Sendable {
    private struct State {
        var local: [ObjectId: Int] = [:]
        var remote: [ObjectId: Set<String>] = [:]

        func isOnline(_ user: ObjectId) -> Bool { local[user] != nil || remote[user] != nil }
    }

    private let state = Mutex(State())

    public init() {}

    /// Records a new connection; true when it is the user's first here.
    @discardableResult
    public func connect(_ userId: ObjectId) -> Bool {
        state.withLock { s in
            s.local[userId, default: 0] += 1
            return s.local[userId] == 1
        }
    }

    /// Records a closed connection; true when it was the user's last here.
    @discardableResult
    public func disconnect(_ userId: ObjectId) -> Bool {
        state.withLock { s in
            guard let n = s.local[userId] else { return false }
            if n <= 1 {
                s.local[userId] = nil
                return true
            }
            s.local[userId] = n - 1
            return false
        }
    }

    /// Online on any node.
    public func isOnline(_ userId: ObjectId) -> Bool { state.withLock { $0.isOnline(userId) } }

    /// Everyone online, on any node.
    public var onlineUserIds: [ObjectId] { state.withLock { Array(Set($0.local.keys).union($0.remote.keys)) } }

    /// Everyone online on this node.
    public var localUserIds: [ObjectId] { state.withLock { Array($0.local.keys) } }

    /// Another node has the user online; true when that made them online at all.
    @discardableResult
    public func remoteOnline(_ userId: ObjectId, node: String) -> Bool {
        state.withLock { s in
            let was = s.isOnline(userId)
            s.remote[userId, default: []].insert(node)
            return !was
        }
    }

    /// Another node no longer has the user; true when that made them offline everywhere.
    @discardableResult
    public func remoteOffline(_ userId: ObjectId, node: String) -> Bool {
        state.withLock { s in
            guard s.remote[userId]?.remove(node) != nil else { return false }
            if s.remote[userId]?.isEmpty == true { s.remote[userId] = nil }
            return !s.isOnline(userId)
        }
    }

    /// A node is gone (dead, or its view rebuilt): returns the users it held who are
    /// now offline everywhere.
    public func nodeGone(_ node: String) -> [ObjectId] {
        state.withLock { s in
            var offline: [ObjectId] = []
            for (user, nodes) in s.remote where nodes.contains(node) {
                if nodes.count == 1 {
                    s.remote[user] = nil
                    if s.local[user] == nil { offline.append(user) }
                } else {
                    s.remote[user]?.remove(node)
                }
            }
            return offline
        }
    }

    /// Replaces what is known of other nodes (a load or a repair from the database).
    public func replaceRemote(_ entries: [(user: ObjectId, node: String)]) {
        var remote: [ObjectId: Set<String>] = [:]
        for e in entries { remote[e.user, default: []].insert(e.node) }
        state.withLock { $0.remote = remote }
    }
}
