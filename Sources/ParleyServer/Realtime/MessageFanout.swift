import Logging
import Mongo
import ParleyCore
import Synchronization

/// Stored messages to this node's live connections, each room in seq order and each
/// message once. This node's own batches come from the send pipeline (it is the
/// pipeline's `StoredMessageSink`), and in a cluster go to the other nodes in this
/// node's next signal batch; the other nodes' come from theirs (`remote`). Both go
/// through one `RoomSequencer` per node, which holds a message until the seqs before
/// it went out and reads a hole that does not fill from `messages` (`runFills`).
/// Outside a cluster, batches go straight out.
final class MessageFanout: StoredMessageSink {
    private let notifier: RoomNotifier
    private let hub: ConnectionHub
    private let metrics: ParleyMetrics
    private let messages: any MessageRepository
    private let gapFill: Duration
    private let outbox: SignalOutbox?
    /// This node's id, to recognise its own connections in a forwarded send's origin.
    private let node: String
    private let logger: Logger
    /// The sequencer behind its lock. Deliveries happen under the lock, so two sources
    /// never interleave a room's messages out of order.
    private final class Ordering: Sendable {
        let state = Mutex(RoomSequencer<ObjectId, StoredMessage>())
        func withLock<R>(_ body: (inout RoomSequencer<ObjectId, StoredMessage>) -> R) -> R { state.withLock { body(&$0) } }
    }

    /// Nil outside a cluster.
    private let sequencer: Ordering?

    init(
        notifier: RoomNotifier, hub: ConnectionHub, metrics: ParleyMetrics, messages: any MessageRepository, outbox: SignalOutbox?, gapFill: Duration,
        node: String = "", logger: Logger
    ) {
        self.node = node
        self.notifier = notifier
        self.hub = hub
        self.metrics = metrics
        self.messages = messages
        self.gapFill = gapFill
        self.outbox = outbox
        self.logger = logger
        sequencer = outbox == nil ? nil : Ordering()
    }

    /// This node stored `batch` (seq order).
    func stored(_ batch: [StoredMessage], in roomId: ObjectId) {
        metrics.messagesStored.increment(by: Int64(batch.count))
        guard let sequencer else { return notifier.deliver(batch, in: roomId) }
        if let outbox, outbox.hasListeners {
            // The other nodes deliver them; the search words are no part of that.
            // A forwarded send's origin goes with it: its node skips the sending connection.
            let origins = batch.map { SendRouter.isRemote($0.origin ?? 0) ? $0.origin ?? 0 : 0 }
            outbox.publish(.messages(batch.map { r in
                var record = r.record
                record.words = nil
                return record
            }, origins: origins.contains { $0 != 0 } ? origins : nil))
        }
        sequencer.withLock { seq in
            notifier.deliver(seq.offer(batch.map { ($0.record.seq, $0) }, room: roomId, now: ContinuousClock.now), in: roomId)
        }
    }

    /// Another node stored `records`, one room's in seq order (they came in that
    /// node's signal batch).
    func remote(_ records: [MessageRecord], origins: [UInt64]? = nil) {
        guard let sequencer, let roomId = records.first?.roomId else { return }
        guard hub.hasSubscribers(roomId) else {
            // No one here listens: nothing to order. A later listener starts afresh.
            sequencer.withLock { $0.forget(roomId) }
            return
        }
        metrics.clusterMessagesReceived.increment(by: Int64(records.count))
        let items = records.enumerated().map { i, r in
            let origin = origins.flatMap { i < $0.count ? SendRouter.localOrigin($0[i], node: node) : nil }
            return (r.seq, StoredMessage(record: r, origin: origin))
        }
        sequencer.withLock { seq in
            notifier.deliver(seq.offer(items, room: roomId, now: ContinuousClock.now), in: roomId)
        }
    }

    /// Reads the holes that waited `gapFill`, until cancelled.
    func runFills() async {
        guard let sequencer else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: gapFill / 2)
            let due = sequencer.withLock { $0.dueFills(now: ContinuousClock.now, after: gapFill) }
            for (roomId, fill) in due { await self.fill(roomId, fill, sequencer) }
        }
    }

    /// After the stream may have lost events at its tail (a repair): every room this
    /// node orders is read past what went out, and what is there goes out.
    func catchUp() async {
        guard let sequencer else { return }
        let heads = sequencer.withLock { seq in
            Dictionary(uniqueKeysWithValues: hub.subscribedRooms.compactMap { room in seq.next(of: room).map { (room, $0 - 1) } })
        }
        guard !heads.isEmpty else { return }
        do {
            for (roomId, highest) in try await messages.highestSeqs(above: heads) {
                guard let from = heads[roomId].map({ $0 + 1 }) else { continue }
                await fill(roomId, RoomSequencer<ObjectId, StoredMessage>.Fill(from: from, to: highest), sequencer)
            }
        } catch {
            logger.warning("cluster catch-up read failed: \(error)")
        }
    }

    /// Forgets what went out (the node reconnects its clients, who flush).
    func reset() { sequencer?.withLock { $0.reset() } }

    private func fill(_ roomId: ObjectId, _ fill: RoomSequencer<ObjectId, StoredMessage>.Fill, _ sequencer: Ordering) async {
        var found: [MessageRecord] = []
        do {
            // A hole is usually a few seqs; a long one is read in pages.
            var after = fill.from - 1
            while after < fill.to {
                let page = try await messages.page(roomId: roomId, before: fill.to + 1, after: after, limit: 500)
                found += page.messages
                guard let last = page.messages.last, page.hasMore else { break }
                after = last.seq
            }
        } catch {
            logger.warning("reading seqs \(fill.from)...\(fill.to) of room \(roomId.hex) failed: \(error)")
        }
        metrics.clusterGapFills.increment()
        let items = found.map { ($0.seq, StoredMessage(record: $0, origin: nil)) }
        sequencer.withLock { seq in notifier.deliver(seq.filled(items, room: roomId, now: ContinuousClock.now), in: roomId) }
    }
}
