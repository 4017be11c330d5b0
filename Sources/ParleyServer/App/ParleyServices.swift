import Logging
import Mongo
import ParleyCore

/// Everything the routes need, built once per application from the configuration.
///
/// A class, so that every holder (each socket's handler, session and event handlers,
/// each controller) keeps one reference: as a struct, each socket carried several
/// copies of all these fields (about 4 KiB each, and a retain per field per copy).
public final class ParleyServices: Sendable {
    public let config: ParleyConfiguration
    public let database: MongoDatabase
    public let repos: ParleyRepositories
    public let presence: PresenceRegistry
    public let accounts: AccountService
    public let auth: AuthService
    public let rooms: RoomService
    public let history: HistoryService
    public let sync: SyncService
    public let metrics: ParleyMetrics
    public let pipeline: SendPipeline
    public let cursors: CursorService
    public let members: MemberService
    public let moderation: ModerationService
    public let invites: InviteService
    public let roomSettings: RoomSettingsService
    public let audit: AuditLog
    public let changes: MessageChanges
    public let search: SearchService
    /// Every word messages are indexed by, for the search's prefix (`Vocabulary`).
    public let vocabulary: Vocabulary
    /// Files in conversations (GridFS).
    public let uploads: UploadService
    /// For what the services log outside a request.
    let logger: Logger
    /// Archived rooms and muted members, checked on every send (from memory).
    let gate: SendGate
    let hub: ConnectionHub
    let notifier: RoomNotifier
    /// Stored messages to live connections, in seq order (the pipeline's sink).
    let fanout: MessageFanout
    /// Cluster mode (`CLUSTER`); nil for a single node.
    let cluster: Cluster?
    /// One writer per room (cluster mode): where sends go.
    let router: SendRouter?
    /// The only way room subscriptions change (REST and sockets alike).
    let membershipEffects: MembershipEffects
    /// Login and register attempts per client IP, and per username.
    let authByIP: RateLimiter
    let authByUsername: RateLimiter
    /// Messages per user (the contract's 20 a second, bursts of 40).
    let messageLimiter: RateLimiter
    /// Guests' own message rate (`GUEST_RATE_LIMIT_MESSAGES_PER_SECOND`).
    let guestMessageLimiter: RateLimiter
    /// The clientIds of the dialects' sends, whose clients give none.
    let emitIdentity = EmitIdentity()
    /// Typing and room activity per user: ephemeral, but not unbounded.
    let eventLimiter: RateLimiter
    /// Realtime connections per client address.
    let connectionsByAddress: ConnectionLimiter

    /// `files`: where uploads are stored, through a client of their own (the same
    /// database when nil).
    public init(
        config: ParleyConfiguration, database: MongoDatabase, files: MongoDatabase? = nil, metrics: ParleyMetrics,
        logger: Logger = Logger(label: "parley")
    ) async {
        self.config = config
        self.logger = logger
        self.database = database
        self.metrics = metrics
        repos = .mongo(database)
        presence = PresenceRegistry()
        accounts = AccountService(users: repos.users, hasher: PasswordHasher(cost: config.bcryptCost))
        auth = AuthService(
            accounts: accounts,
            signer: await TokenSigner(secret: config.jwtSecret, previous: config.jwtSecretPrevious, ttl: Double(config.jwtTTL)))
        hub = ConnectionHub()
        let outbox = config.cluster
            ? SignalOutbox(database: database, node: config.nodeId, heartbeat: .milliseconds(config.heartbeatMs), logger: logger) : nil
        notifier = RoomNotifier(hub: hub, presence: presence, metrics: metrics, outbox: outbox, logger: logger)
        gate = SendGate(repos: repos)
        membershipEffects = MembershipEffects(hub: hub, notifier: notifier, gate: gate, outbox: outbox)
        fanout = MessageFanout(
            notifier: notifier, hub: hub, metrics: metrics, messages: repos.messages, outbox: outbox, gapFill: .milliseconds(config.gapFillMs),
            node: config.nodeId, logger: logger)
        vocabulary = Vocabulary(database: database)
        let roomService = RoomService(repos: repos, presence: presence, heads: nil)
        let followUps = MessageFollowUps(
            fanout: fanout, repos: repos, changes: MessageChanges(rooms: roomService), notifier: notifier,
            logger: logger)
        pipeline = SendPipeline(
            repos: repos, sink: followUps, lastSeqInterval: .milliseconds(config.lastSeqRaiseMs), stages: metrics, logger: logger)
        if let outbox {
            let router = SendRouter(node: config.nodeId, pipeline: pipeline, outbox: outbox, logger: logger)
            let made = Cluster(
                settings: .init(node: config.nodeId, heartbeat: .milliseconds(config.heartbeatMs), nodeTimeout: .milliseconds(config.nodeTimeoutMs)),
                outbox: outbox, database: database, presence: presence, hub: hub, fanout: fanout, heads: pipeline.heads, effects: membershipEffects,
                notifier: notifier, repos: repos, metrics: metrics, router: router, logger: logger)
            router.knowPeers { [weak made] in made?.aliveNodes ?? [] }
            cluster = made
            self.router = router
        } else {
            cluster = nil
            router = nil
        }
        rooms = RoomService(repos: repos, presence: presence, heads: pipeline.heads)
        audit = AuditLog(repository: repos.audit, retentionDays: config.auditRetentionDays)
        members = MemberService(rooms: rooms, audit: audit)
        moderation = ModerationService(members: members)
        invites = InviteService(members: members)
        roomSettings = RoomSettingsService(members: members)
        changes = MessageChanges(rooms: rooms)
        search = SearchService(rooms: rooms, vocabulary: vocabulary)
        uploads = UploadService(
            records: database, bucket: GridFSBucket(database: files ?? database), memberships: repos.memberships, limits: .init(config))
        cursors = CursorService(memberships: repos.memberships)
        history = HistoryService(rooms: rooms, cursors: cursors)
        sync = SyncService(rooms: rooms, window: SyncService.window(messageMaxChars: config.messageMaxChars))
        messageLimiter = RateLimiter(ratePerSecond: Double(config.rateLimitPerSecond), burst: config.rateLimitBurst)
        guestMessageLimiter = RateLimiter(ratePerSecond: Double(config.guestRateLimitPerSecond), burst: config.guestRateLimitPerSecond * 2)
        eventLimiter = RateLimiter(ratePerSecond: Double(config.eventRateLimitPerSecond), burst: config.eventRateLimitPerSecond * 2)
        connectionsByAddress = ConnectionLimiter(perAddress: config.maxConnectionsPerAddress)
        let perMinute = Double(config.authRateLimitPerMinute)
        authByIP = RateLimiter(ratePerSecond: perMinute / 60, burst: config.authRateLimitPerMinute)
        authByUsername = RateLimiter(ratePerSecond: perMinute / 60, burst: config.authRateLimitPerMinute)
    }

    /// The wire form of a user, with their online state on this node.
    func wire(_ user: UserRecord) -> User { User(user, online: presence.isOnline(user.id)) }
}
