import Foundation
import Logging
import Mongo

/// Stores one batch of submissions (several rooms, in queue order) with one ordered
/// insert in the common case, numbered from the rooms' counters (`RoomHeads`).
///
/// A refusal stops an ordered insert: everything before it landed, nothing after it
/// did, so what a write stores is always a prefix and seqs stay dense. The refusal
/// decides what happens to the rest (`StoreRefusal`):
/// - seq taken: another writer stored there; the room's highest seq is read and the
///   rest renumbered after it. Writers racing for one room take turns: each collision
///   is another writer's progress, retried after a short random pause.
/// - clientId taken: a retry of a message stored before; the originals of all the
///   waiting submissions are read in one query and answered, the others renumbered.
/// - unavailable: what landed is read back and the rest tried again, unless the
///   deadline is spent (a timeout), when they are answered `unavailable` at once.
/// - rejected (a validator): what landed stands, the rest fails as `internal`.
struct BatchWriter: Sendable {
    /// The bounds of one batch's retries.
    struct Limits: Sendable {
        /// Seq collisions before the batch gives up (each one is another writer's progress).
        var collisions = 50
        /// The longest pause after a collision; the first collision retries at once.
        var collisionPause: Duration = .milliseconds(20)
        /// Rounds in a row that settle nothing, without a collision, before giving up.
        var stalledRounds = 3
        /// Retries after the store broke off, and the pause before the n-th one (n times this).
        var transientRetries = 3
        var transientPause: Duration = .milliseconds(100)
    }

    let store: any MessageStore
    let heads: RoomHeads
    var limits = Limits()
    let logger: Logger

    /// Each submission's outcome, in the order given.
    func write(_ subs: [SendPipeline.Submission]) async -> [Result<SendPipeline.Outcome, ParleyError>] {
        let rooms = Set(subs.map(\.roomId))
        var batch = Batch(subs, rooms: rooms, counters: heads.counters(for: rooms))
        do {
            try await loadCounters(&batch)
        } catch {
            batch.failWaiting(fail(error))
        }
        var budget = Budget(limits)
        while !batch.waiting.isEmpty {
            guard budget.mayTryAgain else {
                batch.failWaiting(ParleyError(.unavailable, "messages could not be stored; retry"))
                break
            }
            let waitingBefore = batch.waiting.count
            let records = batch.numbered(at: Date())
            var contended = false
            do {
                try await store.insert(records)
                batch.accept(records[...])
            } catch let refusal as StoreRefusal {
                do {
                    contended = try await handle(refusal, of: records, in: &batch, budget: &budget)
                } catch {
                    batch.failWaiting(fail(error))
                }
            } catch {
                batch.failWaiting(fail(error))
            }
            budget.round(settled: batch.waiting.count < waitingBefore, contended: contended)
        }
        heads.update(rooms: batch.rooms, counters: batch.counters)
        return batch.outcomes
    }

    /// Reads `lastSeq` for the rooms this node has no counter for; a room that does
    /// not exist fails its submissions with `not_found`.
    private func loadCounters(_ batch: inout Batch) async throws {
        let unknown = batch.rooms.subtracting(batch.counters.keys)
        guard !unknown.isEmpty else { return }
        for (room, seq) in try await store.lastSeqs(of: Array(unknown)) { batch.counters[room] = seq }
        let known = batch.counters
        batch.failWaiting(ParleyError(.notFound, "no such room")) { known[$0.roomId] == nil }
    }

    /// Acts on a refusal of `records` (the waiting submissions, numbered); true when
    /// another writer took the seqs (contention, not a stall).
    private func handle(_ refusal: StoreRefusal, of records: [MessageRecord], in batch: inout Batch, budget: inout Budget) async throws -> Bool {
        switch refusal {
        case .seqTaken(let at):
            batch.accept(records[..<at])
            try budget.collided()
            if budget.collisions > 1 {
                let longest = Int(limits.collisionPause / .milliseconds(1))
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...max(1, min(budget.collisions, longest)))))
            }
            let room = records[at].roomId
            batch.counters[room] = try await store.highestSeq(roomId: room, above: batch.counters[room] ?? 0)
            // Other writers are active: what this node heard from them meanwhile (the
            // cluster's `RoomHeads.seen`) moves the other rooms' counters too, so the
            // retry does not collide room after room.
            for (r, seen) in heads.counters(for: batch.rooms) where seen > batch.counters[r] ?? 0 { batch.counters[r] = seen }
            return true
        case .clientIdTaken(let at):
            batch.accept(records[..<at])
            batch.answerRetries(with: try await store.originals(of: batch.waitingKeys))
            return false
        case .rejected(let at):
            batch.accept(records[..<at])
            throw ParleyError(.internal, "the database refused message \(records[at].id.hex)")
        case .unavailable(let timedOut):
            guard !timedOut, budget.mayRetryTransient() else { throw ParleyError(.unavailable, "the database is unreachable; try again shortly") }
            let landed = try await store.stored(ids: records.map(\.id))
            batch.accept(records.prefix { landed.contains($0.id) })
            try await Task.sleep(for: limits.transientPause * budget.transientRetries)
            return false
        }
    }

    private func fail(_ error: any Error) -> ParleyError {
        let mapped = ParleyError.from(error)
        if mapped.code == .internal { logger.error("send batch failed: \(error)") }
        return mapped
    }
}

