import Foundation
import Mongo
import ParleyCore
import Synchronization

/// An in-memory `MessageStore` for unit tests of the send path's pure logic
/// (numbering, refusals, retries), with the two unique keys of `messages` and an
/// ordered insert's semantics: what lands is the prefix before the first refusal.
/// Faults are queued with `fail(next:)`. The same behaviours are tested against the
/// real database in `SendPipelineTests`.
public final class InMemoryMessageStore: MessageStore {
    /// What the next inserts do instead of storing.
    public enum Fault: Sendable {
        /// Store the first `landing` documents, then report `unavailable`.
        case unavailable(landing: Int, timedOut: Bool)
        /// Refuse the document at `at` (as a validator would).
        case rejected(at: Int)
    }

    private struct State {
        var messages: [MessageRecord] = []
        var lastSeq: [ObjectId: Int] = [:]
        var faults: [Fault] = []
        var inserts = 0
        var raises = 0
        var failingRaises = 0
    }

    private let state = Mutex(State())

    public init(rooms: [ObjectId] = []) {
        state.withLock { s in for r in rooms { s.lastSeq[r] = 0 } }
    }

    /// Adds a room with its recorded `lastSeq`.
    public func addRoom(_ room: ObjectId, lastSeq: Int = 0) { state.withLock { $0.lastSeq[room] = lastSeq } }

    /// Stores messages directly, as another writer (or a crashed node) would, without
    /// raising `lastSeq`.
    public func storeDirectly(_ records: [MessageRecord]) { state.withLock { $0.messages += records } }

    /// Queues a fault for the next insert.
    public func fail(next fault: Fault) { state.withLock { $0.faults.append(fault) } }

    /// The next `count` `lastSeq` raises fail as unreachable.
    public func failRaises(_ count: Int) { state.withLock { $0.failingRaises += count } }

    /// How many `lastSeq` raises reached the store (failed ones included).
    public var raiseCount: Int { state.withLock { $0.raises } }

    public var messages: [MessageRecord] { state.withLock { $0.messages } }
    public var insertCount: Int { state.withLock { $0.inserts } }
    public func recordedLastSeq(_ room: ObjectId) -> Int? { state.withLock { $0.lastSeq[room] } }

    public func insert(_ records: [MessageRecord]) async throws {
        try state.withLock { s in
            s.inserts += 1
            let fault = s.faults.isEmpty ? nil : s.faults.removeFirst()
            for (i, r) in records.enumerated() {
                switch fault {
                case .unavailable(let landing, let timedOut) where i == landing: throw StoreRefusal.unavailable(timedOut: timedOut)
                case .rejected(let at) where i == at: throw StoreRefusal.rejected(at: i)
                default: break
                }
                if s.messages.contains(where: { $0.roomId == r.roomId && $0.seq == r.seq }) { throw StoreRefusal.seqTaken(at: i) }
                if s.messages.contains(where: { $0.senderId == r.senderId && $0.clientId == r.clientId }) { throw StoreRefusal.clientIdTaken(at: i) }
                s.messages.append(r)
            }
            if case .unavailable(_, let timedOut) = fault { throw StoreRefusal.unavailable(timedOut: timedOut) }
        }
    }

    public func originals(of keys: [ClientKey]) async throws -> [MessageRecord] {
        let wanted = Set(keys)
        return state.withLock { s in s.messages.filter { wanted.contains(ClientKey(sender: $0.senderId, clientId: $0.clientId)) } }
    }

    public func highestSeq(roomId: ObjectId, above seq: Int) async throws -> Int {
        state.withLock { s in max(seq, s.messages.filter { $0.roomId == roomId }.map(\.seq).max() ?? seq) }
    }

    public func stored(ids: [ObjectId]) async throws -> Set<ObjectId> {
        let wanted = Set(ids)
        return state.withLock { s in Set(s.messages.map(\.id).filter(wanted.contains)) }
    }

    public func lastSeqs(of rooms: [ObjectId]) async throws -> [ObjectId: Int] {
        state.withLock { s in s.lastSeq.filter { rooms.contains($0.key) } }
    }

    public func raiseLastSeq(_ marks: [ObjectId: Int], at time: Date) async throws {
        try state.withLock { s in
            s.raises += 1
            if s.failingRaises > 0 {
                s.failingRaises -= 1
                throw StoreRefusal.unavailable(timedOut: false)
            }
            for (room, seq) in marks where s.lastSeq[room] != nil { s.lastSeq[room] = max(s.lastSeq[room] ?? 0, seq) }
        }
    }
}
