import Foundation
import Logging
import Mongo
import ParleyCore
import Synchronization

/// One writer per room in a cluster: a send goes to the node that writes its room,
/// so the nodes never race for a room's next seq (a collision costs a refused
/// insert, a read and a retry, and with every room written from every node they
/// held three nodes to 0.47 of one; docs/BENCHMARKS.md). The writer of a room is the
/// live node with the highest rendezvous hash of (node, room): every node computes
/// the same one from the nodes it knows, and a node that joins or dies moves only
/// its share of the rooms. A send is validated where it arrived (membership, gate,
/// reply, mentions), then forwarded as a `send` signal; the writer stores it through
/// its own pipeline and answers with `sent`. Its delivery is the writer's `messages`
/// signal, which names the sending connection so that it alone skips the message.
/// No answer within `timeout`: while the writer is alive (heard within the node
/// timeout) the send waits on, up to `maxWait` (its signal may have been lost);
/// once the writer is gone, or past that, it is written here instead. Its
/// `clientId` makes that safe: a copy stored by the writer meanwhile is found and
/// answered, never stored twice. A busy writer answers late, and writing its sends
/// here as well raced it for the rooms' seqs and doubled the load that made it
/// late: at a paced 1,053/s three nodes fell to 78 stored/s, every late answer
/// adding a second write.
final class SendRouter: Sendable {
    private struct Pending {
        let submission: SendPipeline.Submission
        let answer: Deferred<SendPipeline.Outcome>
    }

    let node: String
    private let pipeline: SendPipeline
    private let outbox: SignalOutbox
    private let timeout: Duration
    /// The longest a send waits for a writer still alive before it is written here.
    private let maxWait: Duration
    private let logger: Logger
    private let pending = Mutex<[Int: Pending]>([:])
    private let nextRequest = Atomic<Int>(1)
    /// The other live nodes, from the cluster (set once it runs). The closure is kept
    /// in a struct: a bare function type in a `Mutex` is reabstracted on every inout
    /// access, and the write-back nests one more thunk each time, so every send walked
    /// a chain as long as the number of sends before it.
    private let peers = Mutex(Peers())

    private struct Peers {
        var alive: @Sendable () -> [String] = { [] }
    }

    init(
        node: String, pipeline: SendPipeline, outbox: SignalOutbox, timeout: Duration = .seconds(3), maxWait: Duration = .seconds(30),
        logger: Logger
    ) {
        self.node = node
        self.pipeline = pipeline
        self.outbox = outbox
        self.timeout = timeout
        self.maxWait = max(timeout, maxWait)
        self.logger = logger
    }

    /// Where the live nodes come from (the cluster's peers).
    func knowPeers(_ alive: @escaping @Sendable () -> [String]) { peers.withLock { $0.alive = alive } }

    /// The node that writes `room` among `nodes`.
    static func writer(of room: ObjectId, among nodes: [String]) -> String? {
        nodes.max { weight($0, room) < weight($1, room) || (weight($0, room) == weight($1, room) && $0 < $1) }
    }

