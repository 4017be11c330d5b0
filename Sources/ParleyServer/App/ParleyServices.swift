import Mongo
import ParleyCore

/// Everything the routes need, built once per application from the configuration.
public struct ParleyServices: Sendable {
    public let config: ParleyConfiguration
    public let database: MongoDatabase
    public let repos: ParleyRepositories
    public let presence: PresenceRegistry
    public let accounts: AccountService
    public let auth: AuthService
    public let rooms: RoomService
    public let history: HistoryService
    public let metrics: ParleyMetrics
    /// Login and register attempts per client IP, and per username.
    let authByIP: RateLimiter
    let authByUsername: RateLimiter

    public init(config: ParleyConfiguration, database: MongoDatabase, metrics: ParleyMetrics) {
        self.config = config
        self.database = database
        self.metrics = metrics
        repos = .mongo(database)
        presence = PresenceRegistry()
        accounts = AccountService(users: repos.users, hasher: PasswordHasher(cost: config.bcryptCost))
        auth = AuthService(accounts: accounts, signer: TokenSigner(secret: config.jwtSecret, ttl: Double(config.jwtTTL)))
        rooms = RoomService(repos: repos, presence: presence)
        history = HistoryService(rooms: rooms)
        let perMinute = Double(config.authRateLimitPerMinute)
        authByIP = RateLimiter(ratePerSecond: perMinute / 60, burst: config.authRateLimitPerMinute)
        authByUsername = RateLimiter(ratePerSecond: perMinute / 60, burst: config.authRateLimitPerMinute)
    }

    /// The wire form of a user, with their online state on this node.
    func wire(_ user: UserRecord) -> User { User(user, online: presence.isOnline(user.id)) }
}
