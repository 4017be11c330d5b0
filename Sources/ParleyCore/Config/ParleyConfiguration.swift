import Foundation
import Logging
import Mongo

/// Every setting of Parley, read once at start from the environment and `.env`.
/// `.env.example` lists each key with its default and meaning; keep the two in step.
public struct ParleyConfiguration: Sendable {
    /// `development` relaxes what production must set explicitly (`JWT_SECRET`).
    public enum Mode: String, Sendable { case development, production, test }

    /// What the server does with pending migrations at start.
    public enum MigrateOnStart: String, Sendable {
        /// Apply pending migrations, then serve (the default).
        case apply
        /// Refuse to start while any migration is pending, naming the command to run.
        case check
    }

    public var mode: Mode = .development
    public var host = "127.0.0.1"
    public var port = 8080
    public var mongoURI = "mongodb://127.0.0.1:27017"
    public var mongoDatabase = "parley"
    public var mongoThreads = 8
    public var mongoExtraClients = 16
    public var mongoServerSelectionTimeoutMS: Int32 = 3000
    /// Every database operation's deadline (`MongoConfiguration.operationTimeoutMS`).
    public var mongoOperationTimeoutMS: Int32 = 5000
    /// `/healthz`'s own deadline for its ping, shorter than any load balancer's check.
    public var healthTimeoutMS = 1500
    public var jwtSecret: String
    /// The secret before the last rotation: tokens it signed still verify (`JWT_SECRET_PREVIOUS`).
    public var jwtSecretPrevious: String?
    /// Token lifetime in seconds.
    public var jwtTTL = 86_400
    /// The origin allowed by CORS (the web client's URL).
    public var clientURL = "http://localhost:8080"
    public var logLevel: Logger.Level = .info
    public var migrationsDirectory = "migrations"
    /// The web page's files, served at `/`.
    public var publicDirectory = "Public"
    /// The OpenAPI document of the REST API, served at `/openapi.yaml`.
    public var openAPIFile = "docs/openapi.yaml"
    public var migrateOnStart: MigrateOnStart = .apply
    /// Largest WebSocket frame accepted; larger ones close the socket with 1009.
    public var maxFrameBytes = 65_536
    /// Largest HTTP request body accepted; larger ones get 413.
    public var maxBodyBytes = 1_048_576
    public var messageMaxChars = 4_000
    /// Sustained messages per second per user, and the burst above it.
    public var rateLimitPerSecond = 20
    public var rateLimitBurst = 40
    /// Typing and room-activity events per second per user (bursts of twice that).
    public var eventRateLimitPerSecond = 50
    /// Pushes waiting to be written to one connection before it counts as a slow
    /// consumer and is disconnected. At least 1,024: one stored batch (up to 500
    /// messages) is queued to each recipient at once.
    public var outboundQueueFrames = 4096
    /// Realtime connections (WebSockets and Engine.IO sessions) one client address may hold.
    public var maxConnectionsPerAddress = 1_000
    /// How long a `/ws` client without a token in the request has to send its `auth` frame.
    public var wsAuthTimeoutMs = 5000
    /// How long a room's `lastSeq` may trail its stored messages: the send pipeline
    /// raises it at most once per this interval (see `LastSeqRaiser`).
    public var lastSeqRaiseMs = 250
    /// Cluster mode (`CLUSTER`, on by default): every node sharing the database sees
    /// what the others store and signal (see `ClusterBus`). Off for a single node that
    /// wants none of its cost.
    public var cluster = true
    /// This node's id in the cluster (`NODE_ID`); a fresh random one per start by default.
    public var nodeId = ClusterSettings.randomNodeId()
    /// How often a node writes its heartbeat and its batch of signals at the latest.
    public var heartbeatMs = 1_000
    /// A node whose heartbeat is older than this is dead: its users go offline
    /// elsewhere (unless online on another node).
    public var nodeTimeoutMs = 8_000
    /// How long a hole in a room's seqs may wait for the stream before it is read
    /// from `messages`.
    public var gapFillMs = 150
    /// How often the server pings a `/ws` client; one that has not answered a ping by
    /// the next is closed with 1001.
    public var wsPingIntervalMs = 30_000
    /// Login and register attempts per minute per IP address and per username.
    public var authRateLimitPerMinute = 10
    /// Engine.IO: how often the server pings a Socket.IO client, and how long a pong may take.
    public var socketIOPingIntervalMs = 25_000
    public var socketIOPingTimeoutMs = 20_000
    /// bcrypt cost factor for password hashes (4 to 31).
    public var bcryptCost = 10
    /// How long the audit trail keeps an entry (`AUDIT_RETENTION_DAYS`).
    public var auditRetentionDays = 365
    /// The largest upload (`MAX_UPLOAD_BYTES`); larger ones get 413.
    public var maxUploadBytes = 10 * 1024 * 1024
    /// The bytes one user's uploads may hold in all (`UPLOAD_QUOTA_BYTES`).
    public var uploadQuotaBytes = 1024 * 1024 * 1024
    /// The file types uploads may be, as sniffed from their bytes (`UPLOAD_TYPES`,
    /// comma separated; `*` for any known type).
    public var uploadTypes: Set<String> = [
        "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "application/zip", "application/gzip",
        "video/mp4", "video/webm", "audio/mpeg", "audio/ogg", "audio/wav",
    ]
    /// How long an upload attached to no message is kept (`UPLOAD_ORPHAN_SECONDS`).
    public var uploadOrphanSeconds = 86_400
    /// Uploads in progress at once on a node (`UPLOAD_CONCURRENCY`): each holds a
    /// database client of the uploads' own pool until it ends.
    public var uploadConcurrency = 32
    /// Whether `POST /api/auth/guest` and a dialect's bare names make guests (`GUEST_ACCESS`, on or off).
    public var guestAccess = true
    /// How long a guest's account and token last, in seconds (`GUEST_TTL`).
    public var guestTTL = 86_400
    /// Sustained messages per second per guest (`GUEST_RATE_LIMIT_MESSAGES_PER_SECOND`), bursts of twice that.
    public var guestRateLimitPerSecond = 2
    /// The Socket.IO dialect of a connection that names none (`SOCKETIO_DIALECT`):
    /// `parley` (the contract's events) or one of the seeds' (`docs/DIALECTS.md`).
    public var socketIODialect = "parley"
    /// Whether a dialect's `authenticate(userId)` with a bare user id is believed
    /// (`DIALECT_TRUST_USER_IDS`): it lets anyone be anyone, so only in development.
    public var dialectTrustUserIds = false

