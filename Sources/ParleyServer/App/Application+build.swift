import Hummingbird
import Logging
import Mongo
import ParleyCore

/// The request context of every route.
public typealias ParleyRequestContext = BasicRequestContext

/// Builds the whole server from its configuration: the Mongo client (run as a
/// service, so it closes after graceful shutdown), migrations at start, and the
/// routes. `main` and the tests share it, so tests exercise what production runs.
public func buildApplication(
    _ config: ParleyConfiguration,
    logger: Logger = Logger(label: "parley")
) async throws -> some ApplicationProtocol {
    var logger = logger
    logger.logLevel = config.logLevel
    let mongo = try MongoClient(configuration: config.mongo, logger: logger)
    let database = mongo.database(config.mongoDatabase)
    do {
        try await prepareDatabase(database, config: config, logger: logger)
    } catch {
        try? await mongo.shutdown()
        throw error
    }

    let router = Router(context: ParleyRequestContext.self)
    HealthController(database: database).addRoutes(to: router)

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "parley"),
        logger: logger
    )
    app.addServices(mongo)
    return app
}

/// Applies pending migrations, or with `MIGRATE_ON_START=check` refuses to start
/// while any is pending, naming the command that applies them.
func prepareDatabase(_ database: MongoDatabase, config: ParleyConfiguration, logger: Logger) async throws {
    let runner = MigrationRunner(database: database, migrations: try Migration.load(directory: config.migrationsDirectory), logger: logger)
    let status = try await runner.status()
    for entry in status.entries where entry.modified {
        logger.warning("migration \(entry.id) changed after it was applied; its new contents are not re-run")
    }
    switch config.migrateOnStart {
    case .apply:
        let applied = try await runner.apply()
        if !applied.isEmpty { logger.info("applied \(applied.count) migration(s): \(applied.joined(separator: ", "))") }
    case .check:
        let pending = status.pending.map(\.id)
        guard pending.isEmpty else {
            throw MigrationError("pending migrations: \(pending.joined(separator: ", ")). Apply them with: swift run parleyctl migrate")
        }
    }
}
