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
    /// Every operation's deadline: a call returns by then, answered or failed with
    /// `.timeout`, whatever the database does (a frozen server, a partition, a stalled
    /// disk keep the socket open and send nothing back). It is also the socket timeout
    /// (`socketTimeoutMS`, unless the URI sets one), so a driver thread is never held
    /// much longer. Migrations use a client of their own with a long one (index builds).
    public var operationTimeoutMS: Int32
    /// Sent in the handshake, shown in the server's logs.
    public var appName: String

    public init(
        uri: String,
        threadCount: Int = 8,
        extraClients: Int = 16,
        serverSelectionTimeoutMS: Int32 = 3000,
        operationTimeoutMS: Int32 = 5000,
        appName: String = "parley"
    ) {
        self.uri = uri
        self.threadCount = max(1, threadCount)
        self.extraClients = max(1, extraClients)
        self.serverSelectionTimeoutMS = serverSelectionTimeoutMS
        self.operationTimeoutMS = max(1, operationTimeoutMS)
        self.appName = appName
    }
}
