import Foundation
import NIOCore
import ParleyCore
import Mongo
import Synchronization

/// One client connection, whatever its transport. Everything sent to the client goes
/// through a bounded queue drained by the transport's writer; when the client reads
/// too slowly and the queue fills, the connection is cut (the client recovers from
/// its cursors on reconnect) instead of letting memory grow.
///
/// While the offline queue is being flushed (`syncing`), live pushes are held back and
/// released after `sync:done`, so each room's messages arrive in seq order; held
/// messages the flush already sent are dropped.
final class Connection: Sendable {
    /// Why the server closes a connection.
    enum CloseReason: Sendable {
        case slowConsumer
        case shutdown
        case unauthorized
    }

    let id: UInt64
    let user: UserRecord
    var userId: ObjectId { user.id }
    /// The bytes to write, in order; finished when the connection closes.
    let outbound: OutboundQueue
    /// The acks of this connection's message sends, written one after the other in
    /// the order the client sent them: a client's outbox matches acks to sends in
    /// order, and the database writes complete in that order too. Made on the first
    /// send: most connections only listen.
    private let ackLine = Mutex<SocketInbox?>(nil)
    /// The transport's envelope for a push; nil: this client's dialect has no such event.
    private let encode: @Sendable (PushFrame) -> ByteBuffer?
    /// Whether this connection is sent its own messages too: the Socket.IO dialects
    /// broadcast a message to the whole room, its sender included.
    let receivesOwnMessages: Bool
    /// Whether this connection hears of every new public room (`room:created`): a
    /// dialect's whose system announced them (collagemedia's `rooms:new`).
    let hearsNewRooms: Bool
    private let close: @Sendable (CloseReason) -> Void
    private let state = Mutex<State>(State())

    private struct Held {
        let frame: PushFrame
        let roomId: ObjectId?
        let seq: Int?
    }

    private struct State {
        var syncing = true
        var held: [Held] = []
        var closed = false
        var registered = false
    }

    /// Runs `register` (joining the hub and presence) unless the connection already
    /// closed: a transport can end while the session is still opening, and a socket
    /// registered after its goodbye would stay in the hub for good. False if closed.
    func register(_ register: () -> Void) -> Bool {
        state.withLock { s in
            guard !s.closed else { return false }
            s.registered = true
            register()
            return true
        }
    }

    /// Takes back the registration for the goodbye; false if there is none (never
    /// registered, or already taken), so the goodbye runs once.
    func takeRegistration() -> Bool {
        state.withLock { s in
            defer { s.registered = false }
            return s.registered
        }
    }

    private static let nextID = Atomic<UInt64>(1)

    /// - Parameters:
    ///   - queueLimit: frames waiting to be written before the client counts as slow.
    ///   - encode: the transport's envelope for a push (nil: not sent).
    ///   - receivesOwnMessages: whether its own messages come back to it as pushes.
    ///   - hearsNewRooms: whether it gets `room:created` (`ConnectionHub.announceNewRoom`).
    ///   - close: cuts the connection at once (used for slow consumers and shutdown).
    init(
        user: UserRecord, queueLimit: Int, receivesOwnMessages: Bool = false, hearsNewRooms: Bool = false,
        encode: @escaping @Sendable (PushFrame) -> ByteBuffer?, close: @escaping @Sendable (CloseReason) -> Void
    ) {
        self.receivesOwnMessages = receivesOwnMessages
        self.hearsNewRooms = hearsNewRooms
        id = Connection.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        // A live connection never checks a password: an idle socket need not hold the
        // hash (a 60-byte string of its own).
        var kept = user
        kept.passwordHash = ""
        self.user = kept
        // One connection in eight times its writes for `parley_send_stage_seconds{stage="write"}`.
        outbound = OutboundQueue(limit: queueLimit, timed: id % 8 == 0)
        self.encode = encode
        self.close = close
    }

    /// Queues the writing of a send's ack behind the acks of the sends before it.
    func enqueueSendAck(_ job: @escaping SocketInbox.Job) {
        let line = ackLine.withLock { line -> SocketInbox in
            if let line { return line }
            let made = SocketInbox(pauseAt: .max, resume: {})
            line = made
            return made
        }
        line.enqueue(job)
    }

    /// Queues an answer for the client (an ack or an error), never held back. Cuts a
    /// slow consumer.
    func reply(_ bytes: ByteBuffer) { write(bytes) }

    private func write(_ bytes: ByteBuffer?) {
        guard let bytes else { return }
        if case .full = outbound.push([bytes]) { disconnect(.slowConsumer) }
    }

    /// Queues a push (not a message: see `deliver(messages:in:)`); held back while syncing.
    func deliver(_ frame: PushFrame) {
        let holding = state.withLock { s -> Bool in
            if s.syncing { s.held.append(Held(frame: frame, roomId: nil, seq: nil)) }
            return s.syncing
        }
        if !holding { write(encode(frame)) }
    }

    /// Queues a room's new messages at once (one stored batch): one lock and one
    /// wake-up of the writer for all of them. Held back while syncing, like `deliver`.
    func deliver(messages: [(frame: PushFrame, seq: Int)], in roomId: ObjectId) {
        let holding = state.withLock { s -> Bool in
            if s.syncing { s.held.append(contentsOf: messages.map { Held(frame: $0.frame, roomId: roomId, seq: $0.seq) }) }
            return s.syncing
        }
        guard !holding else { return }
        let encoded = messages.compactMap { encode($0.frame) }
        guard !encoded.isEmpty else { return }
        if case .full = outbound.push(encoded) { disconnect(.slowConsumer) }
    }

    /// Queues a push now, even while syncing: `ready`, the offline flush itself and
    /// `sync:done`.
    func sendDuringSync(_ frame: PushFrame) { write(encode(frame)) }

    /// Queues pushes now, even while syncing, at once: a batch of the offline flush.
    func sendDuringSync(_ frames: [PushFrame]) {
        let encoded = frames.compactMap(encode)
        guard !encoded.isEmpty else { return }
        if case .full = outbound.push(encoded) { disconnect(.slowConsumer) }
    }

    /// Ends syncing and releases held pushes, skipping messages at or below the seq
    /// the flush already sent for their room.
    func finishSync(flushedUpTo: [ObjectId: Int]) {
        let held = state.withLock { s -> [Held] in
            s.syncing = false
            defer { s.held = [] }
            return s.held
        }
        for h in held {
            if let room = h.roomId, let seq = h.seq, let flushed = flushedUpTo[room], seq <= flushed { continue }
            write(encode(h.frame))
        }
    }

    /// Closes the connection from the server's side for `reason`, once.
    func disconnect(_ reason: CloseReason) {
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        guard first else { return }
        outbound.finish()
        close(reason)
    }

    /// Ends the outbound stream after the transport closed by itself.
    func transportEnded() {
        state.withLock { $0.closed = true }
        outbound.finish()
    }
}
