import Foundation
import Logging
import HummingbirdTesting
import Mongo
import ParleyCore
import TestSupport
import Testing

@testable import ParleyServer

/// Two nodes in one test process, sharing one database, each on a real port: what a
/// client on one sees, a client on the other sees. `Tests/interop/test_cluster.py`
/// runs the same across processes, behind nginx, with kill -9 and SIGSTOP.
@Suite("Cluster: two nodes on one database")
struct ClusterTests {
    static func node(_ database: String, _ id: String) -> ParleyConfiguration {
        var c = RestHarness.config(database: database)
        c.cluster = true
        c.nodeId = id
        c.heartbeatMs = 200
        // Generous: the suite's parallel tests share one database, and a heartbeat
        // held up by its queue must not make the nodes bury each other.
        c.nodeTimeoutMs = 10_000
        return c
    }

    /// Runs `body` with two live nodes: the REST client of the first, and both ports.
    static func pair(_ label: String = #function, _ body: @Sendable (Api, Int, Int) async throws -> Void) async throws {
        try await TestDatabase.with(label) { db in
            let first = try await buildApplication(node(db.name, "a"))
            let second = try await buildApplication(node(db.name, "b"))
            try await first.test(.live) { one in
                try await second.test(.live) { two in
                    let api = Api(client: one, database: db, repos: .mongo(db))
                    // Both streams open, and each node has heard the other.
                    for client in [one, two] { try await healthy(client, nodes: 2) }
                    try await body(api, try #require(one.port), try #require(two.port))
                }
            }
        }
    }

    @Test("a message sent on one node reaches the other node's members live, in order, once; typing and receipts too")
    func crossNode() async throws {
        try await Self.pair { api, portA, portB in
            let pair = try await Pair.make(api)
            let a = WSTestClient(port: portA, token: pair.alice.token)
            let b = WSTestClient(port: portB, token: pair.bob.token)
            _ = try await a.sync()
            _ = try await b.sync()
            for i in 1...20 { a.send(#"{"type":"message:send","id":"s\#(i)","data":{"roomId":"\#(pair.room)","text":"m\#(i)","clientId":"c\#(i)"}}"#) }
            var seqs: [Int] = []
            for _ in 1...20 { seqs.append(try await b.waitFor(type: "message:new").message().seq) }
            #expect(seqs == Array(1...20))
            #expect(try await b.receivedNone(of: "message:new"))
            // One of the two nodes writes the room; the other forwards its sends. Either
            // way the sending connection gets its acks, never its own message:new.
            #expect(try await a.receivedNone(of: "message:new"))
            // Bob answers from node b: Alice on node a gets it.
            let reply = try await pair.send(b, "back", clientId: "r1").message()
            #expect(try await a.waitFor("message:new", as: Wire.MessageData.self) { $0.message.id == reply.id }.message == reply)
            #expect(try await b.receivedNone(of: "message:new"))
            #expect(try await a.request("typing", #"{"roomId": "\#(pair.room)", "isTyping": true}"#).ok)
            #expect(try await b.waitFor("typing", as: Wire.Typing.self).userId == pair.alice.id)
            #expect(try await b.request("message:read", #"{"roomId": "\#(pair.room)", "seq": 21}"#).ok)
            let status = try await a.waitFor("message:status", as: Wire.Status.self) { $0.userId == pair.bob.id }
            #expect(status.readSeq == 21)
            await a.close()
            await b.close()
        }
    }

    @Test("presence is cluster-wide: online on either node, offline only when no node has the user")
    func presence() async throws {
        try await Self.pair { api, portA, portB in
            let pair = try await Pair.make(api)
            let a = WSTestClient(port: portA, token: pair.alice.token)
            _ = try await a.sync()
            let b = WSTestClient(port: portB, token: pair.bob.token)
            _ = try await b.sync()
            #expect(try await a.waitFor("presence", as: Wire.Presence.self) { $0.userId == pair.bob.id }.status == "online")
            let online = try await api.call(.get, "/api/users/online", token: pair.alice.token).decode(Wire.Users.self)
            #expect(Set(online.users.map(\.id)) == [pair.alice.id, pair.bob.id])
            await b.close()
            let offline = try await a.waitFor("presence", as: Wire.Presence.self) { $0.userId == pair.bob.id && $0.status == "offline" }
            #expect(offline.lastSeenAt != nil)
            await a.close()
        }
    }

    @Test("room changes made on one node hold on the other: added, muted, updated, removed (nothing more reaches them), deleted")
    func roomChangesAcrossNodes() async throws {
        try await Self.pair { api, portA, portB in
            let cast = try await Cast.make(api)
            let dave = try await api.register("dave")
            let owner = WSTestClient(port: portA, token: cast.owner.token)
            let member = WSTestClient(port: portB, token: cast.member.token)
            let moderator = WSTestClient(port: portB, token: cast.moderator.token)
            let daveB = WSTestClient(port: portB, token: dave.token)
            for ws in [owner, member, moderator, daveB] { _ = try await ws.sync() }
            let send = { (ws: WSTestClient, text: String) in
                try await ws.request("message:send", #"{"roomId": "\#(cast.room)", "text": "\#(text)", "clientId": "\#(text)"}"#)
            }
            // Added on A: Dave's socket on B hears of it and gets the room's messages.
            #expect(try await owner.request("room:members:add", #"{"roomId": "\#(cast.room)", "userIds": ["\#(dave.id)"]}"#).ok)
            #expect(try await daveB.waitFor("room:added", as: Wire.RoomData.self).room.id == cast.room)
            let first = try await send(owner, "one").message()
            #expect(try await daveB.waitFor("message:new", as: Wire.MessageData.self) { $0.message.id == first.id }.message == first)
            // The member's send warms node B's gate; a mute on A must still hold on B.
            #expect(try await send(member, "two").ok)
            #expect(try await owner.request("room:mute", #"{"roomId": "\#(cast.room)", "userId": "\#(cast.member.id)"}"#).ok)
            _ = try await member.waitFor("room:muted", as: Wire.RoomId.self)
            let muted = try await send(member, "three")
            #expect(muted.errorCode == "forbidden" && muted.error?.mutedUntil != nil)
            #expect(try await owner.request("room:unmute", #"{"roomId": "\#(cast.room)", "userId": "\#(cast.member.id)"}"#).ok)
            _ = try await member.waitFor("room:unmuted", as: Wire.RoomId.self)
            #expect(try await send(member, "four").ok)
            // Renamed on A: B's members get room:updated.
            #expect(try await owner.request("room:update", #"{"roomId": "\#(cast.room)", "name": "renamed"}"#).ok)
            #expect(try await moderator.waitFor("room:updated", as: Wire.RoomData.self).room.name == "renamed")
            // Removed on A: from then on nothing of the room reaches the member on B.
            #expect(try await owner.request("room:members:remove", #"{"roomId": "\#(cast.room)", "userId": "\#(cast.member.id)", "reason": "bye"}"#).ok)
            let removed = try await member.waitFor("room:removed", as: Wire.Removed.self)
            #expect(removed.by == cast.owner.id && removed.reason == "bye")
            let left = try await moderator.waitFor("room:user:left", as: Wire.UserLeft.self) { $0.userId == cast.member.id }
            #expect(left.by == cast.owner.id)
            let after = try await send(owner, "five").message()
            _ = try await moderator.waitFor("message:new", as: Wire.MessageData.self) { $0.message.id == after.id }
            #expect(try await owner.request("typing", #"{"roomId": "\#(cast.room)", "isTyping": true}"#).ok)
            _ = try await moderator.waitFor("typing", as: Wire.Typing.self)
            #expect(!member.pending.contains { $0.contains(after.id) || $0.contains(#""typing""#) })
            #expect(try await send(member, "six").errorCode == "not_found")
            // Deleted on A: B's members hear of it, and B delivers nothing more from it.
            #expect(try await owner.request("room:delete", #"{"roomId": "\#(cast.room)"}"#).ok)
            #expect(try await moderator.waitFor("room:deleted", as: Wire.RoomId.self).roomId == cast.room)
            #expect(try await daveB.waitFor("room:deleted", as: Wire.RoomId.self).roomId == cast.room)
            #expect(try await send(daveB, "seven").errorCode == "not_found")
            for ws in [owner, member, moderator, daveB] { await ws.close() }
        }
    }

    @Test("message changes made on one node reach the other live: a reply, an edit, a reaction, a delete, a thread count")
    func messageChangesAcrossNodes() async throws {
        try await Self.pair { api, portA, portB in
            let pair = try await Pair.make(api)
            let a = WSTestClient(port: portA, token: pair.alice.token)
            let b = WSTestClient(port: portB, token: pair.bob.token)
            _ = try await a.sync()
            _ = try await b.sync()
            let root = try await pair.send(a, "root", clientId: "x1").message()
            _ = try await b.waitFor("message:new", as: Wire.MessageData.self) { $0.message.id == root.id }
            let reply = try await b.request("message:send", #"{"roomId": "\#(pair.room)", "text": "a reply", "clientId": "x2", "replyTo": "\#(root.id)", "threadId": "\#(root.id)"}"#)
            let replyId = try reply.data(V2MessageData.self).message.id
            let seen = try await a.waitFor("message:new", as: V2MessageData.self) { $0.message.id == replyId }
            #expect(seen.message.replyTo?.id == root.id && seen.message.threadId == root.id)
            _ = try await b.waitFor("message:updated", as: V2Updated.self) { $0.message.id == root.id && $0.message.replyCount == 1 }
            #expect(try await a.request("message:edit", #"{"messageId": "\#(root.id)", "text": "root, edited"}"#).ok)
            _ = try await b.waitFor("message:updated", as: V2Updated.self) { $0.message.id == root.id && $0.message.text == "root, edited" }
            #expect(try await b.request("reaction:add", #"{"messageId": "\#(root.id)", "emoji": "🚀"}"#).ok)
            _ = try await a.waitFor("message:updated", as: V2Updated.self) { $0.message.reactions.first?.emoji == "🚀" }
            #expect(try await b.request("message:delete", #"{"messageId": "\#(replyId)"}"#).ok)
            _ = try await a.waitFor("message:updated", as: V2Updated.self) { $0.message.id == replyId && $0.message.deletedAt != nil }
            await a.close()
            await b.close()
        }
    }

    @Test("a file uploaded on one node and sent from the other reaches a member on the first, who reads it; deleting it there frees it")
    func filesAcrossNodes() async throws {
        try await Self.pair { api, portA, portB in
            let pair = try await Pair.make(api)
            let bytes = Fixture.png(width: 12, height: 9, size: 300_000)
            let made = try await UploadTests.upload(api, pair.alice.token, bytes, name: "shot.png", type: "image/png")
            let upload = try made.decode(UploadTests.Made.self).upload
            let aliceOnB = WSTestClient(port: portB, token: pair.alice.token)
            let bobOnA = WSTestClient(port: portA, token: pair.bob.token)
            _ = try await aliceOnB.sync()
            _ = try await bobOnA.sync()
            let ack = try await aliceOnB.request(
                "message:send", #"{"roomId": "\#(pair.room)", "text": "see", "clientId": "x1", "attachments": ["\#(upload.id)"]}"#)
            try #require(ack.ok, "\(ack.raw)")
            let seen = try await bobOnA.waitFor("message:new", as: V2MessageData.self)
            #expect(seen.message.attachments == [upload])
            let got = try await api.call(.get, upload.url, token: pair.bob.token)
            #expect(got.status == 200 && Array(got.body) == bytes)
            #expect(try await aliceOnB.request("message:delete", #"{"roomId": "\#(pair.room)", "messageId": "\#(seen.message.id)"}"#).ok)
            _ = try await bobOnA.waitFor("message:updated", as: V2Updated.self) { $0.message.id == seen.message.id && $0.message.deletedAt != nil }
            #expect(try await api.call(.get, upload.url, token: pair.alice.token).status == 404)
            await aliceOnB.close()
            await bobOnA.close()
        }
    }

    /// Waits until `client`'s node answers `/healthz` ok with `nodes` alive.
    static func healthy(_ client: some TestClientProtocol, nodes: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let seen = try await client.execute(uri: "/healthz", method: .get) { r -> Int? in
                r.status == .ok ? (try? JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])?["nodes"] as? Int : nil
            }
            if seen == nodes { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the node was not healthy with \(nodes) node(s) within 20 s")
    }

    /// `parley_cluster_stream_open` from the node's `/metrics`.
    static func streamOpen(_ client: some TestClientProtocol) async throws -> Double? {
        try await client.execute(uri: "/metrics", method: .get) { r in
            let text = String(buffer: r.body)
            let value = text.split(separator: "\n").first { $0.hasPrefix("parley_cluster_stream_open ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            if value == nil { Issue.record("no parley_cluster_stream_open in /metrics: \(text.prefix(2_000))") }
            return value
        }
    }

    @Test("a node alone opens no change stream and is ready; a second node's start makes it open one before the newcomer is ready, and what either says reaches the other")
    func aloneThenJoined() async throws {
        try await TestDatabase.with { db in
            let first = try await buildApplication(Self.node(db.name, "a"))
            try await first.test(.live) { one in
                try await Self.healthy(one, nodes: 1)
                #expect(try await Self.streamOpen(one) == 0)
                let doc = try await db.collection("nodes").findOne(["_id": "a"])
                #expect(doc?["watching"]?.boolValue == false)
                let api = Api(client: one, database: db, repos: .mongo(db))
                let pair = try await Pair.make(api)
                let alice = WSTestClient(port: try #require(one.port), token: pair.alice.token)
                _ = try await alice.sync()
                // Stored while alone: no stream read it, and nothing was copied for others.
                let early = try await pair.send(alice, "alone", clientId: "e1").message()

                let second = try await buildApplication(Self.node(db.name, "b"))
                try await second.test(.live) { two in
                    try await Self.healthy(two, nodes: 2)
                    // The newcomer is ready only once every node watches: the first one's
                    // stream is open by then (it stays open).
                    #expect(try await Self.streamOpen(one) == 1)
                    let bob = WSTestClient(port: try #require(two.port), token: pair.bob.token)
                    let synced = try await bob.sync()
                    #expect(synced.messages.contains { $0.raw.contains(early.id) }, "the message stored while the first node was alone reaches the newcomer's client")
                    // Ephemeral and stored, both ways.
                    #expect(try await bob.request("typing", #"{"roomId": "\#(pair.room)", "isTyping": true}"#).ok)
                    #expect(try await alice.waitFor("typing", as: Wire.Typing.self).userId == pair.bob.id)
                    let fromB = try await pair.send(bob, "from b", clientId: "b1").message()
                    #expect(try await alice.waitFor("message:new", as: Wire.MessageData.self) { $0.message.id == fromB.id }.message == fromB)
                    let fromA = try await pair.send(alice, "from a", clientId: "a1").message()
                    #expect(try await bob.waitFor("message:new", as: Wire.MessageData.self) { $0.message.id == fromA.id }.message == fromA)
                    #expect([early.seq, fromB.seq, fromA.seq] as [Int] == [1, 2, 3])
                    await bob.close()
                }
                await alice.close()
            }
        }
    }

    @Test("a held outbox writes only heartbeats; released, it writes what it held, in order, then the rest")
    func heldOutbox() async throws {
        try await TestDatabase.with { db in
            let outbox = SignalOutbox(database: db, node: "a", heartbeat: .milliseconds(50), logger: Logger(label: "test"))
            let running = Task { await outbox.run() }
            let batches = db.collection("signals", withType: SignalBatch.self)
            #expect(outbox.isHeld)
            for i in 0..<3 {
                var signal = Signal(kind: .push, room: ObjectId())
                signal.request = i
                outbox.publish(signal)
            }
            // Heartbeats go out while the signals wait.
            let deadline = ContinuousClock.now + .seconds(20)
            while try await batches.countDocuments() < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await batches.find([:]).toArray().allSatisfy(\.signals.isEmpty))
            outbox.release()
            #expect(!outbox.isHeld)
            var after = Signal(kind: .push, room: ObjectId())
            after.request = 3
            outbox.publish(after)
            outbox.stop()
            await running.value
            let written = try await batches.find([:], options: FindOptions(sort: ["n": 1])).toArray()
            #expect(written.map(\.n) == Array(1...written.count))
            #expect(written.flatMap(\.signals).map(\.request) == [0, 1, 2, 3])
        }
    }

    @Test("signals published one at a time while the outbox writes and lingers all land once, in order, gathered into fewer batches")
    func outboxGathersWhileItLingers() async throws {
        try await TestDatabase.with { db in
            let outbox = SignalOutbox(database: db, node: "a", heartbeat: .seconds(60), logger: Logger(label: "test"))
            outbox.release()
            let running = Task { await outbox.run() }
            let count = 300
            for i in 0..<count {
                var signal = Signal(kind: .push, room: ObjectId())
                signal.request = i
                outbox.publish(signal)
                try await Task.sleep(for: .milliseconds(1))
            }
            outbox.stop()
            await running.value
            let batches = try await db.collection("signals", withType: SignalBatch.self).find([:], options: FindOptions(sort: ["n": 1])).toArray()
            #expect(batches.map(\.n) == Array(1...batches.count))
            #expect(batches.flatMap(\.signals).map(\.request) == (0..<count).map { $0 })
            #expect(batches.count < count / 2, "\(batches.count) batches for \(count) signals published a millisecond apart")
        }
    }

    @Test("the outbox lingers three times as long as its last write took, at most its bound")
    func lingerPolicy() {
        #expect(SignalOutbox.linger(after: .milliseconds(2), max: .milliseconds(50)) == .milliseconds(6))
        #expect(SignalOutbox.linger(after: .milliseconds(40), max: .milliseconds(50)) == .milliseconds(50))
        #expect(SignalOutbox.linger(after: .zero, max: .milliseconds(50)) == .zero)
    }

    @Test("a signal batch whose first write landed after its deadline is taken as written when the retry finds its id stored")
    func batchWrittenByAnEarlierAttempt() async throws {
        try await TestDatabase.with { db in
            let outbox = SignalOutbox(database: db, node: "a", heartbeat: .seconds(1), logger: Logger(label: "test"))
            let batch = SignalBatch(node: "a", n: 1, at: Date(), signals: [Signal(kind: .push, room: ObjectId())])
            // As if an attempt timed out on the client but was stored by the database.
            let signals = db.collection("signals", withType: SignalBatch.self)
            _ = try await signals.insertOne(batch)
            // The database's own answer to the retry is read as "written", not "retry".
            do {
                _ = try await signals.insertOne(batch)
                Issue.record("the database took the same batch id twice")
            } catch {
                #expect(SignalOutbox.verdict(on: error) == .written, "\(error)")
            }
            // So the outbox's write returns; a loop retrying it would still be writing
            // when the 30 s below are up. (Not a `.timeLimit`: that would also count
            // the wait for a database slot, `DatabaseSlots`.)
            let returned = await withTaskGroup(of: Bool.self) { group in
                group.addTask { await outbox.write(batch); return true }
                group.addTask { try? await Task.sleep(for: .seconds(30)); return false }
                let first = await group.next()!
                group.cancelAll()
                return first
            }
            #expect(returned, "the outbox kept retrying a batch the database had stored")
            #expect(try await db.collection("signals").countDocuments() == 1)
        }
    }
}
