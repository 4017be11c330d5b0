import Foundation
import Logging
import Mongo
import ParleyCore
import ServiceLifecycle
import Synchronization

/// Cluster mode: the nodes sharing one database see what each other stores and
/// signals, through MongoDB alone.
///
/// - One change stream per node, on `signals`, filtered on the server to the other
///   nodes' batches. Each node's `SignalOutbox` writes everything it has to tell in
///   one document per write: pushes, subscription changes, presence, and the
///   messages it stored (a copy; `messages` stays the record).
/// - A node alone opens no stream: on the embedded database a stream decodes every
///   entry of the oplog, each stored message included: 6 % of the database's samples
///   at the maximum throughput (docs/BENCHMARKS.md). It looks for
///   other live nodes in `nodes` each heartbeat and opens its stream when one appears.
///   Its `nodes` document says whether it is `watching`, and a node that starts holds
///   its signals (`SignalOutbox.release`) until every live node is, so nobody misses
///   what it says; the first open repairs what came before (`repair`).
/// - Messages go to `MessageFanout`, which orders them with this node's own and reads
///   any hole from `messages`: the stream is a fast path, never trusted to be complete.
/// - Batches are numbered per node; a missing number is a lost batch, and the node
///   repairs itself from the collections (`repair`).
/// - Heartbeats: every node writes its `nodes` document (with the users online on it)
///   each `HEARTBEAT_MS`, and an empty batch when it had nothing to signal. A node
///   not heard for `NODE_TIMEOUT_MS` is dead: every node shows its users offline to
///   its own connections (unless they are online elsewhere).
/// - A node the others took for dead (frozen, or cut off, past the timeout: they
///   deleted its `nodes` document) closes its sockets when its next heartbeat finds
///   the document gone, so the clients reconnect and flush, and repairs.
final class Cluster: Service, Sendable {
    struct Settings: Sendable {
        let node: String
        let heartbeat: Duration
        let nodeTimeout: Duration
    }

    private struct NodeDocument: Codable, Sendable {
        let id: String
        let beatAt: Date
        let startedAt: Date
        let users: [ObjectId]?
        /// False while the node is alone and has no stream open; absent from a node of
        /// a version that always watched.
        let watching: Bool?
        enum CodingKeys: String, CodingKey { case id = "_id", beatAt, startedAt, users, watching }

        var isWatching: Bool { watching ?? true }
    }

    let settings: Settings
    let outbox: SignalOutbox
    private let database: MongoDatabase
    private let peers = Peers()
    private let presence: PresenceRegistry
    private let hub: ConnectionHub
    private let fanout: MessageFanout
    private let heads: RoomHeads
    private let effects: MembershipEffects
    private let notifier: RoomNotifier
    private let repos: ParleyRepositories
    private let metrics: ParleyMetrics
    private let logger: Logger
    private let startedAt = Date()
    private let streamOpen = Atomic<Bool>(false)
    /// True from a look at `nodes` that found no other live node until the stream
    /// first opens: the node is ready without a stream, and stays so while it opens
    /// one for a node that appeared. Once open, the stream stays (reopened after a
    /// failure) for good.
    private let alone = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let stream = Mutex<ChangeStream<BSONDocument>?>(nil)
    private let repairing = Mutex<Task<Void, Never>?>(nil)
    /// The wait between two looks for other nodes, which `stop` cuts short.
    private let lookout = Mutex<Task<Void, Never>?>(nil)

    init(
        settings: Settings, outbox: SignalOutbox, database: MongoDatabase, presence: PresenceRegistry, hub: ConnectionHub, fanout: MessageFanout,
        heads: RoomHeads, effects: MembershipEffects, notifier: RoomNotifier, repos: ParleyRepositories, metrics: ParleyMetrics,
        router: SendRouter? = nil, logger: Logger
    ) {
        self.router = router
        self.settings = settings
        self.outbox = outbox
        self.database = database
        self.presence = presence
        self.hub = hub
        self.fanout = fanout
        self.heads = heads
        self.effects = effects
        self.notifier = notifier
        self.repos = repos
        self.metrics = metrics
        self.logger = logger
    }

    /// The other nodes alive, as this one hears them.
    var aliveNodes: [String] { peers.alive }