    /// The insecure secret used only in development when none is set.
    public static let developmentSecret = "parley-development-secret-do-not-use-in-production"

    public init(jwtSecret: String = ParleyConfiguration.developmentSecret) { self.jwtSecret = jwtSecret }

    /// The Mongo layer's settings derived from this configuration.
    public var mongo: MongoConfiguration {
        MongoConfiguration(
            uri: mongoURI, threadCount: mongoThreads, extraClients: mongoExtraClients,
            serverSelectionTimeoutMS: mongoServerSelectionTimeoutMS, operationTimeoutMS: mongoOperationTimeoutMS
        )
    }

    /// The settings of the uploads' own client: an upload holds a client of its pool
    /// from its first chunk to its last (`UploadService`).
    public var uploadMongo: MongoConfiguration {
        var m = mongo
        m.threadCount = 2
        m.extraClients = uploadConcurrency
        m.appName = "parley-uploads"
        return m
    }

    /// The settings of the client that applies migrations: index builds on a large
    /// collection may take minutes, far past a request's deadline.
    public var migrationMongo: MongoConfiguration {
        var m = mongo
        m.threadCount = 1
        m.extraClients = 1
        m.operationTimeoutMS = 30 * 60 * 1000
        return m
    }

    /// Reads every key from `source`. Throws `ConfigurationError` naming the key for a
    /// value that does not parse, and for a missing `JWT_SECRET` outside development.
    public static func load(from source: EnvironmentSource = .load()) throws -> ParleyConfiguration {
        var c = ParleyConfiguration()
        if let v = source["PARLEY_ENV"] {
            guard let m = Mode(rawValue: v.lowercased()) else { throw ConfigurationError(key: "PARLEY_ENV", "must be development, production or test, not \"\(v)\"") }
            c.mode = m
        }
        c.host = source["HOST"] ?? c.host
        c.port = try int(source, "PORT", c.port, 1...65_535)
        c.mongoURI = source["MONGODB_URI"] ?? c.mongoURI
        c.mongoDatabase = source["MONGODB_DATABASE"] ?? c.mongoDatabase
        guard c.mongoDatabase.range(of: #"^[A-Za-z0-9_-]{1,63}$"#, options: .regularExpression) != nil else {
            throw ConfigurationError(key: "MONGODB_DATABASE", "must be 1 to 63 of letters, digits, _ and -")
        }
        c.mongoThreads = try int(source, "MONGO_THREADS", c.mongoThreads, 1...256)
        c.mongoExtraClients = try int(source, "MONGO_EXTRA_CLIENTS", c.mongoExtraClients, 1...1024)
        c.mongoServerSelectionTimeoutMS = Int32(try int(source, "MONGO_SERVER_SELECTION_TIMEOUT_MS", Int(c.mongoServerSelectionTimeoutMS), 50...120_000))
        c.mongoOperationTimeoutMS = Int32(try int(source, "MONGO_OPERATION_TIMEOUT_MS", Int(c.mongoOperationTimeoutMS), 100...600_000))
        c.healthTimeoutMS = try int(source, "HEALTH_TIMEOUT_MS", c.healthTimeoutMS, 50...60_000)
        if let secret = source["JWT_SECRET"] {
            guard secret.utf8.count >= 32 || c.mode == .development else {
                throw ConfigurationError(key: "JWT_SECRET", "must be at least 32 bytes outside development")
            }
            c.jwtSecret = secret
        } else if c.mode != .development {
            throw ConfigurationError(
                key: "JWT_SECRET",
                "is required when PARLEY_ENV=\(c.mode.rawValue). Set it to a random string of 32 bytes or more, e.g. JWT_SECRET=$(openssl rand -hex 32)"
            )
        }
        if let previous = source["JWT_SECRET_PREVIOUS"], !previous.isEmpty {
            guard previous.utf8.count >= 32 || c.mode == .development else {
                throw ConfigurationError(key: "JWT_SECRET_PREVIOUS", "must be at least 32 bytes outside development")
            }
            c.jwtSecretPrevious = previous
        }
        c.jwtTTL = try int(source, "JWT_TTL", c.jwtTTL, 60...31_536_000)
        c.clientURL = source["CLIENT_URL"] ?? c.clientURL
        if let v = source["LOG_LEVEL"] {
            guard let level = Logger.Level(rawValue: v.lowercased()) else {
                throw ConfigurationError(key: "LOG_LEVEL", "must be one of trace, debug, info, notice, warning, error, critical")
            }
            c.logLevel = level
        }
        // Given paths are taken as they are; the defaults are found wherever the
        // binary runs from (`ResourceLocator`).
        c.migrationsDirectory = source["MIGRATIONS_DIR"] ?? ResourceLocator.find(c.migrationsDirectory) ?? c.migrationsDirectory
        c.publicDirectory = source["PUBLIC_DIR"] ?? ResourceLocator.find(c.publicDirectory) ?? c.publicDirectory
        c.openAPIFile = source["OPENAPI_FILE"] ?? ResourceLocator.find(c.openAPIFile) ?? c.openAPIFile
        if let v = source["MIGRATE_ON_START"] {
            guard let m = MigrateOnStart(rawValue: v.lowercased()) else { throw ConfigurationError(key: "MIGRATE_ON_START", "must be apply or check") }
            c.migrateOnStart = m
        }
        c.maxFrameBytes = try int(source, "MAX_FRAME_BYTES", c.maxFrameBytes, 1_024...16_777_216)
        c.maxBodyBytes = try int(source, "MAX_BODY_BYTES", c.maxBodyBytes, 1_024...67_108_864)
        c.messageMaxChars = try int(source, "MESSAGE_MAX_CHARS", c.messageMaxChars, 1...100_000)
        c.rateLimitPerSecond = try int(source, "RATE_LIMIT_MESSAGES_PER_SECOND", c.rateLimitPerSecond, 1...1_000_000)
        c.rateLimitBurst = try int(source, "RATE_LIMIT_BURST", c.rateLimitBurst, 1...1_000_000)
        c.authRateLimitPerMinute = try int(source, "AUTH_RATE_LIMIT_PER_MINUTE", c.authRateLimitPerMinute, 1...1_000_000)
        c.eventRateLimitPerSecond = try int(source, "EVENT_RATE_LIMIT_PER_SECOND", c.eventRateLimitPerSecond, 1...1_000_000)
        c.outboundQueueFrames = try int(source, "OUTBOUND_QUEUE_FRAMES", c.outboundQueueFrames, 1_024...1_000_000)
        c.maxConnectionsPerAddress = try int(source, "MAX_CONNECTIONS_PER_ADDRESS", c.maxConnectionsPerAddress, 1...10_000_000)
        c.wsAuthTimeoutMs = try int(source, "WS_AUTH_TIMEOUT_MS", c.wsAuthTimeoutMs, 100...120_000)
        c.lastSeqRaiseMs = try int(source, "LAST_SEQ_RAISE_MS", c.lastSeqRaiseMs, 1...10_000)
        c.wsPingIntervalMs = try int(source, "WS_PING_INTERVAL_MS", c.wsPingIntervalMs, 100...3_600_000)
        c.cluster = try flag(source, "CLUSTER", c.cluster)
        if let v = source["NODE_ID"], !v.isEmpty {
            guard v.range(of: #"^[A-Za-z0-9_.-]{1,64}$"#, options: .regularExpression) != nil else {
                throw ConfigurationError(key: "NODE_ID", "must be 1 to 64 of letters, digits, _, . and -")
            }
            c.nodeId = v
        }
        c.heartbeatMs = try int(source, "HEARTBEAT_MS", c.heartbeatMs, 50...60_000)
        c.nodeTimeoutMs = try int(source, "NODE_TIMEOUT_MS", c.nodeTimeoutMs, 200...600_000)
        guard c.nodeTimeoutMs >= 3 * c.heartbeatMs else {
            throw ConfigurationError(key: "NODE_TIMEOUT_MS", "must be at least 3 × HEARTBEAT_MS (\(3 * c.heartbeatMs))")
        }
        c.gapFillMs = try int(source, "GAP_FILL_MS", c.gapFillMs, 1...60_000)
        c.socketIOPingIntervalMs = try int(source, "SOCKETIO_PING_INTERVAL_MS", c.socketIOPingIntervalMs, 100...600_000)
        c.socketIOPingTimeoutMs = try int(source, "SOCKETIO_PING_TIMEOUT_MS", c.socketIOPingTimeoutMs, 100...600_000)
        c.bcryptCost = try int(source, "BCRYPT_COST", c.bcryptCost, 4...31)
        c.auditRetentionDays = try int(source, "AUDIT_RETENTION_DAYS", c.auditRetentionDays, 1...36_500)
        c.maxUploadBytes = try int(source, "MAX_UPLOAD_BYTES", c.maxUploadBytes, 1...1_073_741_824)
        c.uploadQuotaBytes = try int(source, "UPLOAD_QUOTA_BYTES", c.uploadQuotaBytes, 0...Int(Int32.max) * 512)
        if let v = source["UPLOAD_TYPES"] {
            let types = Set(v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
            guard !types.isEmpty, types.allSatisfy({ $0 == "*" || $0.range(of: #"^[a-z]+/[a-z0-9.+-]+$"#, options: .regularExpression) != nil }) else {
                throw ConfigurationError(key: "UPLOAD_TYPES", "must be a comma-separated list of types such as image/png,application/pdf, or *")
            }
            c.uploadTypes = types
        }
        c.uploadOrphanSeconds = try int(source, "UPLOAD_ORPHAN_SECONDS", c.uploadOrphanSeconds, 60...31_536_000)
        c.uploadConcurrency = try int(source, "UPLOAD_CONCURRENCY", c.uploadConcurrency, 1...1_000)
        c.guestAccess = try flag(source, "GUEST_ACCESS", c.guestAccess)
        c.guestTTL = try int(source, "GUEST_TTL", c.guestTTL, 60...31_536_000)
        c.guestRateLimitPerSecond = try int(source, "GUEST_RATE_LIMIT_MESSAGES_PER_SECOND", c.guestRateLimitPerSecond, 1...1_000_000)
        if let v = source["SOCKETIO_DIALECT"] {
            guard Self.dialects.contains(v.lowercased()) else {
                throw ConfigurationError(key: "SOCKETIO_DIALECT", "must be one of \(Self.dialects.joined(separator: ", ")), not \"\(v)\"")
            }
            c.socketIODialect = v.lowercased()
        }
        c.dialectTrustUserIds = try flag(source, "DIALECT_TRUST_USER_IDS", c.dialectTrustUserIds)
        if c.dialectTrustUserIds, c.mode != .development {
            throw ConfigurationError(
                key: "DIALECT_TRUST_USER_IDS",
                "lets any client be any user by naming an id; it is refused unless PARLEY_ENV=development (this is \(c.mode.rawValue))")
        }
        return c
    }

    /// The Socket.IO dialects a connection may pick (`docs/DIALECTS.md`).
    public static let dialects = ["parley", "live-event", "broadcast", "collagemedia", "hangout", "chat-backend"]

    private static func flag(_ source: EnvironmentSource, _ key: String, _ fallback: Bool) throws -> Bool {
        guard let v = source[key] else { return fallback }
        switch v.lowercased() {
        case "on", "true", "1", "yes": return true
        case "off", "false", "0", "no": return false
        default: throw ConfigurationError(key: key, "must be on or off, not \"\(v)\"")
        }
    }

    private static func int(_ source: EnvironmentSource, _ key: String, _ fallback: Int, _ range: ClosedRange<Int>) throws -> Int {
        guard let raw = source[key] else { return fallback }
        guard let v = Int(raw), range.contains(v) else {
            throw ConfigurationError(key: key, "must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(raw)\"")
        }
        return v
    }
}

/// A configuration value that is missing or wrong, with the key and the fix.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let key: String
    public let problem: String
    public init(key: String, _ problem: String) {
        self.key = key
        self.problem = problem
    }
    public var description: String { "configuration error: \(key) \(problem)" }
}

/// Helpers of the cluster settings.
public enum ClusterSettings {
    /// A node id unique per process start: 12 hex digits.
    public static func randomNodeId() -> String {
        (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}
