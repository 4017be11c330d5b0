import Foundation
import Mongo
import TestSupport
import Testing

struct Item: Codable, Equatable, Sendable {
    var id: ObjectId
    var name: String
    var n: Int
    var tags: [String]

    enum CodingKeys: String, CodingKey { case id = "_id", name, n, tags }

    init(_ name: String, _ n: Int, tags: [String] = []) {
        id = ObjectId()
        self.name = name
        self.n = n
        self.tags = tags
    }
}

@Suite("Collection operations against the real database")
struct CollectionTests {
    @Test("insertOne and findOne round-trip a typed document, every supported type included")
    func insertAndFind() async throws {
        try await TestDatabase.with { db in
            let all = db.collection("everything", withType: Everything.self)
            let value = Everything.sample()
            let r = try await all.insertOne(value)
            #expect(r.insertedId == .objectId(value.id))
            let back = try await all.findOne(["_id": .objectId(value.id)])
            #expect(back == value)
        }
    }

    @Test("insertOne gives an _id to a document without one")
    func generatedID() async throws {
        try await TestDatabase.with { db in
            let c = db.collection("docs")
            let r = try await c.insertOne(["x": 1])
            #expect(r.insertedId.objectIdValue != nil)
            let back = try await c.findOne(["_id": r.insertedId])
            #expect(back?["x"] == .int64(1))
        }
    }

    @Test("insertMany, then find with filter, sort, limit, skip and projection")
    func findOptions() async throws {
        try await TestDatabase.with { db in
            let items = db.collection("items", withType: Item.self)
            let r = try await items.insertMany((1...10).map { Item("item\($0)", $0, tags: $0 % 2 == 0 ? ["even"] : []) })
            #expect(r.insertedCount == 10 && r.insertedIds.count == 10)
            let page = try await items.find(["n": ["$gt": 2]], options: FindOptions(sort: ["n": -1], limit: 3, skip: 1)).toArray()
            #expect(page.map(\.n) == [9, 8, 7])
            let evens = try await items.find(["tags": "even"], options: FindOptions(sort: ["n": 1])).toArray()
            #expect(evens.map(\.n) == [2, 4, 6, 8, 10])
            let raw = db.collection("items")
            let projected = try await raw.findOne(["n": 5], options: FindOptions(projection: ["name": 1, "_id": 0]))
            #expect(projected == ["name": "item5"])
            #expect(try await items.findOne(["n": 99]) == nil)
        }
    }

    @Test("a cursor larger than one fetch streams every document in order")
    func largeCursor() async throws {
        try await TestDatabase.with { db in
            let items = db.collection("many", withType: Item.self)
            try await items.insertMany((0..<1500).map { Item("i", $0) })
            var seen = 0
            for try await item in try await items.find([:], options: FindOptions(sort: ["n": 1], batchSize: 100)) {
                #expect(item.n == seen)
                seen += 1
            }
            #expect(seen == 1500)
            // In bulk: batches as they come, in order, mixed with next(), then [].
            let bulk = try await items.find([:], options: FindOptions(sort: ["n": 1], batchSize: 400))
            var collected = [try await bulk.next()!.n]
            while true {
                let batch = try await bulk.nextBatch()
                if batch.isEmpty { break }
                #expect(batch.count <= 256)
                collected += batch.map(\.n)
            }
            #expect(collected == Array(0..<1500))
            #expect(try await bulk.nextBatch().isEmpty)
            // A cursor closed early returns its client; the pool keeps working.
            let early = try await items.find([:], options: FindOptions(batchSize: 50))
            _ = try await early.next()
            await early.close()
            #expect(try await early.next() == nil)
            #expect(try await items.countDocuments() == 1500)
        }
    }

