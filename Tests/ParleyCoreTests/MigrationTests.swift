import Foundation
import Mongo
import ParleyCore
import TestSupport
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test("the repository's migrations load in version order")
    func load() throws {
        let ms = try Migration.load(directory: RepoPaths.migrations)
        #expect(ms.count >= 2)
        #expect(ms.map(\.version) == ms.map(\.version).sorted())
        #expect(ms.first?.id == "0001_collections_and_validators")
    }

    @Test("apply is ordered, recorded, idempotent, and status tells applied from pending")
    func applyAndStatus() async throws {
        try await TestDatabase.with { db in
            let all = try Migration.load(directory: RepoPaths.migrations)
            // First only the first migration exists in "this code".
            let early = MigrationRunner(database: db, migrations: Array(all.prefix(1)))
            #expect(try await early.status().pending.count == 1)
            #expect(try await early.apply() == [all[0].id])

            let runner = MigrationRunner(database: db, migrations: all)
            let before = try await runner.status()
            #expect(before.entries.first?.appliedAt != nil)
            #expect(before.pending.map(\.id) == all.dropFirst().map(\.id))
            #expect(try await runner.apply() == all.dropFirst().map(\.id))
            #expect(try await runner.apply().isEmpty)
            let after = try await runner.status()
            #expect(after.pending.isEmpty && after.unknownApplied.isEmpty)
            #expect(after.entries.allSatisfy { !$0.modified })

            // The indexes of the data model exist and hold.
            let users = db.collection("users")
            let indexNames = try await users.listIndexes().compactMap { $0["name"]?.stringValue }
            #expect(indexNames.contains("usernameLower_unique"))
            let messageIndexes = try await db.collection("messages").listIndexes().compactMap { $0["name"]?.stringValue }
            #expect(messageIndexes.contains("roomId_seq_unique") && messageIndexes.contains("senderId_clientId_unique"))
            // The validator refuses a user without a password hash.
            await #expect(throws: MongoError.self) { try await users.insertOne(["username": "abc", "usernameLower": "abc"]) }

            // An older binary sees the newer migration as unknown.
            let unknown = try await early.status().unknownApplied
            #expect(unknown == all.dropFirst().map(\.id))
        }
    }

    @Test("two runners at once converge without error")
    func concurrentApply() async throws {
        try await TestDatabase.with { db in
            let all = try Migration.load(directory: RepoPaths.migrations)
            async let a = MigrationRunner(database: db, migrations: all).apply()
            async let b = MigrationRunner(database: db, migrations: all).apply()
            _ = try await (a, b)
            #expect(try await MigrationRunner(database: db, migrations: all).status().pending.isEmpty)
            #expect(try await db.collection("_migrations").countDocuments() == all.count)
        }
    }

    @Test("a file edited after it was applied is reported as modified")
    func modified() async throws {
        try await TestDatabase.with { db in
            let original = try Migration(fileName: "0001_x.json", contents: #"{"steps": [{"create": "x"}]}"#)
            try await MigrationRunner(database: db, migrations: [original]).apply()
            let edited = try Migration(fileName: "0001_x.json", contents: #"{"steps": [{"create": "x"}, {"create": "y"}]}"#)
            let status = try await MigrationRunner(database: db, migrations: [edited]).status()
            #expect(status.entries.first?.modified == true)
            #expect(status.pending.isEmpty)
        }
    }

    @Test("a failing step stops the run and leaves the migration pending")
    func failingStep() async throws {
        try await TestDatabase.with { db in
            let bad = try Migration(fileName: "0001_bad.json", contents: #"{"steps": [{"create": "ok"}, {"noSuchCommand": 1}]}"#)
            let runner = MigrationRunner(database: db, migrations: [bad])
            await #expect(throws: MigrationError.self) { try await runner.apply() }
            #expect(try await runner.status().pending.count == 1)
        }
    }

    @Test("malformed files are refused with the file named", arguments: [
        ("1_short.json", #"{"steps": [{"ping": 1}]}"#),
        ("0001_x.json", "{not json"),
        ("0001_x.json", #"{"steps": []}"#),
        ("0001_x.json", #"{"steps": [1]}"#),
        ("0001_x.json", #"{"description": "no steps"}"#),
    ])
    func malformed(fileName: String, contents: String) {
        #expect(throws: MigrationError.self) { try Migration(fileName: fileName, contents: contents) }
    }

    @Test("two files with one version are refused")
    func duplicateVersions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mig-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"steps": [{"ping": 1}]}"#.write(toFile: dir + "/0001_a.json", atomically: true, encoding: .utf8)
        try #"{"steps": [{"ping": 1}]}"#.write(toFile: dir + "/0001_b.json", atomically: true, encoding: .utf8)
        #expect(throws: MigrationError.self) { try Migration.load(directory: dir) }
        #expect(throws: MigrationError.self) { try Migration.load(directory: dir + "/missing") }
    }
}
