import Foundation
import Mongo
import TestSupport
import Testing

@Suite("Change streams")
struct ChangeStreamTests {
    @Test("watch sees inserts, updates and deletes in order, and resumes after a token")
    func watchAndResume() async throws {
        try await TestDatabase.with { db in
            let items = db.collection("items", withType: Item.self)
            try await db.createCollection("items")
            let stream = try await items.watch(options: ChangeStreamOptions(fullDocument: "updateLookup", maxAwaitTimeMS: 200))
            let a = Item("a", 1)
            try await items.insertOne(a)
            try await items.updateOne(["_id": .objectId(a.id)], ["$set": ["n": 2]])
            try await items.deleteOne(["_id": .objectId(a.id)])

            let first = try #require(try await stream.next())
            #expect(first.operationType == "insert")
            #expect(first.fullDocument == a)
            #expect(first.ns?.coll == "items")
            let second = try #require(try await stream.next())
            #expect(second.operationType == "update")
            #expect(second.fullDocument?.n == 2 || second.updateDescription != nil)
            let token = try #require(stream.resumeToken)
            let third = try #require(try await stream.next())
            #expect(third.operationType == "delete")
            #expect(third.fullDocument == nil)
            #expect(third.documentKey?["_id"] == .objectId(a.id))
            await stream.close()
            #expect(try await stream.next() == nil)

            // Resuming after the update's token replays only the delete.
            let resumed = try await items.watch(options: ChangeStreamOptions(resumeAfter: token, maxAwaitTimeMS: 200))
            let again = try #require(try await resumed.next())
            #expect(again.operationType == "delete")
            await resumed.close()
        }
    }

    @Test("one stream on the database sees every collection in commit order, filtered on the server")
    func databaseWide() async throws {
        try await TestDatabase.with { db in
            for name in ["one", "two", "skip"] { try await db.createCollection(name) }
            let stream = try await db.watch(
                [["$match": ["ns.coll": ["$in": ["one", "two"]], "operationType": "insert"]]], options: ChangeStreamOptions(maxAwaitTimeMS: 200))
            try await db.collection("one").insertOne(["n": 1])
            try await db.collection("skip").insertOne(["n": 2])
            try await db.collection("two").insertOne(["n": 3])
            try await db.collection("one").insertOne(["n": 4])
            var seen: [(String?, Int64?)] = []
            for _ in 0..<3 {
                let e = try #require(try await stream.next())
                seen.append((e.ns?.coll, e.fullDocument?["n"]?.int64Value))
            }
            #expect(seen.map(\.0) == ["one", "two", "one"] && seen.map(\.1) == [1, 3, 4])
            await stream.close()
        }
    }

    @Test("a pipeline filters events on the server")
    func pipeline() async throws {
        try await TestDatabase.with { db in
            let items = db.collection("items", withType: Item.self)
            try await db.createCollection("items")
            let stream = try await items.watch([["$match": ["fullDocument.name": "keep"]]], options: ChangeStreamOptions(maxAwaitTimeMS: 200))
            try await items.insertOne(Item("drop", 1))
            try await items.insertOne(Item("keep", 2))
            let e = try #require(try await stream.next())
            #expect(e.fullDocument?.n == 2)
            await stream.close()
        }
    }

    @Test("cancelling the reading task ends next() with nil")
    func cancellation() async throws {
        try await TestDatabase.with { db in
            let items = db.collection("items", withType: Item.self)
            try await db.createCollection("items")
            let stream = try await items.watch(options: ChangeStreamOptions(maxAwaitTimeMS: 100))
            let task = Task { try await stream.next() }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            #expect(try await task.value == nil)
            await stream.close()
        }
    }
}
