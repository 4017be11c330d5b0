/// How the Mongo layer connects and how much it runs at once.
public struct MongoConfiguration: Sendable {
    /// A `mongodb://` or `mongodb+srv://` connection string.
    public var uri: String
    /// Threads that run blocking libmongoc calls. Each holds at most one pooled client.
    public var threadCount: Int
    /// Clients in the pool beyond `threadCount`, for open cursors and change streams.
    public var extraClients: Int
    /// How long to wait for a usable server before failing with `.network`, when the
    /// URI does not set `serverSelectionTimeoutMS` itself. Short, so an outage is
    /// reported quickly instead of stalling callers for libmongoc's default 30 s.
    public var serverSelectionTimeoutMS: Int32
    /// Sent in the handshake, shown in the server's logs.
    public var appName: String

    public init(
        uri: String,
        threadCount: Int = 8,
        extraClients: Int = 16,
        serverSelectionTimeoutMS: Int32 = 3000,
        appName: String = "parley"
    ) {
        self.uri = uri
        self.threadCount = max(1, threadCount)
        self.extraClients = max(1, extraClients)
        self.serverSelectionTimeoutMS = serverSelectionTimeoutMS
        self.appName = appName
    }
}
