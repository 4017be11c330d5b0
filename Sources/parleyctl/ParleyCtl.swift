import ArgumentParser
import Foundation
import Mongo
import ParleyCore

/// `parleyctl`: the admin CLI. Every command reads the same configuration as the
/// server (environment, then `.env`), so it talks to the same database.
@main
struct ParleyCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parleyctl",
        abstract: "Administer a Parley deployment: users, rooms and migrations.",
        discussion: """
            Reads MONGODB_URI, MONGODB_DATABASE and the other settings from the environment and .env.
            Exit status: 0 success, 1 refused (taken username, unknown user or room, a rule of the room, failed migration),
            65 bad input, 69 database unreachable, 64 usage error.
            """,
        subcommands: [UserCommand.self, RoomCommand.self, UploadsCommand.self, SearchCommand.self, MigrateCommand.self]
    )
}

/// Exit codes of `parleyctl` (from sysexits where one fits).
enum CtlExit {
    static let refused = ExitCode(1)
    static let badInput = ExitCode(65)
    static let unavailable = ExitCode(69)
}

/// Opens the configured database for one command and closes it after, turning every
/// failure into a one-line message on stderr and the matching exit code.
enum CtlContext {
    /// `migrating`: the client gets the migrations' long deadline instead of a request's.
    static func run(migrating: Bool = false, _ body: (ParleyConfiguration, MongoDatabase) async throws -> Void) async throws {
        let config: ParleyConfiguration
        do {
            config = try ParleyConfiguration.load()
        } catch {
            fail("\(error)", CtlExit.badInput)
        }
        let client: MongoClient
        do {
            client = try MongoClient(configuration: migrating ? config.migrationMongo : config.mongo)
        } catch {
            fail("\(error)", CtlExit.badInput)
        }
        let db = client.database(config.mongoDatabase)
        do {
            try await body(config, db)
            try? await client.shutdown()
        } catch {
            try? await client.shutdown()
            if let e = error as? ExitCode { throw e }
            if let e = error as? MongoError, e.isTransient {
                fail("cannot reach MongoDB at \(config.mongoURI): \(e.message)", CtlExit.unavailable)
            }
            if let e = error as? MigrationError { fail(e.description, CtlExit.refused) }
            let p = ParleyError.from(error)
            switch p.code {
            case .badRequest: fail(p.message, CtlExit.badInput)
            case .unavailable: fail(p.message, CtlExit.unavailable)
            case .internal: fail("\(error)", CtlExit.refused)
            default: fail(p.message, CtlExit.refused)
            }
        }
    }

    /// Refuses bad input (exit 65) before the database is opened: the answer to a short
    /// password must not depend on whether, or how quickly, the database answers.
    static func checkInput(_ check: () throws -> Void) {
        do {
            try check()
        } catch {
            fail(ParleyError.from(error).message, CtlExit.badInput)
        }
    }

    static func fail(_ message: String, _ code: ExitCode) -> Never {
        FileHandle.standardError.write(Data("parleyctl: error: \(message)\n".utf8))
        Foundation.exit(code.rawValue)
    }

    /// Refuses to touch users before the schema (unique indexes above all) exists.
    static func requireMigrated(_ config: ParleyConfiguration, _ db: MongoDatabase) async throws {
        let runner = MigrationRunner(database: db, migrations: try Migration.load(directory: config.migrationsDirectory))
        let pending = try await runner.status().pending
        if !pending.isEmpty {
            fail("the database has pending migrations (\(pending.map(\.id).joined(separator: ", "))); run: parleyctl migrate", CtlExit.refused)
        }
    }

    static func accounts(_ config: ParleyConfiguration, _ db: MongoDatabase) -> AccountService {
        AccountService(users: MongoUserRepository(database: db), hasher: PasswordHasher(cost: config.bcryptCost))
    }
}
