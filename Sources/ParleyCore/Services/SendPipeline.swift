import Foundation
import Logging
import Mongo
import Synchronization

/// The hot path of Parley: persists messages in batches.
///
/// One write is in flight per node. While it runs, new messages queue up, for every
/// room; the next write takes them all (up to `maxBatch`) and stores them with one
/// ordered `insert_many`, numbered from this node's counter of each room. Then the
/// messages go to fan-out and every sender gets its message back, which is the ack:
/// nothing is acknowledged before the database has it. One command per write,
/// whatever the number of rooms or messages, because the embedded database spends
/// far more on a command than on a document. The rooms' `lastSeq` is raised by a
/// `LastSeqRaiser`, coalesced over writes; on this node `head(of:)` is never behind.
///
/// The unique `{roomId, seq}` index arbitrates between nodes (and after a crash): a
/// write refused there means another writer got the seq first, so this node reads the
/// room's highest seq and numbers the rest after it. The insert is ordered, so what
/// landed is always a prefix of the write: seqs stay dense and each sender's messages
/// keep their order. Retried `clientId`s are answered from a cache of recent sends, or
/// caught by the unique `{senderId, clientId}` index and answered with the original.
public final class SendPipeline: Sendable {
    /// A message to store, as the sender wrote it, validated.
    public struct Submission: Sendable {
        public let roomId: ObjectId
        public let sender: UserRecord
        public let text: String
        public let clientId: String
        /// Where it came from, so fan-out can skip the sending connection.
        public let origin: UInt64?

        public init(roomId: ObjectId, sender: UserRecord, text: String, clientId: String, origin: UInt64?) {
            self.roomId = roomId
            self.sender = sender
            self.text = text
            self.clientId = clientId
            self.origin = origin
        }
    }

    /// A stored message and whether this submission stored it (false for a retry of
    /// a `clientId` stored before).
    public struct Outcome: Sendable {
        public let message: MessageRecord
        public let isNew: Bool
        /// Whether fan-out gets it: new messages, and originals found in the database
        /// that this node may never have pushed (a write whose answer never came, say
        /// behind a frozen database, that landed all the same). Clients dedupe by id.
        let announce: Bool

        init(message: MessageRecord, isNew: Bool, announce: Bool? = nil) {
            self.message = message
            self.isNew = isNew
            self.announce = announce ?? isNew
        }
    }

    /// Called once per room of a write with the messages it stored there and their
    /// origins, in seq order.
    public typealias Delivery = @Sendable (_ roomId: ObjectId, _ stored: [(message: MessageRecord, origin: UInt64?)]) -> Void

    private struct Pending {
        let submission: Submission
        let promise: Promise<Outcome>
    }

    private struct State {
        var pending: [Pending] = []
        var writing = false
        /// Per room, the highest seq this node knows is stored: where its next write
        /// numbers from. Read from the room's `lastSeq` the first time.
        var counters: [ObjectId: Int] = [:]
    }

    private typealias Stored = Result<Outcome, ParleyError>

    /// What makes a send unique: its sender and `clientId`.
    private struct ClientKey: Hashable {
        let sender: ObjectId
        let clientId: String
    }

    /// A batch whose messages are stored, before their acks.
    private struct Written: Sendable {
        let batch: [Pending]
        /// Repeats of a clientId within the batch: position → the first one's.
        let sameAs: [Int: Int]
        /// Outcomes known without the database (the recent cache).
        var outcomes: [Int: Stored]
        /// Positions that went to the database, and what it said, in the same order.
        let fresh: [Int]
        var stored: [Stored]
    }

    private let repos: ParleyRepositories
    private let maxBatch: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let delivery = Mutex<Delivery?>(nil)
    private let recent = RecentSends()
    private let lastSeq: LastSeqRaiser

    /// - Parameter lastSeqInterval: how long `lastSeq` may trail the stored messages
    ///   (see `LastSeqRaiser`).
    public init(
        repos: ParleyRepositories, maxBatch: Int = 1_000, lastSeqInterval: Duration = .milliseconds(250),
        logger: Logger = Logger(label: "parley.send")
    ) {
        self.repos = repos
        self.maxBatch = maxBatch
        self.logger = logger
        lastSeq = LastSeqRaiser(rooms: repos.rooms, interval: lastSeqInterval, logger: logger)
    }

    /// True when no message is queued or being written, and every room's `lastSeq`
    /// is raised to what this node stored.
    public var isIdle: Bool { state.withLock { $0.pending.isEmpty && !$0.writing } && lastSeq.isIdle }

    /// The room's last seq as far as this node knows: its `lastSeq` (which may trail by
    /// `lastSeqInterval`), or the highest seq this node knows stored there.
    public func head(of room: RoomRecord) -> Int { max(room.lastSeq, state.withLock { $0.counters[room.id] } ?? 0) }

    /// Takes the heads a reader found stored above rooms' `lastSeq` (messages acked just
    /// before a crash, whose `lastSeq` raise was lost): the raiser writes them, so the
    /// rooms' `lastSeq` catches up even if nobody writes there again.
    public func learn(heads: [ObjectId: Int]) { lastSeq.raise(heads, at: Date()) }

