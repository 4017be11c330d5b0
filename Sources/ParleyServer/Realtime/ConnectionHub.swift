import Foundation
import Mongo
import ParleyCore
import Synchronization

/// The live connections of this node: by user (several devices each), and by room
/// (the rooms their users belong to). Fan-out collects the target connections under
/// the lock and writes outside it; the frame is the same shared buffer for all.
final class ConnectionHub: Sendable {
    private struct State {
        var connections: [UInt64: Connection] = [:]
        var byUser: [ObjectId: Set<UInt64>] = [:]
        var byRoom: [ObjectId: Set<UInt64>] = [:]
        var roomsOfUser: [ObjectId: Set<ObjectId>] = [:]
    }

    private let state = Mutex<State>(State())
    private let draining = Atomic<Bool>(false)

    /// True once a graceful shutdown began: no new sessions, no new sends.
    var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Starts a graceful shutdown (see `RealtimeDrain`).
    func beginDraining() { draining.store(true, ordering: .relaxed) }

    /// A new public room (`room:created`), to this node's connections that hear of
    /// every one (`Connection.hearsNewRooms`).
    func announceNewRoom(_ frame: PushFrame) {
        let all = state.withLock { $0.connections.values.filter(\.hearsNewRooms) }
        for c in all { c.deliver(frame) }
    }

    /// Adds a connection, subscribed to `rooms` (the user's memberships).
    func add(_ connection: Connection, rooms: [ObjectId]) {
        state.withLock { s in
            s.connections[connection.id] = connection
            s.byUser[connection.userId, default: []].insert(connection.id)
            var mine = s.roomsOfUser[connection.userId] ?? []
            mine.formUnion(rooms)
            s.roomsOfUser[connection.userId] = mine
            for room in mine { s.byRoom[room, default: []].insert(connection.id) }
        }
    }

    /// Removes a connection; false when it was not registered.
    @discardableResult
    func remove(_ connection: Connection) -> Bool {
        state.withLock { s in
            guard s.connections.removeValue(forKey: connection.id) != nil else { return false }
            s.byUser[connection.userId]?.remove(connection.id)
            for room in s.roomsOfUser[connection.userId] ?? [] {
                s.byRoom[room]?.remove(connection.id)
                if s.byRoom[room]?.isEmpty == true { s.byRoom[room] = nil }
            }
            if s.byUser[connection.userId]?.isEmpty == true {
                s.byUser[connection.userId] = nil
                s.roomsOfUser[connection.userId] = nil
            }
            return true
        }
    }

    /// Subscribes every connection of a user to a room (they joined or were added).
    func subscribe(_ userId: ObjectId, to roomId: ObjectId) {
        state.withLock { s in
            guard let conns = s.byUser[userId] else { return }
            s.roomsOfUser[userId, default: []].insert(roomId)
            s.byRoom[roomId, default: []].formUnion(conns)
        }
    }

    func unsubscribe(_ userId: ObjectId, from roomId: ObjectId) {
        state.withLock { s in
            guard let conns = s.byUser[userId] else { return }
            s.roomsOfUser[userId]?.remove(roomId)
            s.byRoom[roomId]?.subtract(conns)
            if s.byRoom[roomId]?.isEmpty == true { s.byRoom[roomId] = nil }
        }
    }

    /// Unsubscribes every connection from a room (it was deleted).
    func drop(_ roomId: ObjectId) {
        state.withLock { s in
            guard let conns = s.byRoom.removeValue(forKey: roomId) else { return }
            for id in conns {
                if let user = s.connections[id]?.userId { s.roomsOfUser[user]?.remove(roomId) }
            }
        }
    }

    /// Pushes to every connection of one user (`room:added`, `room:removed`).
    func send(_ frame: PushFrame, toUser userId: ObjectId) {
        let targets = state.withLock { s in (s.byUser[userId] ?? []).compactMap { s.connections[$0] } }
        for c in targets { c.deliver(frame) }
    }

    /// Makes a user's subscriptions exactly `rooms` (a repair from the database).
    func resubscribe(_ userId: ObjectId, to rooms: Set<ObjectId>) {
        state.withLock { s in
            guard let conns = s.byUser[userId] else { return }
            let before = s.roomsOfUser[userId] ?? []
            for room in before.subtracting(rooms) {
                s.byRoom[room]?.subtract(conns)
                if s.byRoom[room]?.isEmpty == true { s.byRoom[room] = nil }
            }
            for room in rooms.subtracting(before) { s.byRoom[room, default: []].formUnion(conns) }
            s.roomsOfUser[userId] = rooms
        }
    }

    /// The rooms a user online here is subscribed to.
    func rooms(of userId: ObjectId) -> [ObjectId] { state.withLock { Array($0.roomsOfUser[userId] ?? []) } }

    /// Every room some connection here listens to.
    var subscribedRooms: [ObjectId] { state.withLock { Array($0.byRoom.keys) } }

    /// Whether any connection here listens to the room.
    func hasSubscribers(_ roomId: ObjectId) -> Bool { state.withLock { $0.byRoom[roomId] != nil } }

    /// Whether an online user is known here as a member of the room.
    func isSubscribed(_ userId: ObjectId, to roomId: ObjectId) -> Bool {
        state.withLock { $0.roomsOfUser[userId]?.contains(roomId) ?? false }
    }

    /// Pushes to every connection subscribed to the room, but the excluded ones.
    func broadcast(_ frame: PushFrame, to roomId: ObjectId, exceptUser: ObjectId? = nil) {
        let targets = state.withLock { s -> [Connection] in
            (s.byRoom[roomId] ?? []).compactMap { id in
                guard let c = s.connections[id], c.userId != exceptUser else { return nil }
                return c
            }
        }
        for c in targets { c.deliver(frame) }
    }

    /// Pushes a room's new messages (one stored batch, in seq order) to every
    /// connection in the room; each connection skips the messages it sent itself.
    /// The room's connections are looked up once for the whole batch.
    func broadcast(messages: [(frame: PushFrame, seq: Int, origin: UInt64?)], to roomId: ObjectId) {
        guard !messages.isEmpty else { return }
        let targets = state.withLock { s in (s.byRoom[roomId] ?? []).compactMap { s.connections[$0] } }
        let all = messages.map { (frame: $0.frame, seq: $0.seq) }
        // Only the few sending connections need a batch of their own.
        let origins = Set(messages.compactMap(\.origin))
        for c in targets {
            guard origins.contains(c.id) else {
                c.deliver(messages: all, in: roomId)
                continue
            }
            let others = messages.filter { $0.origin != c.id }.map { (frame: $0.frame, seq: $0.seq) }
            if !others.isEmpty { c.deliver(messages: others, in: roomId) }
        }
    }

    /// Pushes to every connection subscribed to any of `rooms`, once each, but the
    /// user's own: a presence change, to the user's roommates (`rooms(of:)` here, or
    /// the rooms another node sent with it).
    func broadcast(_ frame: PushFrame, toRooms rooms: [ObjectId], exceptUser: ObjectId?) {
        let targets = state.withLock { s -> [Connection] in
            var ids = Set<UInt64>()
            for room in rooms { ids.formUnion(s.byRoom[room] ?? []) }
            return ids.compactMap { s.connections[$0] }.filter { $0.userId != exceptUser }
        }
        for c in targets { c.deliver(frame) }
    }

    var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Every connection (for shutdown).
    var all: [Connection] { state.withLock { Array($0.connections.values) } }
}
