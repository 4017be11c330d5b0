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

    @Test("0004 upgrades a database filled by the previous version: roles, owner counts and defaults, nothing lost, and again is a no-op")
    func roomsAndMembersUpgrade() async throws {
        try await TestDatabase.with { db in
            let all = try Migration.load(directory: RepoPaths.migrations)
            let previous = all.filter { $0.version < 4 }
            try await MigrationRunner(database: db, migrations: previous).apply()
            // Documents as the previous version wrote them: no role, no owner count.
            let creator = ObjectId(), early = ObjectId(), late = ObjectId(), other = ObjectId()
            let group = ObjectId(), orphaned = ObjectId(), event = ObjectId(), direct = ObjectId()
            let t0 = Date(timeIntervalSince1970: 1_700_000_000)
            func room(_ id: ObjectId, _ kind: String, by: ObjectId, members: Int) -> BSONDocument {
                var d: BSONDocument = [
                    "_id": .objectId(id), "name": .string("r-\(kind)"), "kind": .string(kind), "private": .bool(kind == "direct"),
                    "createdBy": .objectId(by), "createdAt": .date(t0), "memberCount": .int64(Int64(members)), "lastSeq": .int64(3),
                ]
                if kind == "direct" { d["directKey"] = .string(RoomRecord.directKey(creator, other)) }
                return d
            }
            try await db.collection("rooms").insertMany([
                room(group, "group", by: creator, members: 2), room(orphaned, "group", by: creator, members: 2),
                room(event, "event", by: creator, members: 1), room(direct, "direct", by: creator, members: 2),
            ])
            func member(_ r: ObjectId, _ u: ObjectId, joined: TimeInterval) -> BSONDocument {
                ["_id": .objectId(ObjectId()), "roomId": .objectId(r), "userId": .objectId(u), "deliveredSeq": .int64(2), "readSeq": .int64(1),
                 "joinedAt": .date(t0.addingTimeInterval(joined))]
            }
            try await db.collection("memberships").insertMany([
                member(group, creator, joined: 0), member(group, early, joined: 5),
                // The creator left this one: its longest-standing member becomes owner.
                member(orphaned, late, joined: 9), member(orphaned, early, joined: 4),
                member(event, creator, joined: 0),
                member(direct, creator, joined: 0), member(direct, other, joined: 0),
            ])
            try await db.collection("messages").insertMany((1...3).map { seq in
                ["_id": .objectId(ObjectId()), "roomId": .objectId(group), "seq": .int64(Int64(seq)), "senderId": .objectId(creator),
                 "senderName": "c", "text": .string("m\(seq)"), "clientId": .string("c\(seq)"), "createdAt": .date(t0)]
            })
            let messagesBefore = try await db.collection("messages").find([:], options: FindOptions(sort: ["seq": 1])).toArray()

            #expect(try await MigrationRunner(database: db, migrations: all).apply() == all.filter { $0.version >= 4 }.map(\.id))

            let repos = ParleyRepositories.mongo(db)
            func role(_ r: ObjectId, _ u: ObjectId) async throws -> RoomRole? { try await repos.memberships.find(roomId: r, userId: u)?.role }
            let expected: [(ObjectId, ObjectId, RoomRole)] = [
                (group, creator, .owner), (group, early, .member), (orphaned, early, .owner), (orphaned, late, .member),
                (event, creator, .owner), (direct, creator, .member), (direct, other, .member),
            ]
            for (r, u, want) in expected {
                let got = try await role(r, u)
                #expect(got == want, "room \(r.hex) user \(u.hex)")
            }
            let rooms = Dictionary(uniqueKeysWithValues: try await repos.rooms.find(ids: [group, orphaned, event, direct]).map { ($0.id, $0) })
            #expect(rooms[group]?.ownerCount == 1 && rooms[orphaned]?.ownerCount == 1 && rooms[event]?.ownerCount == 1 && rooms[direct]?.ownerCount == 0)
            #expect(rooms.values.allSatisfy { $0.archived == false && $0.lastSeq == 3 })
            #expect(rooms[event]?.guestAccess == false && rooms[group]?.guestAccess == nil)
            // Nothing else changed: cursors, counts and messages as they were.
            let cursors = try await db.collection("memberships").find([:]).toArray()
            #expect(cursors.count == 7 && cursors.allSatisfy { $0["deliveredSeq"]?.int64Value == 2 && $0["readSeq"]?.int64Value == 1 })
            #expect(try await db.collection("messages").find([:], options: FindOptions(sort: ["seq": 1])).toArray() == messagesBefore)
            for name in ["bans", "invites", "audit"] {
                let indexes = try await db.collection(name).listIndexes().compactMap { $0["name"]?.stringValue }
                #expect(indexes.count >= 3, "\(name): \(indexes)")
            }
            // The steps again (a run interrupted and restarted) change nothing.
            let m4 = try #require(all.first { $0.version == 4 })
            try await db.collection("_migrations").deleteOne(["_id": .int64(4)])
            try await MigrationRunner(database: db, migrations: all).apply()
            for (r, u, want) in expected {
                let got = try await role(r, u)
                #expect(got == want, "again: room \(r.hex) user \(u.hex)")
            }
            #expect(try await repos.rooms.find(id: group)?.ownerCount == 1)
            #expect(m4.steps.count > 5)
        }
    }

    @Test("0005 upgrades a database filled by the previous version: old messages edit, react and delete; nothing lost")
    func messageFeaturesUpgrade() async throws {
        try await TestDatabase.with { db in
            let all = try Migration.load(directory: RepoPaths.migrations)
            try await MigrationRunner(database: db, migrations: all.filter { $0.version < 5 }).apply()
            let room = ObjectId(), sender = ObjectId()
            try await db.collection("rooms").insertOne([
                "_id": .objectId(room), "name": "old", "kind": "group", "private": false, "createdBy": .objectId(sender), "createdAt": .date(Date()),
                "memberCount": 1, "lastSeq": 2, "ownerCount": 1, "archived": false,
            ])
            // As the previous version stored them: no rev, no words, no useq.
            let old: [BSONDocument] = (1...2).map { seq in
                ["_id": .objectId(ObjectId()), "roomId": .objectId(room), "seq": .int64(Int64(seq)), "senderId": .objectId(sender), "senderName": "s",
                 "text": .string("old message \(seq)"), "clientId": .string("c\(seq)"), "createdAt": .date(Date())]
            }
            try await db.collection("messages").insertMany(old)
            // Before 0005 an empty text is refused by the validator.
            await #expect(throws: MongoError.self) {
                try await db.collection("messages").insertOne(
                    ["roomId": .objectId(room), "seq": 3, "senderId": .objectId(sender), "text": "", "clientId": "c3", "createdAt": .date(Date())])
            }
            try await MigrationRunner(database: db, migrations: all).apply()
            let repos = ParleyRepositories.mongo(db)
            let records = try await repos.messages.page(roomId: room, before: nil, after: nil, limit: 10).messages
            #expect(records.map(\.text) == ["old message 1", "old message 2"] && records.allSatisfy { $0.revision == 0 && $0.words == nil })
            // The compare-and-set takes a message without rev as revision 0.
            let first = records[0]
            let changed = try #require(try await repos.messages.update(id: first.id, atRev: 0, ["$set": ["text": "", "deletedAt": .date(Date())], "$inc": ["rev": 1]]))
            #expect(changed.revision == 1 && changed.text.isEmpty)
            let indexes = try await db.collection("messages").listIndexes().compactMap { $0["name"]?.stringValue }
            #expect(["roomId_useq", "threadId_seq", "roomId_pinned", "words"].allSatisfy(indexes.contains))
            #expect(try await db.collection("words").listIndexes().contains { $0["name"]?.stringValue == "p" })
            #expect(try await db.collection("messages").countDocuments() == 2)
        }
    }

    @Test("0006 makes the uploads' collection and the GridFS indexes on a database of the previous version; messages untouched")
    func uploadsUpgrade() async throws {
        try await TestDatabase.with { db in
            let all = try Migration.load(directory: RepoPaths.migrations)
            try await MigrationRunner(database: db, migrations: all.filter { $0.version < 6 }).apply()
            let room = ObjectId(), sender = ObjectId()
            try await db.collection("messages").insertOne(
                ["roomId": .objectId(room), "seq": 1, "senderId": .objectId(sender), "senderName": "s", "text": "before files", "clientId": "c1",
                 "createdAt": .date(Date()), "rev": 0])
            try await MigrationRunner(database: db, migrations: all).apply()
            let uploads = try await db.collection("uploads").listIndexes().compactMap { $0["name"]?.stringValue }
            #expect(["ownerId", "refs_messageId", "refs_roomId", "createdAt"].allSatisfy(uploads.contains))
            let chunks = try await db.collection("fs.chunks").listIndexes()
            #expect(chunks.contains { $0["name"]?.stringValue == "files_id_1_n_1" && $0["unique"]?.boolValue == true })
            let old = try #require(try await ParleyRepositories.mongo(db).messages.page(roomId: room, before: nil, after: nil, limit: 5).messages.first)
            #expect(old.text == "before files" && old.attachments == nil && Message(old).attachments.isEmpty)
            // Applied again: nothing to do.
            #expect(try await MigrationRunner(database: db, migrations: all).apply().isEmpty)
        }
    }

    @Test("0007 indexes messages by the uploads they carry on a database of the previous version: messages with files found, the others untouched")
    func attachmentsIndexUpgrade() async throws {
        try await TestDatabase.with { db in
            let all = try Migration.load(directory: RepoPaths.migrations)
            try await MigrationRunner(database: db, migrations: all.filter { $0.version < 7 }).apply()
            let room = ObjectId(), sender = ObjectId(), file = ObjectId()
            let messages = db.collection("messages")
            for (seq, attachments) in [(1, nil), (2, [file])] as [(Int, [ObjectId]?)] {
                var doc: BSONDocument = [
                    "roomId": .objectId(room), "seq": .int64(Int64(seq)), "senderId": .objectId(sender), "senderName": "s", "text": .string("m\(seq)"),
                    "clientId": .string("c\(seq)"), "createdAt": .date(Date()), "rev": 0,
                ]
                if let attachments {
                    doc.append("attachments", .array(attachments.map { .document(["id": .objectId($0), "name": .string("n.txt"), "contentType": .string("text/plain"), "size": .int64(3), "sha256": .string("x")]) }))
                }
                try await messages.insertOne(doc)
            }
            try await MigrationRunner(database: db, migrations: all).apply()
            #expect(try await messages.listIndexes().contains { $0["name"]?.stringValue == "attachments_id" })
            #expect(try await messages.findOne(["attachments.id": .objectId(file)])?["seq"]?.int64Value == 2)
            #expect(try await messages.countDocuments() == 2)
            #expect(try await MigrationRunner(database: db, migrations: all).apply().isEmpty)
        }
    }
}