    /// Sets who is told of stored messages (the connection hub's fan-out).
    public func onDelivery(_ delivery: @escaping Delivery) { self.delivery.withLock { $0 = delivery } }

    /// The contract's limits on a message, checked before it is queued.
    public static func validate(text: String, clientId: String, maxChars: Int) throws {
        guard (1...maxChars).contains(text.unicodeScalars.count), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ParleyError(.badRequest, "text must be 1 to \(maxChars) characters and not only whitespace")
        }
        guard (1...64).contains(clientId.unicodeScalars.count) else { throw ParleyError(.badRequest, "clientId must be 1 to 64 characters") }
    }

    /// Queues a message and returns once it is stored (or was stored before).
    public func send(_ submission: Submission) async throws -> Outcome { try await enqueue(submission).value() }

    /// Queues a message now, in call order, and returns the promise of its outcome:
    /// a connection enqueues its sends as it reads them, so they keep their order.
    public func enqueue(_ submission: Submission) -> Promise<Outcome> {
        let promise = Promise<Outcome>()
        let startWriter = state.withLock { s -> Bool in
            s.pending.append(Pending(submission: submission, promise: promise))
            if s.writing { return false }
            s.writing = true
            return true
        }
        if startWriter { Task { await self.drain() } }
        return promise
    }

    /// Writes batches until the queue is empty; each batch is delivered and acked as
    /// soon as it is stored, so rooms' messages go out in seq order.
    private func drain() async {
        while true {
            let batch = state.withLock { s -> [Pending] in
                guard !s.pending.isEmpty else {
                    s.writing = false
                    return []
                }
                let taken = Array(s.pending.prefix(maxBatch))
                s.pending.removeFirst(taken.count)
                return taken
            }
            if batch.isEmpty { return }
            finish(await write(batch))
        }
    }

    /// Stores a batch: repeats within it and retries the recent cache knows are
    /// answered without the database, the rest go to `store`.
    private func write(_ batch: [Pending]) async -> Written {
        // Repeats of one clientId within the batch share the first one's outcome.
        var firstByKey: [ClientKey: Int] = [:]
        var sameAs: [Int: Int] = [:]
        var unique: [Int] = []
        for (i, p) in batch.enumerated() {
            let key = ClientKey(sender: p.submission.sender.id, clientId: p.submission.clientId)
            if let first = firstByKey[key] { sameAs[i] = first } else {
                firstByKey[key] = i
                unique.append(i)
            }
        }
        // Retries this node stored recently need no database work at all.
        var outcomes: [Int: Stored] = [:]
        var fresh: [Int] = []
        for i in unique {
            let s = batch[i].submission
            if let old = recent.lookup(sender: s.sender.id, clientId: s.clientId) {
                outcomes[i] = .success(Outcome(message: old, isNew: false))
            } else {
                fresh.append(i)
            }
        }
        let stored = await store(fresh.map { batch[$0].submission })
        return Written(batch: batch, sameAs: sameAs, outcomes: outcomes, fresh: fresh, stored: stored)
    }

    /// Delivers and acks a stored batch, and hands its rooms' new heads to the
    /// `lastSeq` raiser.
    private func finish(_ written: Written) {
        let (batch, sameAs, fresh) = (written.batch, written.sameAs, written.fresh)
        var outcomes = written.outcomes
        let stored = written.stored
        var marks: [ObjectId: Int] = [:]
        var delivered: [ObjectId: [(message: MessageRecord, origin: UInt64?)]] = [:]
        for (k, i) in fresh.enumerated() {
            outcomes[i] = stored[k]
            guard case .success(let o) = stored[k] else { continue }
            marks[o.message.roomId] = max(marks[o.message.roomId] ?? 0, o.message.seq)
            recent.remember(o.message)
            if o.announce { delivered[o.message.roomId, default: []].append((o.message, batch[i].submission.origin)) }
        }
        lastSeq.raise(marks, at: Date())
        if !delivered.isEmpty, let deliver = delivery.withLock({ $0 }) {
            // In seq order already: a room's messages are numbered in queue order.
            for (roomId, messages) in delivered { deliver(roomId, messages) }
        }
        for (i, p) in batch.enumerated() {
            let outcome = outcomes[sameAs[i] ?? i]!
            let result = sameAs[i] == nil ? outcome : outcome.map { Outcome(message: $0.message, isNew: false) }
            p.promise.complete(result.mapError { $0 as any Error })
        }
    }

    /// Stores submissions (several rooms, in queue order) with one ordered `insert_many`
    /// in the common case, and returns each one's outcome.
    ///
    /// A refusal stops an ordered insert, so everything before it landed and nothing
    /// after it did. The refused document decides what happens to the rest:
    /// - `{roomId, seq}` taken: another writer (a node, or this one before a restart)
    ///   stored there; the room's counter is read again and the rest renumbered.
    /// - `{senderId, clientId}` taken: a retry of a message stored before; the originals
    ///   of all the rest are read in one query and answered, the others renumbered.
    /// - a transient failure: the stored prefix is read back and the rest tried again.
    private func store(_ subs: [Submission]) async -> [Stored] {
        var results = [Stored?](repeating: nil, count: subs.count)
        var todo = Array(subs.indices)
        let rooms = Set(subs.map(\.roomId))
        var counters = state.withLock { s in Dictionary(uniqueKeysWithValues: rooms.compactMap { r in s.counters[r].map { (r, $0) } }) }
        func finish(_ error: any Error, _ positions: [Int]) {
            let mapped = ParleyError.from(error)
            if mapped.code == .internal { logger.error("send batch failed: \(error)") }
            for i in positions {
                results[i] = .failure(mapped)
                counters[subs[i].roomId] = nil
            }
        }
        do {
            let unknown = rooms.subtracting(counters.keys)
            if !unknown.isEmpty {
                for room in try await repos.rooms.find(ids: Array(unknown)) { counters[room.id] = room.lastSeq }
                for i in todo where counters[subs[i].roomId] == nil { results[i] = .failure(ParleyError(.notFound, "no such room")) }
                todo.removeAll { results[$0] != nil }
            }
        } catch {
            finish(error, todo)
            todo = []
        }

        var transientRetries = 0
        var collisions = 0
        var stalls = 0
        while !todo.isEmpty {
            // A round that settles nothing is given up soon, unless another writer took
            // the seqs: then that writer made progress, and this one tries again after it.
            let left = todo.count
            var contended = false
            defer { stalls = todo.count < left || contended ? 0 : stalls + 1 }
            guard stalls < 3 else {
                finish(ParleyError(.unavailable, "messages could not be stored; retry"), todo)
                break
            }
            let now = Date()
            var next = counters
            let records = todo.map { i -> MessageRecord in
                let s = subs[i]
                let seq = next[s.roomId]! + 1
                next[s.roomId] = seq
                return MessageRecord(
                    roomId: s.roomId, seq: seq, senderId: s.sender.id, senderName: s.sender.displayName, text: s.text,
                    clientId: s.clientId, createdAt: now)
            }
            func accept(_ count: Int) {
                for n in 0..<count {
                    results[todo[n]] = .success(Outcome(message: records[n], isNew: true))
                    counters[records[n].roomId] = records[n].seq
                }
                todo.removeFirst(count)
            }
            do {
                try await repos.messages.insert(records)
                accept(records.count)
            } catch let e as MongoError {
                do {
                    if let refused = e.writeErrors.map(\.index).min() {
                        accept(refused)
                        let error = e.writeErrors.first { $0.index == refused }!
                        let duplicate = MongoError.isDuplicateKey(code: error.code)
                        if duplicate && error.message.contains("clientId") {
                            try await answerRetries(subs, &todo, &results)
                        } else if duplicate && error.message.contains("seq") {
                            // Writers racing for one room take turns; a short random pause
                            // after the first collision keeps them from colliding in step.
                            collisions += 1
                            guard collisions <= 50 else { throw e }
                            contended = true
                            if collisions > 1 { try await Task.sleep(for: .milliseconds(Int.random(in: 1...min(collisions, 20)))) }
                            let room = subs[todo[0]].roomId
                            counters[room] = try await repos.messages.highestSeq(roomId: room, above: counters[room]!)
                        } else {
                            throw e
                        }
                    } else {
                        // A timeout spent the write's deadline and left its outcome
                        // unknown: answered `unavailable` now; a retry of the same clientId
                        // finds what landed. A refused connection fails fast: try again.
                        transientRetries += 1
                        guard e.isTransient, e.code != .timeout, transientRetries <= 3 else { throw e }
                        let landed = try await repos.messages.stored(ids: records.map(\.id))
                        accept(records.prefix { landed.contains($0.id) }.count)
                        try await Task.sleep(for: .milliseconds(100 * transientRetries))
                    }
                } catch {
                    finish(error, todo)
                    todo = []
                }
            } catch {
                finish(error, todo)
                todo = []
            }
        }
        state.withLock { s in
            for room in rooms { s.counters[room] = counters[room] }
        }
        return results.map { $0! }
    }

    /// Answers every submission in `todo` that retries a message stored before with
    /// that original, in one query, and leaves the others in `todo`.
    private func answerRetries(_ subs: [Submission], _ todo: inout [Int], _ results: inout [Stored?]) async throws {
        let originals = try await repos.messages.find(clientKeys: todo.map { (subs[$0].sender.id, subs[$0].clientId) })
        var byKey: [ClientKey: MessageRecord] = [:]
        for m in originals { byKey[ClientKey(sender: m.senderId, clientId: m.clientId)] = m }
        for i in todo {
            if let m = byKey[ClientKey(sender: subs[i].sender.id, clientId: subs[i].clientId)] {
                results[i] = .success(Outcome(message: m, isNew: false, announce: true))
            }
        }
        todo.removeAll { results[$0] != nil }
    }
}
