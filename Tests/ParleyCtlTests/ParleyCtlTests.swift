import Foundation
import Mongo
import ParleyCore
import TestSupport
import Testing

/// Runs the built `parleyctl` as a subprocess, as an operator would.
struct Ctl {
    let database: String
    var uri = TestDatabase.uri
    /// Only the test of an unreachable database shortens this: with all suites running
    /// on two cores, a reachable database can take longer than 500 ms to be selected.
    var serverSelectionTimeoutMS: Int? = nil

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static var binary: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("parleyctl").path,
            RepoPaths.root + "/.build/debug/parleyctl",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }

    /// Runs parleyctl and waits for it on a Dispatch thread, not the test's: the reads
    /// and the wait block, and a blocked cooperative thread (two on this machine)
    /// stalls every other test running beside this one.
    func run(_ args: String..., stdin: String? = nil) async throws -> Result {
        let args = args
        return try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async { c.resume(with: Swift.Result { try self.runBlocking(args, stdin: stdin) }) }
        }
    }

    /// Runs parleyctl and expects `status`; a wrong one records the command and its
    /// stderr, so a failure on CI says why.
    @discardableResult
    func expect(_ status: Int32, _ args: String..., stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Result {
        let r = try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async { c.resume(with: Swift.Result { try self.runBlocking(args, stdin: stdin) }) }
        }
        #expect(r.status == status, "parleyctl \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
        return r
    }

    private func runBlocking(_ args: [String], stdin: String?) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Ctl.binary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["MONGODB_URI"] = uri
        env["MONGODB_DATABASE"] = database
        env["MIGRATIONS_DIR"] = RepoPaths.migrations
        env["BCRYPT_COST"] = "4"
        if let serverSelectionTimeoutMS { env["MONGO_SERVER_SELECTION_TIMEOUT_MS"] = String(serverSelectionTimeoutMS) }
        p.environment = env
        p.currentDirectoryURL = FileManager.default.temporaryDirectory
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite("parleyctl as a subprocess")
struct ParleyCtlTests {
    @Test("migrate applies pending migrations once; --status lists applied and pending")
    func migrate() async throws {
        try await TestDatabase.with { db in
            let ctl = Ctl(database: db.name)
            let before = try await ctl.run("migrate", "--status")
            #expect(before.status == 0)
            #expect(before.stdout.contains("0001_collections_and_validators  pending"))
            let count = try Migration.load(directory: RepoPaths.migrations).count
            #expect(before.stdout.contains("0 applied, \(count) pending"))
            let first = try await ctl.run("migrate")
            #expect(first.status == 0 && first.stdout.contains("applied 0002_core_indexes") && first.stdout.contains("applied 0003_cluster"))
            let again = try await ctl.run("migrate")
            #expect(again.status == 0 && again.stdout.contains("up to date"))
            let after = try await ctl.run("migrate", "--status")
            #expect(after.stdout.contains("\(count) applied, 0 pending"))
            #expect(try await db.collection("_migrations").countDocuments() == count)
        }
    }