/// One batch while it is written: each submission's outcome once known, the ones still
/// waiting (in queue order), and the rooms' counters as the writes go.
private struct Batch {
    let subs: [SendPipeline.Submission]
    let rooms: Set<ObjectId>
    /// Per room, the highest seq stored as far as this batch knows: the next is one more.
    var counters: [ObjectId: Int]
    private var results: [Result<SendPipeline.Outcome, ParleyError>?]
    /// Positions not settled yet, in queue order: what the next insert tries.
    private(set) var waiting: [Int]

    init(_ subs: [SendPipeline.Submission], rooms: Set<ObjectId>, counters: [ObjectId: Int]) {
        self.subs = subs
        self.rooms = rooms
        self.counters = counters
        results = Array(repeating: nil, count: subs.count)
        waiting = Array(subs.indices)
    }

    /// Every outcome; called when nothing waits.
    var outcomes: [Result<SendPipeline.Outcome, ParleyError>] {
        results.map { $0 ?? .failure(ParleyError(.internal, "message left unsettled")) }
    }

    var waitingKeys: [ClientKey] { waiting.map { ClientKey(sender: subs[$0].sender.id, clientId: subs[$0].clientId) } }

    /// The waiting submissions as records, each room numbered on from its counter.
    func numbered(at now: Date) -> [MessageRecord] {
        var next = counters
        return waiting.map { i in
            let s = subs[i]
            let seq = (next[s.roomId] ?? 0) + 1
            next[s.roomId] = seq
            return MessageRecord(
                roomId: s.roomId, seq: seq, senderId: s.sender.id, senderName: s.sender.displayName, text: s.text, clientId: s.clientId,
                createdAt: now, extras: s.extras)
        }
    }

    /// The first waiting submissions are stored as `records` (numbered from them).
    mutating func accept(_ records: ArraySlice<MessageRecord>) {
        for (i, record) in zip(waiting, records) {
            results[i] = .success(SendPipeline.Outcome(message: record, isNew: true))
            counters[record.roomId] = record.seq
        }
        waiting.removeFirst(records.count)
    }

    /// Answers the waiting submissions that retry a stored message with it; the
    /// others keep waiting.
    mutating func answerRetries(with originals: [MessageRecord]) {
        let byKey = Dictionary(originals.map { (ClientKey(sender: $0.senderId, clientId: $0.clientId), $0) }, uniquingKeysWith: { a, _ in a })
        waiting.removeAll { i in
            guard let original = byKey[ClientKey(sender: subs[i].sender.id, clientId: subs[i].clientId)] else { return false }
            results[i] = .success(SendPipeline.Outcome(message: original, isNew: false, announce: true))
            return true
        }
    }

    /// Fails the waiting submissions that match with `error`. Their rooms' counters are
    /// dropped: after a failure what is stored there is unknown, so the next write
    /// reads it again.
    mutating func failWaiting(_ error: ParleyError, where match: (SendPipeline.Submission) -> Bool = { _ in true }) {
        waiting.removeAll { i in
            guard match(subs[i]) else { return false }
            results[i] = .failure(error)
            counters[subs[i].roomId] = nil
            return true
        }
    }
}

/// How many more tries a batch has: collisions, transient retries, stalled rounds.
private struct Budget {
    let limits: BatchWriter.Limits
    private(set) var collisions = 0
    private(set) var transientRetries = 0
    private var stalls = 0

    init(_ limits: BatchWriter.Limits) { self.limits = limits }

    var mayTryAgain: Bool { stalls < limits.stalledRounds }

    /// A round that settled something, or lost a race to another writer, is progress.
    mutating func round(settled: Bool, contended: Bool) { stalls = settled || contended ? 0 : stalls + 1 }

    mutating func collided() throws {
        collisions += 1
        guard collisions <= limits.collisions else { throw ParleyError(.unavailable, "the room is too busy; retry") }
    }

    mutating func mayRetryTransient() -> Bool {
        transientRetries += 1
        return transientRetries <= limits.transientRetries
    }
}
