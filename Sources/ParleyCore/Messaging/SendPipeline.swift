import Foundation
import Logging
import Mongo

/// The hot path of Parley: persists messages in batches, then hands them to fan-out
/// and answers their senders.
///
/// Its parts, each with one job:
/// - `SendQueue`: submissions in arrival order, one write in flight per node; while it
///   runs the next batch gathers, for every room.
/// - `BatchPlan` (here): repeats of a `clientId` within the batch, and retries the
///   cache of recent sends (`RecentSends`) answers without the database.
/// - `BatchWriter`: one ordered insert for the rest, numbered per room, and what to
///   do with each typed refusal of the store (`StoreRefusal`).
/// - `RoomHeads`: the rooms' counters and the coalesced `lastSeq` raise.
/// - the `StoredMessageSink` given at `init` (fan-out), told of each room's stored
///   messages in seq order before any sender gets its ack: nothing is acknowledged
///   before the database has it, and nothing stored goes unannounced.
/// - `AnnounceLane`: fan-out and acks of one batch, in batch order, while the next
///   batch is inserted.
public final class SendPipeline: Sendable {
    /// A message to store, as the sender wrote it, validated.
    public struct Submission: Sendable {
        public let roomId: ObjectId
        public let sender: UserRecord
        public let text: String
        public let clientId: String
        /// Where it came from, so fan-out can skip the sending connection.
        public let origin: UInt64?
        public let extras: MessageExtras

        public init(roomId: ObjectId, sender: UserRecord, text: String, clientId: String, origin: UInt64?, extras: MessageExtras? = nil) {
            self.roomId = roomId
            self.sender = sender
            self.text = text
            self.clientId = clientId
            self.origin = origin
            self.extras = extras ?? MessageExtras(words: SearchWords.index(text))
        }

        var key: ClientKey { ClientKey(sender: sender.id, clientId: clientId) }
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
        /// The message's wire bytes, made once for its push and its ack.
        public let encoded: WireBytes

        /// A send another node stored (a forwarded send's answer): announced there.
        public static func stored(elsewhere message: MessageRecord) -> Outcome { Outcome(message: message, isNew: true, announce: false) }

        init(message: MessageRecord, isNew: Bool, announce: Bool? = nil, encoded: WireBytes = WireBytes()) {
            self.message = message
            self.isNew = isNew
            self.announce = announce ?? isNew
            self.encoded = encoded
        }
    }

    private struct Pending: Sendable {
        let submission: Submission
        let outcome: Deferred<Outcome>
        let queuedAt: ContinuousClock.Instant
    }

    /// The rooms' heads as this node knows them (see `RoomHeads`).
    public let heads: RoomHeads
    private let queue: SendQueue<Pending>
    private let lane: AnnounceLane

    /// - Parameters:
    ///   - sink: where stored messages go (the server's fan-out).
    ///   - lastSeqInterval: how long `lastSeq` may trail the stored messages.
    ///   - stages: told where each batch's time went (the server's metrics).
    public init(
        store: any MessageStore, sink: any StoredMessageSink, maxBatch: Int = 1_000, lastSeqInterval: Duration = .milliseconds(250),
        stages: (any SendStageObserver)? = nil, logger: Logger = Logger(label: "parley.send")
    ) {
        let heads = RoomHeads(store: store, interval: lastSeqInterval, logger: logger)
        let writer = BatchWriter(store: store, heads: heads, logger: logger)
        let lane = AnnounceLane()
        let batches = Batches(writer: writer, heads: heads, sink: sink, recent: RecentSends(), stages: stages, lane: lane)
        self.heads = heads
        self.lane = lane
        queue = SendQueue(maxBatch: maxBatch) { await batches.write($0) }
    }

    /// Over the repositories of one database.
    public convenience init(
        repos: ParleyRepositories, sink: any StoredMessageSink, maxBatch: Int = 1_000, lastSeqInterval: Duration = .milliseconds(250),
        stages: (any SendStageObserver)? = nil, logger: Logger = Logger(label: "parley.send")
    ) {
        self.init(
            store: RepositoryMessageStore(repos: repos), sink: sink, maxBatch: maxBatch, lastSeqInterval: lastSeqInterval, stages: stages,
            logger: logger)
    }

    /// True when no message is queued, being written or waiting to be announced, and
    /// every room's `lastSeq` is raised to what this node stored.
    public var isIdle: Bool { queue.isIdle && lane.isIdle && heads.isIdle }

    /// The room's head without a read (`RoomHeads.head(of:)`).
    public func head(of room: RoomRecord) -> Int { heads.head(of: room) }

    /// The contract's limits on a message, checked before it is queued.
    /// A message with attachments may have no text.
    public static func validate(text: String, clientId: String, maxChars: Int, withAttachments: Bool = false) throws {
        if withAttachments, text.isEmpty {
        } else if !(1...maxChars).contains(text.unicodeScalars.count) || isBlank(text) {
            throw ParleyError(.badRequest, "text must be 1 to \(maxChars) characters and not only whitespace")
        }
        guard (1...64).contains(clientId.unicodeScalars.count) else { throw ParleyError(.badRequest, "clientId must be 1 to 64 characters") }
    }