    @Test("user create, list, disable, enable and set-password")
    func users() async throws {
        try await TestDatabase.with { db in
            let ctl = Ctl(database: db.name)
            #expect(try await ctl.run("migrate").status == 0)
            let created = try await ctl.run("user", "create", "admin1", "--role", "admin", "--display-name", "The Admin", "--password-stdin", stdin: "s3cret-pass\n")
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.contains("created admin admin1"))
            let stored = try #require(try await db.collection("users").findOne(["usernameLower": "admin1"]))
            #expect(stored["role"] == "admin" && stored["displayName"] == "The Admin")
            #expect(stored["passwordHash"]?.stringValue?.hasPrefix("$2") == true)

            let list = try await ctl.run("user", "list", "--json")
            #expect(list.status == 0)
            let rows = list.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(rows.count == 1 && rows[0]?["username"] as? String == "admin1" && rows[0]?["passwordHash"] == nil)
            #expect(try await ctl.run("user", "list").stdout.contains("admin1"))

            #expect(try await ctl.run("user", "disable", "ADMIN1").status == 0)
            #expect(try await db.collection("users").findOne(["usernameLower": "admin1"])?["disabled"] == true)
            #expect(try await ctl.run("user", "enable", "admin1").status == 0)
            #expect(try await db.collection("users").findOne(["usernameLower": "admin1"])?["disabled"] == false)

            let oldHash = stored["passwordHash"]
            #expect(try await ctl.run("user", "set-password", "admin1", "--password-stdin", stdin: "another-pass\n").status == 0)
            #expect(try await db.collection("users").findOne(["usernameLower": "admin1"])?["passwordHash"] != oldHash)
        }
    }

    @Test("clear errors and non-zero exits: taken username, bad input, unknown user, no terminal, pending migrations")
    func errors() async throws {
        try await TestDatabase.with { db in
            let ctl = Ctl(database: db.name)
            let early = try await ctl.run("user", "create", "dave", "--password-stdin", stdin: "password1\n")
            #expect(early.status == 1 && early.stderr.contains("parleyctl migrate"))
            #expect(try await ctl.run("migrate").status == 0)
            #expect(try await ctl.run("user", "create", "dave", "--password-stdin", stdin: "password1\n").status == 0)

            let taken = try await ctl.run("user", "create", "DAVE", "--password-stdin", stdin: "password1\n")
            #expect(taken.status == 1 && taken.stderr.contains("taken"), "\(taken.stderr)")
            let shortPassword = try await ctl.run("user", "create", "erin", "--password-stdin", stdin: "short\n")
            #expect(shortPassword.status == 65 && shortPassword.stderr.contains("password"), "\(shortPassword.stderr)")
            let badName = try await ctl.run("user", "create", "no way", "--password-stdin", stdin: "password1\n")
            #expect(badName.status == 65 && badName.stderr.contains("username"), "\(badName.stderr)")
            let badRole = try await ctl.run("user", "create", "erin", "--role", "root", "--password-stdin", stdin: "password1\n")
            #expect(badRole.status == 65)
            let noTTY = try await ctl.run("user", "create", "erin")
            #expect(noTTY.status == 65 && noTTY.stderr.contains("--password-stdin"))
            let unknown = try await ctl.run("user", "disable", "nobody")
            #expect(unknown.status == 1 && unknown.stderr.contains("nobody"))
            #expect(try await ctl.run("user", "frobnicate").status != 0)
            #expect(try await db.collection("users").countDocuments() == 1)
        }
    }

    @Test("an unreachable database exits 69 with the URI in the message; bad input is still 65")
    func unreachable() async throws {
        let ctl = Ctl(database: "unreachable", uri: "mongodb://127.0.0.1:1", serverSelectionTimeoutMS: 500)
        let r = try await ctl.run("user", "list")
        #expect(r.status == 69)
        #expect(r.stderr.contains("cannot reach MongoDB at mongodb://127.0.0.1:1"))
        #expect(try await ctl.run("migrate").status == 69)
        // Bad input is answered before the database is opened, so it is 65 even now.
        let short = try await ctl.run("user", "create", "erin", "--password-stdin", stdin: "short\n")
        #expect(short.status == 65 && short.stderr.contains("password"), "\(short.stderr)")
        let badName = try await ctl.run("user", "create", "no way", "--password-stdin", stdin: "password1\n")
        #expect(badName.status == 65 && badName.stderr.contains("username"), "\(badName.stderr)")
        let setShort = try await ctl.run("user", "set-password", "erin", "--password-stdin", stdin: "short\n")
        #expect(setShort.status == 65, "\(setShort.stderr)")
    }

    @Test("room list, show, create, add, role, remove, archive and delete; the same exit codes; and the nodes are told of each change")
    func rooms() async throws {
        try await TestDatabase.with { db in
            let ctl = Ctl(database: db.name)
            try await ctl.expect(0, "migrate")
            for name in ["olga", "pete", "quin"] {
                try await ctl.expect(0, "user", "create", name, "--password-stdin", stdin: "password123\n")
            }
            let created = try await ctl.run("room", "create", "Ops", "--owner", "olga", "--private", "--member", "pete", "--topic", "on call")
            #expect(created.status == 0, "\(created.stderr)")
            let id = try #require(created.stdout.components(separatedBy: "(id ").last?.prefix(24)).description
            let list = try await ctl.run("room", "list")
            #expect(list.status == 0 && list.stdout.contains(id) && list.stdout.contains("private") && list.stdout.contains("Ops"))
            #expect(try await ctl.run("room", "list", "--json").stdout.contains(#""id":"\#(id)""#))
            try await ctl.expect(0, "room", "add", id, "quin", "--role", "moderator")
            try await ctl.expect(0, "room", "role", id, "pete", "owner")
            let shown = try await ctl.run("room", "show", id)
            #expect(shown.stdout.contains("owner      olga") && shown.stdout.contains("owner      pete") && shown.stdout.contains("moderator  quin"))
            #expect(shown.stdout.contains("3 member(s), 2 owner(s)"))
            // The rules hold for the administrator too: a room keeps an owner.
            try await ctl.expect(0, "room", "role", id, "olga", "member")
            let last = try await ctl.run("room", "role", id, "pete", "member")
            #expect(last.status == 1 && last.stderr.contains("at least one owner"))
            try await ctl.expect(0, "room", "remove", id, "quin", "--reason", "rotation")
            try await ctl.expect(1, "room", "remove", id, "quin")
            try await ctl.expect(1, "room", "add", id, "nobody")
            try await ctl.expect(65, "room", "add", id, "quin", "--role", "king")
            try await ctl.expect(65, "room", "show", "not-an-id")
            #expect(try await ctl.run("room", "show", ObjectId().hex).status == 1)
            try await ctl.expect(0, "room", "archive", id)
            #expect(try await ctl.run("room", "show", id).stdout.contains("archived"))
            try await ctl.expect(0, "room", "archive", id, "--undo")
            // Each change was written as a one-shot signal batch for the running nodes.
            let batches = try await db.collection("signals").find([:]).toArray()
            let kinds = batches.flatMap { $0["signals"]?.arrayValue ?? [] }.compactMap { $0.documentValue?["kind"]?.stringValue }
            #expect(batches.allSatisfy { $0["node"]?.stringValue?.hasPrefix(SignalBatch.oneShotPrefix) == true })
            #expect(kinds.contains("unsubscribe") && kinds.contains("user") && kinds.contains("gate") && kinds.contains("subscribe"))
            try await ctl.expect(0, "room", "delete", id)
            #expect(try await db.collection("rooms").countDocuments(["_id": .objectId(ObjectId(id)!)]) == 0)
            #expect(try await db.collection("memberships").countDocuments(["roomId": .objectId(ObjectId(id)!)]) == 0)
        }
    }

    @Test("user delete: memberships go, a room left without owner gets its longest-standing member, messages stay under an anonymous name")
    func userDelete() async throws {
        try await TestDatabase.with { db in
            let ctl = Ctl(database: db.name)
            #expect(try await ctl.run("migrate").status == 0)
            for name in ["olga", "pete", "quin"] {
                #expect(try await ctl.run("user", "create", name, "--password-stdin", stdin: "password123\n").status == 0)
            }
            let created = try await ctl.run("room", "create", "Ops", "--owner", "olga", "--member", "pete", "--member", "quin")
            let id = try #require(created.stdout.components(separatedBy: "(id ").last?.prefix(24)).description
            let repos = ParleyRepositories.mongo(db)
            let olga = try #require(try await repos.users.find(username: "olga"))
            try await repos.messages.insert([MessageRecord(roomId: ObjectId(id)!, seq: 1, senderId: olga.id, senderName: "olga", text: "hello", clientId: "c1")])
            let deleted = try await ctl.run("user", "delete", "olga")
            #expect(deleted.status == 0, "\(deleted.stderr)")
            #expect(deleted.stdout.contains("left 1 room(s), 1 message(s)"))
            #expect(try await repos.users.find(username: "olga") == nil)
            let room = try #require(try await repos.rooms.find(id: ObjectId(id)!))
            #expect(room.memberCount == 2 && room.ownerCount == 1)
            let owners = try await repos.memberships.forRoom(room.id, limit: 10).filter { $0.roomRole == .owner }
            #expect(owners.count == 1)
            #expect(try await repos.messages.find(senderId: olga.id, clientId: "c1")?.senderName == UserDeletion.anonymousName)
            #expect(try await ctl.run("user", "delete", "olga").status == 1)
            // The name is free again.
            #expect(try await ctl.run("user", "create", "olga", "--password-stdin", stdin: "password123\n").status == 0)
        }
    }

    @Test("uploads stats and purge-orphans: counts and bytes, orphans deleted with their GridFS file, attached ones kept; room delete takes its files")
    func uploads() async throws {
        try await TestDatabase.with { db in
            let ctl = Ctl(database: db.name)
            #expect(try await ctl.run("migrate").status == 0)
            #expect(try await ctl.run("user", "create", "uma", "--password-stdin", stdin: "password123\n").status == 0)
            let created = try await ctl.run("room", "create", "Files", "--owner", "uma")
            let idText = try #require(created.stdout.components(separatedBy: "(id ").last?.prefix(24)).description
            let roomId = try #require(ObjectId(idText))
            let repos = ParleyRepositories.mongo(db)
            let uma = try #require(try await repos.users.find(username: "uma"))
            let service = UploadService(
                records: db, bucket: GridFSBucket(database: db), memberships: repos.memberships,
                limits: .init(maxBytes: 1_000_000, quotaBytes: 10_000_000, types: ["text/plain"], orphanSeconds: 86_400, concurrency: 4))
            func store(_ n: Int) async throws -> UploadRecord {
                var sent = false
                return try await service.store(name: "f\(n).txt", declaredType: nil, declaredLength: nil, owner: uma) {
                    defer { sent = true }
                    return sent ? nil : [UInt8](repeating: UInt8(ascii: "a"), count: n)
                }
            }
            let kept = try await store(300), orphan = try await store(500)
            try await repos.uploads(db).attach([kept.id], messageId: ObjectId(), roomId: roomId)
            let stats = try await ctl.run("uploads", "stats", "--json")
            #expect(stats.status == 0, "\(stats.stderr)")
            let figures = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Int]
            #expect(figures == ["count": 2, "bytes": 800, "orphans": 1, "orphanBytes": 500])
            // Not old enough for the default age; at once with --older-than 0.
            #expect(try await ctl.run("uploads", "purge-orphans").stdout.contains("deleted 0 orphan upload(s)"))
            let purged = try await ctl.run("uploads", "purge-orphans", "--older-than", "0")
            #expect(purged.status == 0 && purged.stdout.contains("deleted 1 orphan upload(s), 500 bytes"), "\(purged.stdout) \(purged.stderr)")
            #expect(try await db.collection("fs.files").countDocuments() == 1)
            #expect(try await service.repository.find(id: orphan.id) == nil)
            #expect(try await service.repository.find(id: kept.id) != nil)
            #expect(try await ctl.run("uploads", "purge-orphans", "--older-than", "-1").status != 0)
            // Deleting the room deletes the files its messages carried.
            #expect(try await ctl.run("room", "delete", roomId.hex).status == 0)
            #expect(try await db.collection("fs.files").countDocuments() == 0)
            #expect(try await db.collection("uploads").countDocuments() == 0)
        }
    }
}

extension ParleyRepositories {
    /// The upload records of `db` (uploads keep their own repository, beside the bucket).
    func uploads(_ db: MongoDatabase) -> UploadRepository { UploadRepository(database: db) }
}
