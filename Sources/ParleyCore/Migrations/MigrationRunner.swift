import Foundation
import Logging
import Mongo

/// Applies migrations in order and records each in `_migrations`
/// (`{_id: version, name, checksum, appliedAt, durationMs}`).
public struct MigrationRunner: Sendable {
    /// One migration's state in a database.
    public struct Entry: Sendable {
        public let version: Int
        public let id: String
        public let description: String
        /// When it was applied; nil while pending.
        public let appliedAt: Date?
        /// True when the file changed after it was applied.
        public let modified: Bool
    }

    /// What `status()` found: every known migration, plus versions recorded in the
    /// database whose files are gone (a database newer than this code).
    public struct Status: Sendable {
        public let entries: [Entry]
        public let unknownApplied: [String]
        public var pending: [Entry] { entries.filter { $0.appliedAt == nil } }
    }

    struct Record: Codable, Sendable {
        var id: Int
        var name: String
        var checksum: String
        var appliedAt: Date
        var durationMs: Int
        enum CodingKeys: String, CodingKey { case id = "_id", name, checksum, appliedAt, durationMs }
    }

    public let database: MongoDatabase
    public let migrations: [Migration]
    public let logger: Logger

    public init(database: MongoDatabase, migrations: [Migration], logger: Logger = Logger(label: "parley.migrations")) {
        self.database = database
        self.migrations = migrations
        self.logger = logger
    }

    private var records: MongoCollection<Record> { database.collection("_migrations", withType: Record.self) }

    /// Applied and pending migrations, in version order.
    public func status() async throws -> Status {
        let applied = try await records.find([:], options: FindOptions(sort: ["_id": 1])).toArray()
        let byVersion = Dictionary(applied.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let entries = migrations.map { m in
            let r = byVersion[m.version]
            return Entry(version: m.version, id: m.id, description: m.description, appliedAt: r?.appliedAt, modified: r.map { $0.checksum != m.checksum } ?? false)
        }
        let known = Set(migrations.map(\.version))
        let unknown = applied.filter { !known.contains($0.id) }.map { String(format: "%04d_%@", $0.id, $0.name) }
        return Status(entries: entries, unknownApplied: unknown)
    }

    /// Applies every pending migration in order and returns the ids applied. Safe to
    /// run again (nothing to do) and from two processes at once (steps are idempotent;
    /// the second record insert is ignored).
    @discardableResult
    public func apply() async throws -> [String] {
        let status = try await status()
        var applied: [String] = []
        for entry in status.pending {
            let migration = migrations.first { $0.version == entry.version }!
            let started = Date()
            for step in migration.steps {
                try await run(step, of: migration)
            }
            let ms = Int(Date().timeIntervalSince(started) * 1000)
            do {
                try await records.insertOne(Record(id: migration.version, name: migration.name, checksum: migration.checksum, appliedAt: Date(), durationMs: ms))
            } catch let e as MongoError where e.code == .duplicateKey {
                logger.info("migration \(migration.id) was recorded by another process meanwhile")
            }
            logger.info("applied migration \(migration.id) in \(ms) ms")
            applied.append(migration.id)
        }
        return applied
    }

    /// Runs one step. `create` of an existing collection applies its validator with
    /// `collMod` instead, so a collection made implicitly before still gets it.
    private func run(_ step: BSONDocument, of migration: Migration) async throws {
        do {
            try await database.runCommand(step)
        } catch let e as MongoError where e.serverCode == 48 && step.elements.first?.key == "create" {
            if let validator = step["validator"], let name = step["create"] {
                try await database.runCommand(["collMod": name, "validator": validator])
            }
        } catch let e as MongoError {
            throw MigrationError("migration \(migration.id) failed at step \(step.elements.first?.key ?? "?"): \(e)")
        }
    }
}