    @Test("updateOne, updateMany and upsert report what they did")
    func updates() async throws {
        try await TestDatabase.with { db in
            let items = db.collection("items", withType: Item.self)
            try await items.insertMany([Item("a", 1), Item("b", 2), Item("c", 3)])
            let one = try await items.updateOne(["name": "a"], ["$set": ["n": 10]])
            #expect(one.matchedCount == 1 && one.modifiedCount == 1 && one.upsertedId == nil)
            let many = try await items.updateMany(["n": ["$lt": 5]], ["$inc": ["n": 100]])
            #expect(many.matchedCount == 2 && many.modifiedCount == 2)
            let none = try await items.updateOne(["name": "zzz"], ["$set": ["n": 1]])
            #expect(none.matchedCount == 0)
            let up = try await db.collection("raw").updateOne(["_id": "k"], ["$set": ["v": 1]], upsert: true)
            #expect(up.upsertedId == .string("k"))
            #expect(try await items.find([:], options: FindOptions(sort: ["name": 1])).toArray().map(\.n) == [10, 102, 103])
        }
    }

    @Test("deleteOne and deleteMany")
    func deletes() async throws {
        try await TestDatabase.with { db in
            let items = db.collection("items", withType: Item.self)
            try await items.insertMany((1...5).map { Item("x", $0) })
            #expect(try await items.deleteOne(["n": 1]).deletedCount == 1)
            #expect(try await items.deleteMany(["n": ["$gte": 4]]).deletedCount == 2)
            #expect(try await items.deleteMany(["n": 99]).deletedCount == 0)
            #expect(try await items.countDocuments() == 2)
            #expect(try await items.countDocuments(["n": 2]) == 1)
        }
    }

    @Test("findOneAndUpdate returns the new document, upserts, and returns the old one on request")
    func findAndModify() async throws {
        try await TestDatabase.with { db in
            let counters = db.collection("counters")
            let first = try await counters.findOneAndUpdate(["_id": "room"], ["$inc": ["lastSeq": 3]], upsert: true)
            #expect(first?["lastSeq"]?.int64Value == 3)
            let second = try await counters.findOneAndUpdate(["_id": "room"], ["$inc": ["lastSeq": 2]])
            #expect(second?["lastSeq"]?.int64Value == 5)
            let before = try await counters.findOneAndUpdate(["_id": "room"], ["$inc": ["lastSeq": 1]], returnDocument: .before)
            #expect(before?["lastSeq"]?.int64Value == 5)
            #expect(try await counters.findOneAndUpdate(["_id": "none"], ["$inc": ["lastSeq": 1]]) == nil)
        }
    }

    @Test("aggregate runs a pipeline and decodes its output")
    func aggregate() async throws {
        try await TestDatabase.with { db in
            let items = db.collection("items", withType: Item.self)
            try await items.insertMany([Item("a", 1), Item("a", 2), Item("b", 5)])
            struct Total: Codable, Sendable { var _id: String; var total: Int }
            let totals = try await items.aggregate(
                [["$group": ["_id": "$name", "total": ["$sum": "$n"]]], ["$sort": ["_id": 1]]], as: Total.self
            ).toArray()
            #expect(totals.map(\._id) == ["a", "b"])
            #expect(totals.map(\.total) == [3, 5])
        }
    }

    @Test("a unique index turns a second insert into .duplicateKey, for one and for many")
    func duplicateKey() async throws {
        try await TestDatabase.with { db in
            let users = db.collection("users")
            let names = try await users.createIndexes([IndexModel(keys: ["usernameLower": 1], options: ["unique": true])])
            #expect(names == ["usernameLower_1"])
            // Creating the same index again is a no-op.
            try await users.createIndexes([IndexModel(keys: ["usernameLower": 1], options: ["unique": true])])
            try await users.insertOne(["usernameLower": "ann"])
            await #expect(throws: MongoError.self) { try await users.insertOne(["usernameLower": "ann"]) }
            do {
                try await users.insertOne(["usernameLower": "ann"])
            } catch let e as MongoError {
                #expect(e.code == .duplicateKey)
                #expect(e.serverCode == 11000)
            }
            do {
                try await users.insertMany([["usernameLower": "bob"], ["usernameLower": "ann"]])
                Issue.record("insertMany accepted a duplicate")
            } catch let e as MongoError {
                #expect(e.code == .duplicateKey)
            }
            do {
                try await users.insertOne(["usernameLower": "cat"])
                try await users.updateOne(["usernameLower": "cat"], ["$set": ["usernameLower": "ann"]])
                Issue.record("update accepted a duplicate")
            } catch let e as MongoError {
                #expect(e.code == .duplicateKey)
            }
            let indexes = try await users.listIndexes()
            #expect(indexes.contains { $0["name"] == "usernameLower_1" && $0["unique"] == true })
        }
    }

