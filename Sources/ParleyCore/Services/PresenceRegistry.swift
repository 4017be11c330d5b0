import Mongo
import Synchronization

/// Who is online on this node: a count of open connections per user. A user is
/// online while any of their connections (any device, any transport) is open.
public final class PresenceRegistry: Sendable {
    private let connections = Mutex<[ObjectId: Int]>([:])

    public init() {}

    /// Records a new connection; true when it is the user's first (they came online).
    @discardableResult
    public func connect(_ userId: ObjectId) -> Bool {
        connections.withLock { c in
            c[userId, default: 0] += 1
            return c[userId] == 1
        }
    }

    /// Records a closed connection; true when it was the user's last (they went offline).
    @discardableResult
    public func disconnect(_ userId: ObjectId) -> Bool {
        connections.withLock { c in
            guard let n = c[userId] else { return false }
            if n <= 1 {
                c[userId] = nil
                return true
            }
            c[userId] = n - 1
            return false
        }
    }

    public func isOnline(_ userId: ObjectId) -> Bool { connections.withLock { $0[userId] != nil } }

    public var onlineUserIds: [ObjectId] { connections.withLock { Array($0.keys) } }
}
