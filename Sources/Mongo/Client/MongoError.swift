/// The one error the Mongo layer throws. Callers switch on `code` to decide what to
/// do (retry, answer `conflict`, answer `unavailable`); `serverCode` carries the
/// server's own numeric code when there is one. A struct, so codes can be added
/// without breaking callers' exhaustive switches.
public struct MongoError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is, as callers need to act on it.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }

        /// A unique index refused the write (server code 11000 and its kin).
        public static let duplicateKey = Code("duplicateKey")
        /// The server could not be reached or the connection broke.
        public static let network = Code("network")
        /// The operation or server selection ran out of time.
        public static let timeout = Code("timeout")
        /// The server answered with an error; see `serverCode`.
        public static let server = Code("server")
        /// The write was applied but the write concern was not satisfied.
        public static let writeConcern = Code("writeConcern")
        /// A document could not be built, parsed or decoded.
        public static let invalidDocument = Code("invalidDocument")
        /// An argument was refused before anything was sent (bad URI, bad name).
        public static let invalidArgument = Code("invalidArgument")
        /// The client is shut down or has no free connection for this call.
        public static let unavailable = Code("unavailable")
        /// Anything else libmongoc reported.
        public static let driver = Code("driver")

        public var description: String { name }
    }

    /// One document a bulk write refused: its position in the input, the server's code
    /// and message, and for a duplicate key the fields of the unique index it broke
    /// (the server's `keyPattern`), so callers tell indexes apart without reading text.
    public struct WriteError: Sendable, Hashable {
        public let index: Int
        public let code: Int
        public let message: String
        /// The unique index's fields, in order; empty when the server does not say.
        public let keyFields: [String]

        public init(index: Int, code: Int, message: String, keyFields: [String] = []) {
            self.index = index
            self.code = code
            self.message = message
            self.keyFields = keyFields
        }

        /// Whether this is a duplicate key on a unique index over exactly `fields`.
        public func isDuplicateKey(on fields: [String]) -> Bool { MongoError.isDuplicateKey(code: code) && keyFields == fields }
    }

    public var code: Code
    /// The server's error code (for example 11000), when the server produced the error.
    public var serverCode: Int?
    public var message: String
    /// For bulk writes: every document refused, so callers know which ones landed.
    public var writeErrors: [WriteError] = []

    public init(code: Code, serverCode: Int? = nil, message: String) {
        self.code = code
        self.serverCode = serverCode
        self.message = message
    }

    /// True for failures a caller may retry once the database is reachable again.
    public var isTransient: Bool { code == .network || code == .timeout || code == .unavailable }

    public var description: String {
        "MongoError(\(code)\(serverCode.map { ", server code \($0)" } ?? ""): \(message)"
    }

    static let shutDown = MongoError(code: .unavailable, message: "the MongoDB client is shut down")

    /// True when the call failed because the client was shut down: retrying is pointless.
    public var isClientShutDown: Bool { self == .shutDown }
    static let deadlineExceeded = MongoError(code: .timeout, message: "the database did not answer within the operation's deadline")

    static func invalidDocument(_ message: String) -> MongoError { MongoError(code: .invalidDocument, message: message) }
    static func invalidArgument(_ message: String) -> MongoError { MongoError(code: .invalidArgument, message: message) }
}