    static func weight(_ node: String, _ room: ObjectId) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in node.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h = (h ^ 0x3a) &* 0x100_0000_01b3
        for b in room.hex.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        // A final mix, so nodes whose ids differ only at the end spread evenly.
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return h
    }

    /// A connection of `node` as the other nodes carry it: bit 62 set, 22 bits of the
    /// node's hash and the connection's own 40 (local ids never reach bit 62, so no
    /// node mistakes it for one of its own; it fits BSON's signed 64 bits).
    static func remoteOrigin(node: String, connection: UInt64) -> UInt64 {
        (1 << 62) | ((nodeHash(node) & 0x3F_FFFF) << 40) | (connection & 0xFF_FFFF_FFFF)
    }

    /// Whether an origin is a remote one (`remoteOrigin`).
    static func isRemote(_ origin: UInt64) -> Bool { origin >> 62 == 1 }

    /// The local connection a remote origin names, if it is one of `node`'s.
    static func localOrigin(_ origin: UInt64, node: String) -> UInt64? {
        guard isRemote(origin), (origin >> 40) & 0x3F_FFFF == nodeHash(node) & 0x3F_FFFF else { return nil }
        return origin & 0xFF_FFFF_FFFF
    }

    static func nodeHash(_ node: String) -> UInt64 { weight(node, ObjectId("000000000000000000000000")!) }

    /// Stores `submission` here when this node writes its room, otherwise forwards it.
    func submit(_ submission: SendPipeline.Submission) -> Deferred<SendPipeline.Outcome> {
        let others = peers.withLock { $0.alive }()
        guard let writer = SendRouter.writer(of: submission.roomId, among: others + [node]), writer != node else {
            return pipeline.enqueue(submission)
        }
        let request = nextRequest.wrappingAdd(1, ordering: .relaxed).oldValue
        let answer = Deferred<SendPipeline.Outcome>()
        pending.withLock { $0[request] = Pending(submission: submission, answer: answer) }
        let s = submission
        var signal = Signal(kind: .send, room: s.roomId)
        signal.to = writer
        signal.request = request
        signal.send = ForwardedSend(
            senderId: s.sender.id, senderName: s.sender.displayName, text: s.text, clientId: s.clientId, replyTo: s.extras.replyTo,
            threadId: s.extras.threadId, mentions: s.extras.mentions.isEmpty ? nil : s.extras.mentions,
            origin: s.origin.map { SendRouter.remoteOrigin(node: node, connection: $0) },
            attachments: s.extras.attachments.isEmpty ? nil : s.extras.attachments)
        outbox.publish(signal)
        Task { [timeout, maxWait] in
            var waited = Duration.zero
            while true {
                try? await Task.sleep(for: timeout)
                waited += timeout
                guard self.isPending(request) else { return }
                if !self.peers.withLock({ $0.alive })().contains(writer) {
                    self.writeHere(request, because: "\(writer) is gone")
                    return
                }
                if waited >= maxWait {
                    self.writeHere(request, because: "no answer from \(writer) within \(waited)")
                    return
                }
            }
        }
        return answer
    }

    private func isPending(_ request: Int) -> Bool { pending.withLock { $0[request] != nil } }

    /// A `send` or `sent` signal from another node.
    func received(_ signal: Signal, from sender: String) {
        guard signal.to == node, let request = signal.request else { return }
        switch signal.kind {
        case .send: store(signal, request: request, for: sender)
        case .sent: answered(request, signal)
        default: return
        }
    }

    private func store(_ signal: Signal, request: Int, for sender: String) {
        guard let f = signal.send, let room = signal.room else { return }
        var user = UserRecord(id: f.senderId, username: f.senderName, displayName: f.senderName, passwordHash: "-")
        user.displayName = f.senderName
        let submission = SendPipeline.Submission(
            roomId: room, sender: user, text: f.text, clientId: f.clientId, origin: f.origin,
            extras: MessageExtras(
                replyTo: f.replyTo, threadId: f.threadId, mentions: f.mentions ?? [], words: SearchWords.index(f.text), attachments: f.attachments ?? []))
        let stored = pipeline.enqueue(submission)
        Task {
            var answer = Signal(kind: .sent, room: room)
            answer.to = sender
            answer.request = request
            do {
                answer.message = try await stored.value().message
            } catch {
                answer.error = SignalError(ParleyError.from(error))
            }
            self.outbox.publish(answer)
        }
    }

    private func answered(_ request: Int, _ signal: Signal) {
        guard let p = pending.withLock({ $0.removeValue(forKey: request) }) else { return }
        if let message = signal.message {
            p.answer.complete(.success(.stored(elsewhere: message)))
        } else {
            p.answer.complete(.failure(signal.error?.error ?? ParleyError(.internal, "internal error")))
        }
    }

    /// The writer did not answer: store it here (idempotent by `clientId`).
    private func writeHere(_ request: Int, because reason: String) {
        guard let p = pending.withLock({ $0.removeValue(forKey: request) }) else { return }
        logger.warning("cluster: a forwarded send is written here: \(reason)")
        let local = pipeline.enqueue(p.submission)
        Task {
            do {
                p.answer.complete(.success(try await local.value()))
            } catch {
                p.answer.complete(.failure(error))
            }
        }
    }
}