    @Test("runCommand returns the reply; a failing command throws a server error with its code")
    func commands() async throws {
        try await TestDatabase.with { db in
            let reply = try await db.runCommand(["ping": 1])
            #expect(reply["ok"]?.doubleValue == 1)
            do {
                try await db.runCommand(["noSuchCommandAtAll": 1])
                Issue.record("an unknown command succeeded")
            } catch let e as MongoError {
                #expect(e.code == .server)
                #expect(e.serverCode == 59)
            }
            try await db.createCollection("made", options: ["validator": ["name": ["$type": "string"]]])
            try await db.createCollection("made")
            #expect(try await db.listCollectionNames().contains("made"))
            await #expect(throws: MongoError.self) { try await db.collection("made").insertOne(["name": 5]) }
            try await db.collection("made").drop()
            try await db.collection("made").drop()
            #expect(!(try await db.listCollectionNames().contains("made")))
        }
    }

    @Test("an unreachable server is a .network error, quickly")
    func unreachable() async throws {
        let client = try MongoClient(configuration: MongoConfiguration(uri: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300"))
        do {
            try await client.database("x").ping()
            Issue.record("ping to a closed port succeeded")
        } catch let e as MongoError {
            #expect(e.code == .network)
            #expect(e.isTransient)
        }
        try await client.shutdown()
        await #expect(throws: MongoError.self) { try await client.database("x").ping() }
        #expect(throws: MongoError.self) { try MongoClient(configuration: MongoConfiguration(uri: "not a uri")) }
    }

    @Test("against a server that never answers, a call fails with its own deadline, not the driver's")
    func deadline() async throws {
        let silent = try SilentListener()
        // The driver would wait 20 s to give up; the operation deadline is 300 ms.
        let client = try MongoClient(
            configuration: MongoConfiguration(uri: "mongodb://127.0.0.1:\(silent.port)", serverSelectionTimeoutMS: 20_000, operationTimeoutMS: 300))
        let items = client.database("x").collection("items")
        for attempt in 0..<3 {
            do {
                _ = try await attempt == 0 ? items.findOne([:]) : items.find([:]).toArray().first
                Issue.record("a call to a silent server returned")
            } catch let e as MongoError {
                #expect(e.code == .timeout && e.isTransient, "\(e)")
                #expect(e.message.contains("deadline"), "\(e)")
            }
        }
        // Calls queued behind the stuck threads are failed by the same deadline.
        try await withThrowingTaskGroup(of: MongoError.Code?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        try await client.database("x").ping()
                        return nil
                    } catch let e as MongoError { return e.code }
                }
            }
            for try await code in group { #expect(code == .timeout) }
        }
        _ = silent
    }

    @Test("200 concurrent operations through a pool of 2 threads finish without deadlock")
    func concurrency() async throws {
        try await TestDatabase.with(threads: 2, extraClients: 2) { db in
            let items = db.collection("items", withType: Item.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<200 {
                    group.addTask {
                        switch i % 4 {
                        case 0: try await items.insertOne(Item("c", i))
                        case 1: _ = try await items.find(["n": ["$lt": 50]]).toArray()
                        case 2: _ = try await db.collection("counters").findOneAndUpdate(["_id": "c"], ["$inc": ["v": 1]], upsert: true)
                        default: _ = try await items.countDocuments()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await items.countDocuments() == 50)
            #expect(try await db.collection("counters").findOne(["_id": "c"])?["v"]?.int64Value == 50)
        }
    }
}
