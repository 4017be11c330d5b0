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
        // One node: a clustered node is 503 for two heartbeats after its start, which
        // `healthy` checks on its own.
        c.cluster = false
        return c
    }

    @Test("the server applies migrations at start and /healthz answers ok; in a cluster with its node id and the nodes alive, once it is ready (stream open, two heartbeats)")
    func healthy() async throws {
        struct Health: Decodable, Equatable {
            let status: String
            let database: String
            let node: String?
            let nodes: Int?
            let cluster: String?
        }
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
            var clustered = Self.config(database: db.name)
            clustered.cluster = true
            clustered.nodeId = "node-under-test"
            let node = try await buildApplication(clustered)
            try await node.test(.live) { client in
                // 503 until the change stream is open, then ok.
                let deadline = ContinuousClock.now + .seconds(20)
                var health: Health?
                while ContinuousClock.now < deadline {
                    let (status, body) = try await client.execute(uri: "/healthz", method: .get) { r in (r.status, Data(buffer: r.body)) }
                    if status == .ok {
                        health = try JSONDecoder().decode(Health.self, from: body)
                        break
                    }
                    #expect(status == .serviceUnavailable)
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(health == Health(status: "ok", database: "ok", node: "node-under-test", nodes: 1, cluster: "ok"))
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
        HealthController(database: mongo.database("x"), cluster: nil, timeout: .milliseconds(1500)).addRoutes(to: router)
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
        // and then nothing comes back, as from a frozen or partitioned server. The
        // driver alone would wait 20 s to give up selecting it.
        let silent = try SilentListener()
        let mongo = try MongoClient(
            configuration: MongoConfiguration(uri: "mongodb://127.0.0.1:\(silent.port)", serverSelectionTimeoutMS: 20_000, operationTimeoutMS: 30_000))
        let router = Router(context: ParleyRequestContext.self)
        HealthController(database: mongo.database("x"), cluster: nil, timeout: .milliseconds(500)).addRoutes(to: router)
        let app = Application(router: router, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let start = ContinuousClock.now
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
            }
            // Answered by the health check's deadline, not the driver's; the bound is
            // loose because the parallel test run starves threads (the 2 s bound on a
            // real frozen database is in test_reliability.py).
            #expect(ContinuousClock.now - start < .seconds(15))
        }
        // Not shut down: its thread is still waiting on the silent server; the client
        // is released when that call ends.
        _ = silent
    }
}
