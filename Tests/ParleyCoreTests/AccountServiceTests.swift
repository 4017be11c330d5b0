import Mongo
import ParleyCore
import TestSupport
import Testing

@Suite("Accounts")
struct AccountServiceTests {
    static func service(_ db: MongoDatabase) async throws -> AccountService {
        try await MigrationRunner(database: db, migrations: try Migration.load(directory: RepoPaths.migrations)).apply()
        return AccountService(users: MongoUserRepository(database: db), hasher: PasswordHasher(cost: 4))
    }

    @Test("create stores a bcrypt hash, never the password, and finds users case-insensitively")
    func create() async throws {
        try await TestDatabase.with { db in
            let accounts = try await Self.service(db)
            let u = try await accounts.createUser(username: "Alice.B", password: "correct horse", role: .admin)
            #expect(u.passwordHash.hasPrefix("$2") && !u.passwordHash.contains("correct horse"))
            let found = try #require(try await accounts.users.find(username: "alice.b"))
            #expect(found.id == u.id && found.role == .admin && found.displayName == "Alice.B")
            #expect(try await accounts.hasher.verify("correct horse", against: found.passwordHash))
            #expect(!(try await accounts.hasher.verify("wrong horse!", against: found.passwordHash)))
            #expect(try await accounts.users.find(id: u.id)?.username == "Alice.B")
        }
    }

    @Test("usernames are unique whatever their case")
    func uniqueness() async throws {
        try await TestDatabase.with { db in
            let accounts = try await Self.service(db)
            _ = try await accounts.createUser(username: "bob", password: "password1")
            await #expect(throws: ParleyError(.conflict, "username \"BOB\" is taken")) {
                _ = try await accounts.createUser(username: "BOB", password: "password1")
            }
        }
    }

    @Test("usernames, passwords and display names follow the contract's limits", arguments: [
        ("ab", "password1", nil), (String(repeating: "a", count: 33), "password1", nil), ("bad name", "password1", nil),
        ("ünïcode", "password1", nil), ("ok_name", "short", nil), ("ok_name", String(repeating: "p", count: 129), nil),
        ("ok_name", "password1", "   "), ("{\"$gt\":\"\"}", "password1", nil),
    ] as [(String, String, String?)])
    func limits(username: String, password: String, displayName: String?) async throws {
        try await TestDatabase.with { db in
            let accounts = try await Self.service(db)
            do {
                _ = try await accounts.createUser(username: username, password: password, displayName: displayName)
                Issue.record("accepted \(username)")
            } catch let e as ParleyError {
                #expect(e.code == .badRequest)
            }
            #expect(try await db.collection("users").countDocuments() == 0)
        }
    }

    @Test("disable, enable and set-password; unknown users are not_found")
    func administer() async throws {
        try await TestDatabase.with { db in
            let accounts = try await Self.service(db)
            let u = try await accounts.createUser(username: "carol", password: "password1")
            try await accounts.setDisabled(username: "CAROL", true)
            let disabled = try #require(try await accounts.users.find(id: u.id))
            #expect(disabled.disabled && disabled.tokensValidAfter != nil)
            try await accounts.setDisabled(username: "carol", false)
            #expect(try await accounts.users.find(id: u.id)?.disabled == false)
            try await accounts.setPassword(username: "carol", password: "new password")
            let changed = try #require(try await accounts.users.find(id: u.id))
            #expect(try await accounts.hasher.verify("new password", against: changed.passwordHash))
            await #expect(throws: ParleyError.self) { try await accounts.setDisabled(username: "nobody", true) }
            await #expect(throws: ParleyError.self) { try await accounts.setPassword(username: "nobody", password: "password1") }
            let listed = try await accounts.users.list(limit: 10, skip: 0)
            #expect(listed.map(\.username) == ["carol"])
        }
    }
}
