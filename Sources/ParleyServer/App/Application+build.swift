import Hummingbird
import Logging
import Mongo
import ParleyCore
import ServiceLifecycle

/// Builds the whole server from its configuration: the Mongo client (run as a
/// service, so it closes after graceful shutdown), migrations at start, and the
/// routes. `main` and the tests share it, so tests exercise what production runs.
public func buildApplication(
    _ config: ParleyConfiguration,
    logger: Logger = Logger(label: "parley")
) async throws -> some ApplicationProtocol {
    try await makeApplication(config, logger: logger).application
}

/// The server as `parley` runs it: the application and, ahead of it at shutdown, the
/// realtime drain (`RealtimeDrain`), in one `ServiceGroup` that shuts down gracefully
/// on SIGTERM and SIGINT.
public func buildServer(_ config: ParleyConfiguration, logger: Logger = Logger(label: "parley")) async throws -> ServiceGroup {
    let (application, services) = try await makeApplication(config, logger: logger)
    return ServiceGroup(
        configuration: .init(
            services: [application, RealtimeDrain(services: services, logger: logger)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
}

private func makeApplication(
    _ config: ParleyConfiguration,
    logger: Logger
) async throws -> (application: some ApplicationProtocol, services: ParleyServices) {
    var logger = logger
    logger.logLevel = config.logLevel
    let metrics = ParleyMetrics()
    // Migrations run on a client of their own, without the requests' deadline.
    let migrator = try MongoClient(configuration: config.migrationMongo, logger: logger)
    do {
        try await prepareDatabase(migrator.database(config.mongoDatabase), config: config, logger: logger)
        try await migrator.shutdown()
    } catch {
        try? await migrator.shutdown()
        throw error
    }
    let mongo = try MongoClient(configuration: config.mongo, logger: logger, observer: metrics.recordDatabaseOperation)
    let database = mongo.database(config.mongoDatabase)
    let files = try MongoClient(configuration: config.uploadMongo, logger: logger)

    let services = await ParleyServices(
        config: config, database: database, files: files.database(config.mongoDatabase), metrics: metrics, logger: logger)
    let router = buildRouter(services)
    let socketIO = SocketIOGateway(services: services, logger: logger)
    socketIO.addRoutes(http: router)

    var app = Application(
        router: router,
        server: .parley(native: WebSocketGateway(services: services), socketIO: socketIO),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "parley"),
        logger: logger
    )
    app.addServices(
        mongo, files, OrphanUploadSweeper(uploads: services.uploads, logger: logger),
        SearchCountsBackfill(recount: VocabularyRecount(database: database, vocabulary: services.vocabulary), logger: logger))
    // After the client, so it stops first at shutdown.
    if let cluster = services.cluster { app.addServices(cluster) }
    return (app, services)
}

/// The routes and their middleware. Order matters: security headers and CORS wrap
/// everything, so error responses carry them too; metrics see the final status; the
/// error middleware turns every failure into the contract's error body.
func buildRouter(_ services: ParleyServices) -> Router<ParleyRequestContext> {
    let config = services.config
    let router = Router(context: ParleyRequestContext.self)
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(
        middleware: CORSMiddleware(
            allowOrigin: .custom(config.clientURL),
            allowHeaders: [.accept, .authorization, .contentType, .origin],
            allowMethods: [.get, .post, .put, .delete, .options],
            maxAge: .seconds(600)))
    router.add(middleware: MetricsRecorderMiddleware(metrics: services.metrics))
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: BodyLimitMiddleware(limit: config.maxBodyBytes))
    // The web page: Public/ at `/`, index.html for `/`.
    router.add(middleware: FileMiddleware(config.publicDirectory, searchForIndexHtml: true, logger: Logger(label: "parley.files")))

    HealthController(database: services.database, cluster: services.cluster, timeout: .milliseconds(config.healthTimeoutMS)).addRoutes(to: router)
    MetricsController(metrics: services.metrics).addRoutes(to: router)
    OpenAPIController(file: config.openAPIFile, logger: Logger(label: "parley.openapi")).addRoutes(to: router)

    let api = router.group("api")
    let authenticated = api.group().add(middleware: AuthMiddleware(auth: services.auth))
    AuthController(services: services).addRoutes(to: api, authenticated: authenticated)
    UserController(services: services).addRoutes(to: authenticated)
    RoomController(services: services).addRoutes(to: authenticated)
    MessageController(services: services).addRoutes(to: authenticated)
    UploadController(services: services).addRoutes(to: authenticated)
    // The hangout system's paths (`docs/DIALECTS.md`): `/auth/*`, `/rooms/room`, `/rooms/join`.
    let root = router.group()
    let rootAuthenticated = root.group().add(middleware: AuthMiddleware(auth: services.auth))
    AuthController(services: services).addRoutes(to: root, authenticated: rootAuthenticated)
    HangoutRoutesController(services: services).addRoutes(to: rootAuthenticated)
    // Last, so innermost: it sees the router's own 404 for a path it knows.
    router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
    return router
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
