import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Mongo
import ParleyCore
import TestSupport
import Testing

@testable import ParleyServer

@Suite("Server start and health")
struct HealthTests {
    static func config(database: String, migrateOnStart: ParleyConfiguration.MigrateOnStart = .apply) -> ParleyConfiguration {
        var c = ParleyConfiguration()
        c.mode = .test
        c.mongoURI = TestDatabase.uri
        c.mongoDatabase = database
        c.migrationsDirectory = RepoPaths.migrations
        c.migrateOnStart = migrateOnStart
        c.port = 0
        c.logLevel = .warning
        return c
    }

    @Test("the server applies migrations at start and /healthz answers ok")
    func healthy() async throws {
        try await TestDatabase.with { db in
            let app = try await buildApplication(Self.config(database: db.name))
            #expect(try await MigrationRunner(database: db, migrations: try Migration.load(directory: RepoPaths.migrations)).status().pending.isEmpty)
            try await app.test(.router) { client in
                try await client.execute(uri: "/healthz", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                    let body = try JSONDecoder().decode([String: String].self, from: Data(buffer: response.body))
                    #expect(body == ["status": "ok", "database": "ok"])
                }
            }
        }
    }

    @Test("over a real socket too")
    func live() async throws {
        try await TestDatabase.with { db in
            let app = try await buildApplication(Self.config(database: db.name))
            try await app.test(.live) { client in
                try await client.execute(uri: "/healthz", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }

    @Test("MIGRATE_ON_START=check refuses to start with pending migrations and names the command")
    func checkMode() async throws {
        try await TestDatabase.with { db in
            do {
                _ = try await buildApplication(Self.config(database: db.name, migrateOnStart: .check))
                Issue.record("started with pending migrations")
            } catch let e as MigrationError {
                #expect(e.description.contains("parleyctl migrate"))
            }
            try await MigrationRunner(database: db, migrations: try Migration.load(directory: RepoPaths.migrations)).apply()
            _ = try await buildApplication(Self.config(database: db.name, migrateOnStart: .check))
        }
    }

    @Test("/healthz is 503 with database unreachable when the database is down")
    func unhealthy() async throws {
        let mongo = try MongoClient(configuration: MongoConfiguration(uri: "mongodb://127.0.0.1:1", serverSelectionTimeoutMS: 200))
        let router = Router(context: ParleyRequestContext.self)
        HealthController(database: mongo.database("x"), timeout: .milliseconds(1500)).addRoutes(to: router)
        let app = Application(router: router, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try JSONDecoder().decode([String: String].self, from: Data(buffer: response.body))
                #expect(body == ["status": "unavailable", "database": "unreachable"])
            }
        }
        try await mongo.shutdown()
    }

    @Test("/healthz answers 503 by its own deadline when the database accepts connections and never answers")
    func hungDatabase() async throws {
        // A listener that never accepts: connections complete in the kernel's backlog
        // and then nothing comes back, as from a frozen or partitioned server.
        let silent = try SilentListener()
        let mongo = try MongoClient(
            configuration: MongoConfiguration(uri: "mongodb://127.0.0.1:\(silent.port)", serverSelectionTimeoutMS: 3_000, operationTimeoutMS: 30_000))
        let router = Router(context: ParleyRequestContext.self)
        HealthController(database: mongo.database("x"), timeout: .milliseconds(500)).addRoutes(to: router)
        let app = Application(router: router, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let start = ContinuousClock.now
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
            }
            // The deadline is half a second; the driver waits 3 s to select the server.
            #expect(ContinuousClock.now - start < .seconds(2))
        }
        try await mongo.shutdown()
    }
}

/// A TCP listener on a free loopback port that never accepts.
final class SilentListener: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = self.fd
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                bind(fd, a, len) == 0 && listen(fd, 64) == 0 && getsockname(fd, a, &len) == 0
            }
        }
        guard bound else { throw WSTestError("cannot listen") }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit { Glibc.close(fd) }
}