    /// Where forwarded sends go (one writer per room); set at start.
    let router: SendRouter?

    /// True while the change stream is open: `/healthz` is 503 otherwise.
    var isStreamOpen: Bool { streamOpen.load(ordering: .relaxed) }

    private let started = ContinuousClock.now

    /// Ready for clients: the stream is open (or the node found itself alone), every
    /// other node watches (the outbox released), and two heartbeats have passed since
    /// the start, so every other node has heard this one and copies its messages into
    /// its batches (a node alone does not). Until then `/healthz` is 503 and a
    /// balancer sends no one here.
    var isReady: Bool {
        let watched = isStreamOpen || alone.load(ordering: .relaxed)
        return watched && !outbox.isHeld && ContinuousClock.now - started >= settings.heartbeat * 2
    }

    /// The nodes alive, this one included.
    var nodeCount: Int { peers.alive.count + 1 }

    // MARK: Presence

    /// A user's first connection on this node opened.
    func cameOnlineHere(_ userId: ObjectId) { outbox.publish(.presence(userId, online: true)) }

    /// A user's last connection on this node closed.
    func wentOfflineHere(_ userId: ObjectId) { outbox.publish(.presence(userId, online: false)) }

    // MARK: Running

    /// Runs until a graceful shutdown, or until the service group is cancelled: when
    /// another service fails (the HTTP port taken, say), the group cancels the rest
    /// without a graceful shutdown, and the outbox, which parks rather than polls
    /// for cancellation, would otherwise write heartbeats to a closed client for ever
    /// and keep the process from exiting.
    func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.outbox.run() }
                    group.addTask { await self.watch() }
                    group.addTask { await self.heartbeats() }
                    group.addTask { await self.fanout.runFills() }
                    // The loops end at shutdown; the fills loop is cancelled with the rest.
                    _ = await group.next()
                    _ = await group.next()
                    _ = await group.next()
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
    }

    /// Stops the loops; the outbox writes what is pending first.
    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        outbox.stop()
        let current = stream.withLock { $0 }
        if let current { Task { await current.close() } }
        lookout.withLock { $0?.cancel() }
    }

    /// Stopped, or cancelled with the service group.
    private var isStopped: Bool { stopped.load(ordering: .relaxed) || Task.isCancelled }

    /// The change stream: opened, read, and reopened after a failure (resuming after
    /// the last event read when the server still can; a repair either way). On one
    /// collection: a database-wide stream, even filtered to it, cost SecantusDB about
    /// twice as much per insert anywhere in the database (docs/BENCHMARKS.md).
    private func watch() async {
        guard await awaitOthers() else { return }
        let pipeline: [BSONDocument] = [[
            "$match": ["operationType": "insert", "fullDocument.node": ["$ne": .string(settings.node)]]
        ]]
        let signals = database.collection("signals")
        var token: BSONDocument?
        var failures = 0
        while !isStopped {
            let opened: ChangeStream<BSONDocument>
            do {
                opened = try await signals.watch(pipeline, options: ChangeStreamOptions(resumeAfter: token, maxAwaitTimeMS: 250))
            } catch {
                failures += 1
                if token != nil, failures > 2 {
                    // The server no longer has where we stopped: start from now, repair.
                    logger.warning("cluster: cannot resume the change stream (\(error)); starting afresh")
                    token = nil
                } else {
                    logger.warning("cluster: change stream not open: \(error)")
                }
                try? await Task.sleep(for: .milliseconds(min(2_000, 100 * failures)))
                continue
            }
            stream.withLock { $0 = opened }
            if isStopped {
                await opened.close()
                return
            }
            streamOpen.store(true, ordering: .relaxed)
            alone.store(false, ordering: .relaxed)
            metrics.clusterStreamOpen.set(Int64(1))
            // Say so at once: a node that just started holds its signals until then.
            _ = await beat(users: nil)
            // The first open loads the others' state; a reopen may have missed events.
            scheduleRepair(reason: failures == 0 && token == nil ? nil : "change stream reopened")
            failures = 0
            do {
                while let event = try await opened.next() {
                    token = event.id
                    handle(event)
                }
            } catch {
                logger.warning("cluster: change stream failed: \(error)")
            }
            streamOpen.store(false, ordering: .relaxed)
            metrics.clusterStreamOpen.set(Int64(0))
            stream.withLock { $0 = nil }
            await opened.close()
            failures += 1
        }
    }

    /// Waits, one look at `nodes` per heartbeat, until another live node is there;
    /// false when the node stops first. A failed look counts as company: the stream
    /// is then opened, which is never wrong, only dearer.
    private func awaitOthers() async -> Bool {
        while !isStopped {
            do {
                if try await otherNodes().isEmpty {
                    alone.store(true, ordering: .relaxed)
                    let wait = Task { [heartbeat = settings.heartbeat] in _ = try? await Task.sleep(for: heartbeat) }
                    lookout.withLock { $0 = wait }
                    if isStopped { wait.cancel() }
                    await wait.value
                    continue
                }
            } catch {
                logger.warning("cluster: cannot read the nodes alive (\(error)); opening the change stream")
            }
            return true
        }
        return false
    }

    /// The other nodes heard within the timeout, from `nodes`.
    private func otherNodes() async throws -> [NodeDocument] {
        let timeout = settings.nodeTimeout.components
        let cutoff = Date().addingTimeInterval(-(Double(timeout.seconds) + Double(timeout.attoseconds) / 1e18))
        return try await database.collection("nodes", withType: NodeDocument.self)
            .find(["beatAt": ["$gt": .date(cutoff)], "_id": ["$ne": .string(settings.node)]]).toArray()
    }

    /// Releases the outbox once every other live node watches the stream (at once
    /// when there is none). Until then it writes only empty heartbeat batches.
    private func admitWhenWatched() async {
        guard outbox.isHeld else { return }
        do {
            let waiting = try await otherNodes().filter { !$0.isWatching }.map(\.id)
            if waiting.isEmpty {
                outbox.release()
            } else {
                logger.info("cluster: holding this node's signals until \(waiting.sorted().joined(separator: ", ")) watch(es)")
            }
        } catch {
            logger.warning("cluster: cannot read the nodes alive (\(error)); signals held")
        }
    }

    private func handle(_ event: ChangeEvent<BSONDocument>) {
        guard let doc = event.fullDocument else { return }
        do {
            apply(try BSONDecoder().decode(SignalBatch.self, from: doc))
        } catch {
            logger.error("cluster: cannot read a change event: \(error)")
        }
    }

    private func apply(_ batch: SignalBatch) {
        metrics.clusterSignalBatches.increment()
        if !batch.isOneShot {
            outbox.hasListeners = true
            switch peers.heard(batch.node, batch: batch.n, at: .now) {
            case .repeated: return
            case .gap: scheduleRepair(reason: "batch(es) before \(batch.n) of node \(batch.node) lost")
            case .inOrder: break
            }
        }
        for signal in batch.signals {
            switch signal.kind {
            case .push:
                guard let room = signal.room, let frame = signal.frame else { continue }
                hub.broadcast(frame, to: room, exceptUser: signal.user)
            case .rooms:
                guard let rooms = signal.rooms, let frame = signal.frame else { continue }
                hub.broadcast(frame, toRooms: rooms, exceptUser: signal.user)
            case .everyone:
                guard let frame = signal.frame else { continue }
                hub.announceNewRoom(frame)
            case .subscribe, .unsubscribe, .user, .drop, .gate:
                effects.apply(signal)
            case .send, .sent:
                router?.received(signal, from: batch.node)
            case .presence:
                guard let user = signal.user, let online = signal.online else { continue }
                if online { presence.remoteOnline(user, node: batch.node) } else { presence.remoteOffline(user, node: batch.node) }
            case .messages:
                guard let records = signal.messages, let last = records.last else { continue }
                heads.seen(last.roomId, seq: last.seq)
                fanout.remote(records, origins: signal.origins)
            }
        }
    }

    // MARK: Heartbeats and dead nodes

    private func heartbeats() async {
        var lastUsers: Set<ObjectId>?
        var first = true
        while !isStopped {
            let users = Set(presence.localUserIds)
            let known = await beat(users: users == lastUsers ? nil : users)
            await admitWhenWatched()
            if known == false && !first {
                // Our `nodes` document is gone: the others took this node for dead
                // (it was frozen, or cut off from the database, for longer than the
                // timeout) and dropped its users. What its stream skipped meanwhile
                // is unknown: the clients reconnect and flush.
                logger.warning("cluster: the other nodes took this node for dead; reconnecting its clients")
                reconnectClients()
                scheduleRepair(reason: "this node was taken for dead")
                lastUsers = nil
            } else if known != nil {
                lastUsers = users
            }
            first = false
            let asleep = ContinuousClock.now
            try? await Task.sleep(for: settings.heartbeat)
            // Woken far too late (frozen, starved): the others' silence is ours, not
            // theirs. Nobody is buried for it; they get a full timeout from now.
            if ContinuousClock.now - asleep > settings.heartbeat + settings.nodeTimeout / 2 { peers.refresh(at: .now) }
            for node in peers.expire(now: .now, timeout: settings.nodeTimeout) { await buryNode(node) }
            outbox.hasListeners = !peers.alive.isEmpty
            metrics.clusterNodes.set(Int64(nodeCount))
        }
        _ = try? await database.collection("nodes").deleteOne(["_id": .string(settings.node)])
    }

    /// Writes this node's `nodes` document: its heartbeat, and its users when they
    /// changed. Returns whether the document was there (nil: not written).
    private func beat(users: Set<ObjectId>?) async -> Bool? {
        var set: BSONDocument = ["beatAt": .date(Date()), "startedAt": .date(startedAt), "watching": .bool(isStreamOpen)]
        if let users { set["users"] = .array(users.map { .objectId($0) }) }
        do {
            let result = try await database.collection("nodes").updateOne(["_id": .string(settings.node)], ["$set": .document(set)], upsert: true)
            return result.matchedCount > 0
        } catch {
            logger.warning("cluster: heartbeat not written: \(error)")
            return nil
        }
    }

    /// A node died: its users who are not online elsewhere go offline, for this node's
    /// connections (every node does this for its own), and in the database.
    private func buryNode(_ node: String) async {
        logger.warning("cluster: node \(node) is silent; taking it for dead")
        let offline = presence.nodeGone(node)
        _ = try? await database.collection("nodes").deleteOne(["_id": .string(node)])
        guard !offline.isEmpty else { return }
        let now = Date().bsonPrecision
        do {
            let memberships = try await repos.memberships.forUsers(offline)
            let roomsByUser = Dictionary(grouping: memberships, by: \.userId).mapValues { $0.map(\.roomId) }
            for user in offline {
                notifier.presenceLost(userId: user, rooms: roomsByUser[user] ?? [], lastSeenAt: now)
                try await repos.users.setPresence(id: user, status: nil, lastSeenAt: now)
            }
        } catch {
            logger.warning("cluster: offline state of node \(node)'s users not fully written: \(error)")
        }
    }

    private func reconnectClients() {
        fanout.reset()
        for connection in hub.all { connection.disconnect(.shutdown) }
    }

    // MARK: Repair

    /// Rebuilds this node's view from the collections, once at a time: the live nodes
    /// and their users, this node's users' subscriptions, and the messages of its rooms
    /// past what went out. `reason` nil is the first load at start.
    private func scheduleRepair(reason: String?) {
        if let reason {
            logger.warning("cluster: repairing (\(reason))")
            metrics.clusterRepairs.increment()
        }
        repairing.withLock { task in
            guard task == nil else { return }
            task = Task {
                await self.repair()
                self.repairing.withLock { $0 = nil }
            }
        }
    }

    private func repair() async {
        do {
            let nodes = try await otherNodes()
            let now = ContinuousClock.now
            for n in nodes { peers.known(n.id, at: now) }
            if !nodes.isEmpty { outbox.hasListeners = true }
            presence.replaceRemote(nodes.flatMap { n in (n.users ?? []).map { (user: $0, node: n.id) } })
            let local = presence.localUserIds
            let memberships = try await repos.memberships.forUsers(local)
            let rooms = Dictionary(grouping: memberships, by: \.userId).mapValues { Set($0.map(\.roomId)) }
            for user in local { effects.resync(user, rooms: rooms[user] ?? []) }
            await fanout.catchUp()
        } catch {
            guard !isStopped, (error as? MongoError)?.isClientShutDown != true else { return }
            logger.warning("cluster: repair failed, retrying: \(error)")
            try? await Task.sleep(for: .seconds(1))
            await repair()
        }
    }
}