    /// True when `text` is only whitespace and newlines. A text that has an ASCII
    /// character other than those is answered from its bytes (nearly every message,
    /// at its first character); only the rest pays for Foundation's trimming, which
    /// cost 8 % of the server's CPU per stored message when every text did.
    static func isBlank(_ text: String) -> Bool {
        let visibleASCII = text.utf8.contains { b in b < 0x80 && b != 0x20 && !(0x09...0x0D).contains(b) }
        return !visibleASCII && text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }

    /// Queues a message and returns once it is stored (or was stored before).
    public func send(_ submission: Submission) async throws -> Outcome { try await enqueue(submission).value() }

    /// Queues a message now, in call order, and returns its outcome to wait for: a
    /// connection enqueues its sends as it reads them, so they keep their order.
    public func enqueue(_ submission: Submission) -> Deferred<Outcome> {
        let outcome = Deferred<Outcome>()
        queue.append(Pending(submission: submission, outcome: outcome, queuedAt: .now))
        return outcome
    }

    /// What happens to each batch the queue hands over.
    private struct Batches: Sendable {
        let writer: BatchWriter
        let heads: RoomHeads
        let sink: any StoredMessageSink
        let recent: RecentSends
        let stages: (any SendStageObserver)?
        let lane: AnnounceLane

        /// Writes one batch, then hands its announcement (fan-out, then the senders'
        /// answers) to `lane` and returns once the batch before it is announced: the
        /// queue's next insert runs while this one goes out.
        func write(_ batch: [Pending]) async {
            let started = ContinuousClock.now
            let subs = batch.map(\.submission)
            var plan = BatchPlan(subs, recent: recent)
            let stored = await writer.write(plan.fresh.map { subs[$0] })
            plan.settle(fresh: stored)
            for case .success(let o) in stored { recent.remember(o.message) }
            let written = ContinuousClock.now
            let announcements = plan.announcements
            heads.stored(plan.marks, latest: announcements.compactMap { $0.value.last?.record }, insertTook: written - started)
            let (sink, stages, answers) = (sink, stages, plan)
            await lane.follow {
                let announcing = ContinuousClock.now
                // In seq order already: a room's messages are numbered in queue order.
                for (roomId, messages) in announcements { sink.stored(messages, in: roomId) }
                let announced = ContinuousClock.now
                // Recorded before the senders are answered, so a sender that reads the
                // metrics after its ack finds its batch there. The queue is in arrival
                // order: the first waited longest.
                stages?.batchWritten(
                    SendStages(
                        queueWait: started - (batch.first?.queuedAt ?? started), insert: written - started,
                        fanout: announced - announcing, messages: batch.count))
                for (i, p) in batch.enumerated() { p.outcome.complete(answers.outcome(of: i).mapError { $0 as any Error }) }
            }
        }
    }
}

/// One batch's answers: repeats of a `clientId` within it share the first one's, the
/// recent cache answers retries it knows, and the rest (`fresh`) go to the writer.
struct BatchPlan {
    private let subs: [SendPipeline.Submission]
    /// Repeats of a clientId within the batch: position → the first one's.
    private var sameAs: [Int: Int] = [:]
    private var outcomes: [Int: Result<SendPipeline.Outcome, ParleyError>] = [:]
    /// Positions that go to the database, in queue order.
    private(set) var fresh: [Int] = []

    init(_ subs: [SendPipeline.Submission], recent: RecentSends) {
        self.subs = subs
        var first: [ClientKey: Int] = [:]
        for (i, s) in subs.enumerated() {
            if let f = first[s.key] {
                sameAs[i] = f
            } else if let old = recent.lookup(sender: s.sender.id, clientId: s.clientId) {
                first[s.key] = i
                outcomes[i] = .success(SendPipeline.Outcome(message: old, isNew: false))
            } else {
                first[s.key] = i
                fresh.append(i)
            }
        }
    }

    /// Takes the writer's outcomes of `fresh`, in the same order.
    mutating func settle(fresh stored: [Result<SendPipeline.Outcome, ParleyError>]) {
        for (i, outcome) in zip(fresh, stored) { outcomes[i] = outcome }
    }

    /// Per room, the highest seq the batch saw stored (for `lastSeq`).
    var marks: [ObjectId: Int] {
        var marks: [ObjectId: Int] = [:]
        for i in fresh {
            guard case .success(let o) = outcomes[i] else { continue }
            marks[o.message.roomId] = max(marks[o.message.roomId] ?? 0, o.message.seq)
        }
        return marks
    }

    /// Per room, the messages fan-out gets, in seq order, with their origins.
    var announcements: [ObjectId: [StoredMessage]] {
        var byRoom: [ObjectId: [StoredMessage]] = [:]
        for i in fresh {
            guard case .success(let o) = outcomes[i], o.announce else { continue }
            byRoom[o.message.roomId, default: []].append(StoredMessage(record: o.message, origin: subs[i].origin, encoded: o.encoded))
        }
        return byRoom
    }

    /// The answer to the submission at `position`; a repeat is never new.
    func outcome(of position: Int) -> Result<SendPipeline.Outcome, ParleyError> {
        guard let first = sameAs[position] else { return outcomes[position] ?? .failure(ParleyError(.internal, "message left unanswered")) }
        return outcome(of: first).map { SendPipeline.Outcome(message: $0.message, isNew: false, encoded: $0.encoded) }
    }
}
