import Foundation
import Logging
import Mongo
import Synchronization

/// The hot path of Parley: persists messages in per-room batches.
///
/// While one database write for a room is in flight, new messages for that room
/// queue up. The next write takes them all (up to `maxBatch`): one `findAndModify
/// $inc` reserves their seqs, one unordered `insert_many` stores them. Then every
/// sender gets its message back, which is the ack: nothing is acknowledged before the
/// database has it. Retried `clientId`s are answered from a cache of recent sends, or
/// caught by the unique index (see `store`).
///
/// Seqs are dense per room because they come from the room's counter, a batch's
/// documents are retried with the same seqs on a transient failure, and a batch
/// taken back gives its seqs back. Within a node the batches of a room are serial.
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
    }

    /// Called once per batch with its room and the messages it stored and their
    /// origins, in seq order (a batch is always one room's).
    public typealias Delivery = @Sendable (_ roomId: ObjectId, _ stored: [(message: MessageRecord, origin: UInt64?)]) -> Void

    private struct Pending {
        let submission: Submission
        let promise: Promise<Outcome>
    }

    private struct RoomQueue {
        var pending: [Pending] = []
        var writing = false
    }

    private let repos: ParleyRepositories
    private let maxBatch: Int
    private let logger: Logger
    private let queues = Mutex<[ObjectId: RoomQueue]>([:])
    private let delivery = Mutex<Delivery?>(nil)
    private let recent = RecentSends()

    public init(repos: ParleyRepositories, maxBatch: Int = 500, logger: Logger = Logger(label: "parley.send")) {
        self.repos = repos
        self.maxBatch = maxBatch
        self.logger = logger
    }

    /// True when no message is queued or being written.
    public var isIdle: Bool { queues.withLock { $0.isEmpty } }

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
        let startWriter = queues.withLock { q -> Bool in
            q[submission.roomId, default: RoomQueue()].pending.append(Pending(submission: submission, promise: promise))
            if q[submission.roomId]!.writing { return false }
            q[submission.roomId]!.writing = true
            return true
        }
        if startWriter {
            let roomId = submission.roomId
            Task { await self.drain(roomId) }
        }
        return promise
    }

    /// Writes batches for one room until its queue is empty.
    private func drain(_ roomId: ObjectId) async {
        while true {
            let batch = queues.withLock { q -> [Pending] in
                guard var room = q[roomId], !room.pending.isEmpty else {
                    q[roomId] = nil
                    return []
                }
                let taken = Array(room.pending.prefix(maxBatch))
                room.pending.removeFirst(taken.count)
                q[roomId] = room
                return taken
            }
            if batch.isEmpty { return }
            await write(batch, roomId: roomId)
        }
    }

    private func write(_ batch: [Pending], roomId: ObjectId) async {
        do {
            // Repeats of one clientId within the batch share the first one's outcome.
            var firstByKey: [String: Int] = [:]
            var sameAs: [Int: Int] = [:]
            var unique: [Int] = []
            for (i, p) in batch.enumerated() {
                let key = "\(p.submission.sender.id.hex):\(p.submission.clientId)"
                if let first = firstByKey[key] { sameAs[i] = first } else {
                    firstByKey[key] = i
                    unique.append(i)
                }
            }
            // Retries this node stored recently need no database work at all.
            var outcomes: [Int: Outcome] = [:]
            var fresh: [Int] = []
            for i in unique {
                let s = batch[i].submission
                if let old = recent.lookup(sender: s.sender.id, clientId: s.clientId) {
                    outcomes[i] = Outcome(message: old, isNew: false)
                } else {
                    fresh.append(i)
                }
            }
            let stored = try await store(fresh.map { batch[$0].submission }, roomId: roomId)
            var delivered: [(message: MessageRecord, origin: UInt64?)] = []
            for (k, i) in fresh.enumerated() {
                outcomes[i] = stored[k]
                recent.remember(stored[k].message)
                if stored[k].isNew { delivered.append((stored[k].message, batch[i].submission.origin)) }
            }
            if !delivered.isEmpty, let deliver = delivery.withLock({ $0 }) { deliver(roomId, delivered) }
            for (i, p) in batch.enumerated() {
                let outcome = outcomes[sameAs[i] ?? i]!
                p.promise.complete(.success(sameAs[i] == nil ? outcome : Outcome(message: outcome.message, isNew: false)))
            }
        } catch {
            let mapped = ParleyError.from(error)
            if mapped.code == .internal { logger.error("send batch for room \(roomId.hex) failed: \(error)") }
            for p in batch { p.promise.complete(.failure(mapped)) }
        }
    }

    /// Stores submissions with the room's next seqs: one `findAndModify $inc`, one
    /// unordered `insert_many`. The unique `{senderId, clientId}` index is the dedupe:
    /// when it refuses a document (a retry of a message stored before a restart or on
    /// another node, which the recent cache cannot know), the batch is taken back: its
    /// documents, never acknowledged nor pushed, are deleted, the seqs are given back
    /// when no one reserved after them, the originals are read, and the rest is stored
    /// again. So seqs stay dense and nothing is stored twice, at no cost in the common case.
    private func store(_ subs: [Submission], roomId: ObjectId) async throws -> [Outcome] {
        var result = [Outcome?](repeating: nil, count: subs.count)
        var todo = Array(subs.indices)
        var attempt = 0
        while !todo.isEmpty {
            attempt += 1
            guard attempt <= 3 else { throw ParleyError(.unavailable, "messages could not be stored; retry") }
            let now = Date()
            guard let first = try await repos.rooms.reserveSeqs(roomId: roomId, count: todo.count, at: now) else {
                throw ParleyError(.notFound, "no such room")
            }
            let records = todo.enumerated().map { (n, i) in
                let s = subs[i]
                return MessageRecord(
                    roomId: roomId, seq: first + n, senderId: s.sender.id, senderName: s.sender.displayName, text: s.text,
                    clientId: s.clientId, createdAt: now)
            }
            let duplicates = try await insert(records)
            if duplicates.isEmpty {
                for (n, i) in todo.enumerated() { result[i] = Outcome(message: records[n], isNew: true) }
                return result.map { $0! }
            }
            let landed = records.indices.filter { !duplicates.contains($0) }.map { records[$0].id }
            try await repos.messages.delete(ids: landed)
            if try await !repos.rooms.releaseSeqs(roomId: roomId, count: records.count, expectedLast: first + records.count - 1) {
                logger.warning("room \(roomId.hex): seqs \(first)...\(first + records.count - 1) left unused (another writer reserved after them)")
            }
            for n in duplicates {
                let s = subs[todo[n]]
                if let original = try await repos.messages.find(senderId: s.sender.id, clientId: s.clientId) {
                    result[todo[n]] = Outcome(message: original, isNew: false)
                }
            }
            todo = todo.filter { result[$0] == nil }
        }
        return result.map { $0! }
    }

    /// Inserts unordered, retrying transient failures with the same documents (same
    /// `_id`s and seqs; a duplicate `_id` means an earlier attempt landed). Returns the
    /// positions refused because their `{senderId, clientId}` is already stored.
    private func insert(_ records: [MessageRecord]) async throws -> Set<Int> {
        var remaining = Array(records.indices)
        var clientDuplicates = Set<Int>()
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await repos.messages.insert(remaining.map { records[$0] })
                return clientDuplicates
            } catch let e as MongoError {
                var retry: [Int] = []
                if e.writeErrors.isEmpty {
                    guard e.isTransient else { throw e }
                    retry = remaining
                } else {
                    for w in e.writeErrors {
                        let position = remaining[w.index]
                        let duplicate = MongoError.isDuplicateKey(code: w.code)
                        if duplicate && w.message.contains("clientId") {
                            clientDuplicates.insert(position)
                        } else if duplicate && w.message.contains("_id_") {
                            continue
                        } else {
                            throw e
                        }
                    }
                }
                if retry.isEmpty { return clientDuplicates }
                guard attempt < 4 else { throw e }
                remaining = retry
                try await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
    }
}
