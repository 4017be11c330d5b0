import ArgumentParser
import Foundation
import ParleyCore

/// `parleyctl migrate [--status]`.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending migrations from MIGRATIONS_DIR, in order.",
        discussion: "With --status, list applied and pending migrations and change nothing."
    )

    @Flag(help: "List applied and pending migrations without applying any.")
    var status = false

    func run() async throws {
        try await CtlContext.run(migrating: true) { config, db in
            let runner = MigrationRunner(database: db, migrations: try Migration.load(directory: config.migrationsDirectory))
            if status {
                let s = try await runner.status()
                for e in s.entries {
                    let state = e.appliedAt.map { "applied  \($0.formatted(.iso8601))" } ?? "pending"
                    print("\(e.id)  \(state)\(e.modified ? "  (file changed since applied)" : "")")
                }
                for id in s.unknownApplied { print("\(id)  applied  (no file here: the database is newer than this code)") }
                print("\(s.entries.count - s.pending.count) applied, \(s.pending.count) pending")
            } else {
                let applied = try await runner.apply()
                if applied.isEmpty {
                    print("nothing to apply: the database is up to date")
                } else {
                    for id in applied { print("applied \(id)") }
                }
            }
        }
    }
}
