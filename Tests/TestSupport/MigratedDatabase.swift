import Mongo
import ParleyCore

/// A test database with every migration applied, the repositories over it, and
/// accounts with a fast password hash: the setup the tests on the real database share.
public struct MigratedDatabase {
    public let repos: ParleyRepositories
    public let accounts: AccountService

    public init(_ db: MongoDatabase) async throws {
        try await MigrationRunner(database: db, migrations: try Migration.load(directory: RepoPaths.migrations)).apply()
        repos = .mongo(db)
        accounts = AccountService(users: repos.users, hasher: PasswordHasher(cost: 4))
    }

    /// A new user with the tests' password.
    public func user(_ name: String) async throws -> UserRecord {
        try await accounts.createUser(username: name, password: "password123")
    }
}
