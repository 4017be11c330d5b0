import Foundation
import Hummingbird
import Logging
import ParleyCore
import ParleyServer

/// `parley`: reads the configuration, prepares the database and serves until SIGINT
/// or SIGTERM, then shuts down gracefully.
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .info
    return handler
}

ProcessLimits.raiseOpenFiles()

do {
    let config = try ParleyConfiguration.load()
    var logger = Logger(label: "parley")
    logger.logLevel = config.logLevel
    if config.mode == .development && config.jwtSecret == ParleyConfiguration.developmentSecret {
        logger.warning("JWT_SECRET is not set: using the development secret. Set it before exposing this server.")
    }
    let server = try await buildServer(config, logger: logger)
    logger.info("parley listening on http://\(config.host):\(config.port) (database \(config.mongoDatabase))")
    try await server.run()
} catch {
    FileHandle.standardError.write(Data("parley: \(error)\n".utf8))
    exit(1)
}
