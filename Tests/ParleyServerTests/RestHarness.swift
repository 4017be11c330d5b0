import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Mongo
import ParleyCore
import TestSupport
import Testing

@testable import ParleyServer

/// One HTTP reply, parsed.
struct Reply: Sendable {
    let status: Int
    let headers: HTTPFields
    let body: Data

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    /// The contract's `{"error": {...}}`, nil for any other body.
    var error: Wire.Error? {
        struct ErrorBody: Decodable { let error: Wire.Error }
        return (try? JSONDecoder().decode(ErrorBody.self, from: body))?.error
    }
    var errorCode: String? { error?.code }
    subscript(key: String) -> Any? { json[key] }

    /// The body as the contract shape `T` (`Wire`); a mismatch throws, naming the field.
    func decode<T: Decodable>(_: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw WSTestError("\(status) body is not a \(T.self): \(error); body: \(String(decoding: body.prefix(300), as: UTF8.self))")
        }
    }
}

/// A test client for the REST API of an application on its own database.
struct Api {
    let client: any TestClientProtocol
    let database: MongoDatabase
    let repos: ParleyRepositories

    func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: String? = nil, headers: HTTPFields = [:]) async throws
        -> Reply
    {
        var fields = headers
        if let token { fields[.authorization] = "Bearer \(token)" }
        if json != nil { fields[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: method, headers: fields, body: json.map { ByteBuffer(string: $0) }) { r in
            Reply(status: Int(r.status.code), headers: r.headers, body: Data(buffer: r.body))
        }
    }

    /// Sends raw bytes (an upload), with whatever headers the test gives.
    func send(_ method: HTTPRequest.Method, _ uri: String, token: String?, bytes: [UInt8], headers: HTTPFields = [:]) async throws -> Reply {
        var fields = headers
        if let token { fields[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: method, headers: fields, body: ByteBuffer(bytes: bytes)) { r in
            Reply(status: Int(r.status.code), headers: r.headers, body: Data(buffer: r.body))
        }
    }

    /// Registers a user and returns its token and id.
    @discardableResult
    func register(_ username: String, password: String = "password123", displayName: String? = nil) async throws -> (token: String, id: String) {
        let name = displayName.map { #", "displayName": "\#($0)""# } ?? ""
        let r = try await call(.post, "/api/auth/register", json: #"{"username": "\#(username)", "password": "\#(password)"\#(name)}"#)
        try #require(r.status == 201, "register \(username): \(r.status) \(String(decoding: r.body, as: UTF8.self))")
        let session = try r.decode(Wire.Session.self)
        return (session.token, session.user.id)
    }

    /// Creates a room and returns its id.
    func createRoom(_ token: String, _ json: String) async throws -> String {
        let r = try await call(.post, "/api/rooms", token: token, json: json)
        try #require(r.status == 201, "create room: \(r.status) \(String(decoding: r.body, as: UTF8.self))")
        return try r.decode(Wire.RoomData.self).room.id
    }

    /// Stores `count` messages from `sender` in a room, as the send pipeline would;
    /// without `raisingLastSeq`, as a node that crashed before raising `lastSeq` left them.
    func seedMessages(room: String, sender: String, count: Int, prefix: String = "m", raisingLastSeq: Bool = true) async throws {
        let roomId = ObjectId(room)!, senderId = ObjectId(sender)!
        let first = try await repos.messages.highestSeq(roomId: roomId, above: try #require(try await repos.rooms.find(id: roomId)).lastSeq) + 1
        let batch = (0..<count).map {
            MessageRecord(roomId: roomId, seq: first + $0, senderId: senderId, senderName: "s", text: "\(prefix)\(first + $0)", clientId: "\(prefix)-\(first + $0)")
        }
        try await repos.messages.insert(batch)
        if raisingLastSeq { try await repos.rooms.raiseLastSeq([roomId: first + count - 1], at: Date()) }
    }
}

enum RestHarness {
    static func config(database: String) -> ParleyConfiguration {
        var c = ParleyConfiguration()
        c.mode = .test
        c.mongoURI = TestDatabase.uri
        c.mongoDatabase = database
        c.migrationsDirectory = RepoPaths.migrations
        c.publicDirectory = RepoPaths.root + "/Public"
        c.bcryptCost = 4
        c.authRateLimitPerMinute = 10_000
        c.logLevel = .error
        c.jwtSecret = "test-secret-test-secret-test-secret!"
        c.port = 0
        // The production default: a client that authenticates by its first frame must
        // not race a short timer on a loaded machine (tests that wait for the timeout
        // shorten it themselves).
        c.wsAuthTimeoutMs = 5_000
        c.rateLimitPerSecond = 1000
        c.rateLimitBurst = 1000
        // The suite runs its tests in parallel against one single-threaded SecantusDB,
        // every test migrating a database of its own at start: that queue can hold a
        // call longer than the production deadline (5 s), and a session whose user
        // lookup timed out is closed with 1013. The deadline's own behaviour is tested
        // with short deadlines (`CollectionTests.deadline`, `HealthTests.hungDatabase`,
        // `test_frozen_database_never_hangs_parley`).
        c.mongoOperationTimeoutMS = 30_000
        // One node per test: the cluster's change stream and heartbeats would add a
        // poller per test on the one database. Cluster tests turn it on
        // (`ClusterTests`), and every interop test runs `parley` with its default, on.
        c.cluster = false
        return c
    }

    /// Runs `body` against a fresh application on a real port (for WebSockets); the
    /// `Api` still speaks HTTP through the test client.
    static func live(
        _ label: String = #function,
        configure: @Sendable (inout ParleyConfiguration) -> Void = { _ in },
        _ body: @Sendable (Api, Int) async throws -> Void
    ) async throws {
        try await run(label, .live, configure) { api, port in try await body(api, try #require(port)) }
    }

    /// Runs `body` against a fresh application and database, in process.
    static func with(
        _ label: String = #function,
        configure: @Sendable (inout ParleyConfiguration) -> Void = { _ in },
        _ body: @Sendable (Api) async throws -> Void
    ) async throws {
        try await run(label, .router, configure) { api, _ in try await body(api) }
    }

    private static func run(
        _ label: String, _ setup: TestingSetup, _ configure: @Sendable (inout ParleyConfiguration) -> Void,
        _ body: @Sendable (Api, Int?) async throws -> Void
    ) async throws {
        try await TestDatabase.with(label) { db in
            var config = config(database: db.name)
            configure(&config)
            let app = try await buildApplication(config)
            try await app.test(setup) { client in
                try await body(Api(client: client, database: db, repos: .mongo(db)), client.port)
            }
        }
    }
}
