import Foundation
import Logging
import Mongo
import Synchronization

/// The hot path of Parley: persists messages in per-room batches.
///
/// While one database write for a room is in flight, new messages for that room
/// queue up. The next write takes them all (up to `maxBatch`): one query finds
/// retried `clientId`s already stored, one `findAndModify $inc` reserves the seqs of
/// the new ones, one `insert_many` stores them. Then every sender gets its message
/// back, which is the ack: nothing is acknowledged before the database has it.
///
/// Seqs are dense per room because they come from the room's counter and a batch's
/// documents are retried with the same seqs on a transient failure. Within a node the
/// batches of a room are serial, so two sends of one `clientId` can never race.
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

    /// Called once per batch with the messages it stored and their origins, in seq order.
    public typealias Delivery = @Sendable (_ stored: [(message: MessageRecord, origin: UInt64?)]) -> Void

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

    public init(repos: ParleyRepositories, maxBatch: Int = 500, logger: Logger = Logger(label: "parley.send")) {
        self.repos = repos
        self.maxBatch = maxBatch
        self.logger = logger
    }

    /// Sets who is told of stored messages (the connection hub's fan-out).
    public func onDelivery(_ delivery: @escaping Delivery) { self.delivery.withLock { $0 = delivery } }

    /// The contract's limits on a message, checked before it is queued.
    public static func validate(text: String, clientId: String, maxChars: Int) throws {
        guard (1...maxChars).contains(text.count), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ParleyError(.badRequest, "text must be 1 to \(maxChars) characters and not only whitespace")
        }
        guard (1...64).contains(clientId.count) else { throw ParleyError(.badRequest, "clientId must be 1 to 64 characters") }
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
            // Retries within the batch share the first submission's outcome.
            var firstByKey: [String: Int] = [:]
            var unique: [Int] = []
            var sameAs: [Int: Int] = [:]
            for (i, p) in batch.enumerated() {
                let key = "\(p.submission.sender.id.hex):\(p.submission.clientId)"
                if let first = firstByKey[key] { sameAs[i] = first } else {
                    firstByKey[key] = i
                    unique.append(i)
                }
            }
            // Retries of messages stored earlier.
            let existing = try await repos.messages.find(
                clientKeys: unique.map { (batch[$0].submission.sender.id, batch[$0].submission.clientId) })
            var outcomes: [Int: Outcome] = [:]
            var fresh: [Int] = []
            for i in unique {
                let s = batch[i].submission
                if let old = existing.first(where: { $0.senderId == s.sender.id && $0.clientId == s.clientId }) {
                    outcomes[i] = Outcome(message: old, isNew: false)
                } else {
                    fresh.append(i)
                }
            }
            var stored: [(message: MessageRecord, origin: UInt64?)] = []
            if !fresh.isEmpty {
                let now = Date()
                guard let first = try await repos.rooms.reserveSeqs(roomId: roomId, count: fresh.count, at: now) else {
                    throw ParleyError(.notFound, "no such room")
                }
                let records = fresh.enumerated().map { (n, i) in
                    let s = batch[i].submission
                    return MessageRecord(
                        roomId: roomId, seq: first + n, senderId: s.sender.id, senderName: s.sender.displayName, text: s.text,
                        clientId: s.clientId, createdAt: now)
                }
                try await insertWithRetry(records)
                for (n, i) in fresh.enumerated() {
                    outcomes[i] = Outcome(message: records[n], isNew: true)
                    stored.append((records[n], batch[i].submission.origin))
                }
            }
            if !stored.isEmpty, let deliver = delivery.withLock({ $0 }) { deliver(stored) }
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

    /// Inserts a batch, retrying transient failures with the same documents (same
    /// `_id`s and seqs), so a brief outage does not leave a hole in the room's seqs.
    /// A duplicate `_id` on retry means the earlier attempt landed.
    private func insertWithRetry(_ records: [MessageRecord]) async throws {
        var attempt = 0
        var remaining = records
        while true {
            do {
                try await repos.messages.insert(remaining)
                return
            } catch let e as MongoError where e.isTransient || e.code == .duplicateKey {
                // The insert is unordered: find out what landed and retry only the rest.
                attempt += 1
                if let stored = try? await repos.messages.existingIds(remaining.map(\.id)) {
                    remaining.removeAll { stored.contains($0.id) }
                }
                if remaining.isEmpty { return }
                guard attempt < 4 else { throw e }
                if e.isTransient { try await Task.sleep(for: .milliseconds(100 * attempt)) }
            }
        }
    }
}
