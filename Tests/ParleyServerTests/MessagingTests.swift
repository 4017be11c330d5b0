import Foundation
import Mongo
import ParleyCore
import Testing

/// Two users in one room, for messaging tests.
struct Pair {
    let alice: (token: String, id: String)
    let bob: (token: String, id: String)
    let room: String

    static func make(_ api: Api) async throws -> Pair {
        let alice = try await api.register("alice")
        let bob = try await api.register("bob")
        let room = try await api.createRoom(alice.token, #"{"name": "team"}"#)
        _ = try await api.call(.post, "/api/rooms/\(room)/join", token: bob.token)
        return Pair(alice: alice, bob: bob, room: room)
    }

    /// Alice's and Bob's connections, both past `sync:done`.
    func connectBoth(_ port: Int) async throws -> (WSTestClient, WSTestClient) {
        let a = WSTestClient(port: port, token: alice.token)
        let b = WSTestClient(port: port, token: bob.token)
        _ = try await a.sync()
        _ = try await b.sync()
        return (a, b)
    }

    func send(_ ws: WSTestClient, _ text: String, clientId: String) async throws -> Frame {
        try await ws.request("message:send", #"{"roomId": "\#(room)", "text": "\#(text)", "clientId": "\#(clientId)"}"#)
    }
}

@Suite("WebSocket /ws: messaging, delivery and the offline queue")
struct MessagingTests {
    @Test("send: the ack carries the stored message; other members receive message:new, the sending connection does not")
    func sendAndReceive() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let (a, b) = try await pair.connectBoth(port)
            let ack = try await pair.send(a, "hello", clientId: "c1")
            #expect(ack.ok)
            let m = try ack.message()
            #expect(m.seq == 1 && m.text == "hello" && m.senderId == pair.alice.id && m.senderName == "alice")
            #expect(m.roomId == pair.room && m.clientId == "c1" && m.id.count == 24)
            // The push is the ack's message, field for field; the stored one agrees to
            // the millisecond.
            let pushed = try await b.waitFor(type: "message:new")
            #expect(try pushed.message() == m)
            let stored = try await api.call(.get, "/api/messages/room/\(pair.room)", token: pair.bob.token).decode(Wire.History.self)
            #expect(stored.messages == [m])
            #expect(try await a.receivedNone(of: "message:new"))
            #expect(try await api.database.collection("messages").countDocuments() == 1)
            await a.close()
            await b.close()
        }
    }

    @Test("B offline while A sends 3 messages: B connects and gets exactly those 3 in order, then sync:done")
    func offlineQueue() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let a = WSTestClient(port: port, token: pair.alice.token)
            _ = try await a.sync()
            for i in 1...3 { #expect(try await pair.send(a, "m\(i)", clientId: "c\(i)").ok) }
            let b = WSTestClient(port: port, token: pair.bob.token)
            let (ready, messages, done) = try await b.sync()
            let flushed = try messages.map { try $0.message() }
            #expect(flushed.map(\.text) == ["m1", "m2", "m3"])
            #expect(flushed.map(\.seq) == [1, 2, 3])
            let counts = try done.data(Wire.SyncDone.self)
            #expect(counts.messages == 3 && counts.rooms == 1)
            let room = try ready.data(Wire.Ready.self).rooms.first { $0.id == pair.room }
            #expect(room?.unread == 3 && room?.deliveredSeq == 0 && room?.lastSeq == 3)
            await a.close()
            await b.close()
        }
    }

    @Test("a backlog over several windows: 2,500 messages with a gap come once, in seq order, then sync:done; a send after it follows")
    func longBacklog() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let room = try #require(ObjectId(pair.room)), alice = try #require(ObjectId(pair.alice.id))
            // Stored straight into the database, out of order, seq 1,500 missing (a send
            // whose seq was taken and never stored).
            let seqs = (1...2_501).filter { $0 != 1_500 }
            try await api.repos.messages.insert(
                seqs.reversed().map { MessageRecord(roomId: room, seq: $0, senderId: alice, senderName: "alice", text: "m\($0)", clientId: "c\($0)") })
            try await api.repos.rooms.raiseLastSeq([room: 2_501], at: Date())
            let b = WSTestClient(port: port, token: pair.bob.token)
            let (_, messages, done) = try await b.sync()
            #expect(try messages.map { try $0.message().seq } == seqs)
            #expect(try messages.map { try $0.message().text } == seqs.map { "m\($0)" })
            #expect(try done.data(Wire.SyncDone.self).messages == seqs.count)
            let a = WSTestClient(port: port, token: pair.alice.token)
            _ = try await a.sync()
            #expect(try await pair.send(a, "after", clientId: "after").ok)
            #expect(try await b.waitFor(type: "message:new").message().seq == 2_502)
            await a.close()
            await b.close()
        }
    }

    @Test("what the client acknowledges is never sent again; what it did not is sent again")
    func acknowledgedNotResent() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let a = WSTestClient(port: port, token: pair.alice.token)
            _ = try await a.sync()
            for i in 1...4 { _ = try await pair.send(a, "m\(i)", clientId: "c\(i)") }
            let b1 = WSTestClient(port: port, token: pair.bob.token)
            #expect(try await b1.sync().messages.count == 4)
            #expect(try await b1.request("message:delivered", #"{"roomId": "\#(pair.room)", "seq": 2}"#).ok)
            await b1.close()
            let b2 = WSTestClient(port: port, token: pair.bob.token)
            #expect(try await b2.sync().messages.map { try $0.message().seq } == [3, 4])
            #expect(try await b2.request("message:read", #"{"roomId": "\#(pair.room)", "seq": 4}"#).ok)
            await b2.close()
            let b3 = WSTestClient(port: port, token: pair.bob.token)
            let (ready, messages, _) = try await b3.sync()
            #expect(messages.isEmpty)
            #expect(try ready.data(Wire.Ready.self).rooms.first?.unread == 0)
            await b3.close()
            await a.close()
        }
    }

    @Test("B reads and A receives message:status; cursors never move back or past the last message")
    func readStatus() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let (a, b) = try await pair.connectBoth(port)
            for i in 1...3 { _ = try await pair.send(a, "m\(i)", clientId: "c\(i)") }
            #expect(try await b.request("message:delivered", #"{"roomId": "\#(pair.room)", "seq": 3}"#).ok)
            let delivered = try await a.waitFor("message:status", as: Wire.Status.self) { $0.userId == pair.bob.id }
            #expect(delivered.roomId == pair.room && delivered.deliveredSeq == 3 && delivered.readSeq == 0)
            #expect(try await b.request("message:read", #"{"roomId": "\#(pair.room)", "seq": 99}"#).ok)
            let read = try await a.waitFor("message:status", as: Wire.Status.self) { $0.readSeq > 0 }
            #expect(read.readSeq == 3 && read.deliveredSeq == 3)
            #expect(try await b.request("message:read", #"{"roomId": "\#(pair.room)", "seq": 1}"#).ok)
            let membership = try await api.repos.memberships.find(roomId: ObjectId(pair.room)!, userId: ObjectId(pair.bob.id)!)
            #expect(membership?.readSeq == 3)
            #expect(try await b.request("message:read", #"{"roomId": "\#(pair.room)", "seq": -1}"#).errorCode == "bad_request")
            await a.close()
            await b.close()
        }
    }

    @Test("a retried clientId returns the first message and stores one document")
    func idempotentRetry() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let a = WSTestClient(port: port, token: pair.alice.token)
            _ = try await a.sync()
            let first = try await pair.send(a, "once", clientId: "same")
            let again = try await pair.send(a, "once (retry)", clientId: "same")
            #expect(first.ok && again.ok)
            #expect(try again.message() == first.message())
            #expect(try again.message().text == "once")
            // Two retries racing in one batch.
            a.send(#"{"type":"message:send","id":"x1","data":{"roomId":"\#(pair.room)","text":"t","clientId":"race"}}"#)
            a.send(#"{"type":"message:send","id":"x2","data":{"roomId":"\#(pair.room)","text":"t","clientId":"race"}}"#)
            // Acks come in send order: the first ack to arrive is x1's.
            let x1 = try await a.waitFor(type: "ack")
            let x2 = try await a.waitFor(type: "ack")
            #expect(x1.id == "x1" && x2.id == "x2")
            #expect(try x1.message() == x2.message())
            #expect(try await api.database.collection("messages").countDocuments() == 2)
            await a.close()
        }
    }

    @Test("20 senders racing in one room yield seqs 1...N with no gap or duplicate")
    func racingSenders() async throws {
        try await RestHarness.live { api, port in
            let owner = try await api.register("owner")
            let room = try await api.createRoom(owner.token, #"{"name": "race"}"#)
            var clients: [WSTestClient] = []
            for i in 0..<20 {
                let u = try await api.register("sender\(i)")
                _ = try await api.call(.post, "/api/rooms/\(room)/join", token: u.token)
                let ws = WSTestClient(port: port, token: u.token)
                _ = try await ws.sync()
                clients.append(ws)
            }
            let perSender = 5
            try await withThrowingTaskGroup(of: [Int].self) { group in
                for (i, ws) in clients.enumerated() {
                    group.addTask {
                        for n in 0..<perSender {
                            ws.send(#"{"type":"message:send","id":"\#(n)","data":{"roomId":"\#(room)","text":"s\#(i)-\#(n)","clientId":"s\#(i)-\#(n)"}}"#)
                        }
                        // Acks of one batch may come back in any order: collect them by id.
                        var seqByID: [String: Int] = [:]
                        while seqByID.count < perSender {
                            let ack = try await ws.waitFor(type: "ack")
                            seqByID[ack.id ?? ""] = try ack.message().seq
                        }
                        return try (0..<perSender).map { try #require(seqByID["\($0)"]) }
                    }
                }
                var all: [Int] = []
                for try await s in group {
                    #expect(s == s.sorted(), "one sender's messages keep their order")
                    all += s
                }
                #expect(all.sorted() == Array(1...(20 * perSender)))
            }
            let stored = try await api.database.collection("messages").find([:], options: FindOptions(sort: ["seq": 1])).toArray()
            #expect(stored.compactMap { $0["seq"]?.int64Value }.map(Int.init) == Array(1...(20 * perSender)))
            for ws in clients { await ws.close() }
        }
    }

    @Test("two devices of one user both receive; the sender's other device too")
    func devices() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let phone = WSTestClient(port: port, token: pair.bob.token)
            let laptop = WSTestClient(port: port, token: pair.bob.token)
            let a1 = WSTestClient(port: port, token: pair.alice.token)
            let a2 = WSTestClient(port: port, token: pair.alice.token)
            for ws in [phone, laptop, a1, a2] { _ = try await ws.sync() }
            _ = try await pair.send(a1, "to all", clientId: "d1")
            for ws in [phone, laptop, a2] {
                #expect(try await ws.waitFor(type: "message:new").message().text == "to all")
            }
            #expect(try await a1.receivedNone(of: "message:new"))
            for ws in [phone, laptop, a1, a2] { await ws.close() }
        }
    }

    @Test("a non-member cannot send to, read from or receive from a room")
    func nonMember() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let carol = try await api.register("carol")
            let secret = try await api.createRoom(pair.alice.token, #"{"name": "secret", "private": true}"#)
            let a = WSTestClient(port: port, token: pair.alice.token)
            let c = WSTestClient(port: port, token: carol.token)
            _ = try await a.sync()
            _ = try await c.sync()
            let send = try await c.request("message:send", #"{"roomId": "\#(pair.room)", "text": "hi", "clientId": "x"}"#)
            #expect(send.errorCode == "forbidden")
            let secretSend = try await c.request("message:send", #"{"roomId": "\#(secret)", "text": "hi", "clientId": "y"}"#)
            #expect(secretSend.errorCode == "not_found")
            #expect(try await c.request("history", #"{"roomId": "\#(pair.room)"}"#).errorCode == "forbidden")
            #expect(try await c.request("message:read", #"{"roomId": "\#(pair.room)", "seq": 1}"#).errorCode == "forbidden")
            #expect(try await c.request("typing", #"{"roomId": "\#(pair.room)", "isTyping": true}"#).errorCode == "forbidden")
            _ = try await pair.send(a, "members only", clientId: "m")
            #expect(try await c.receivedNone(of: "message:new"))
            #expect(try await api.database.collection("messages").countDocuments() == 1)
            await a.close()
            await c.close()
        }
    }

    @Test("messages stored above a trailing lastSeq (a crash before its raise) are counted in ready, flushed, readable, and lastSeq catches up")
    func storedAboveLastSeq() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let roomId = try #require(ObjectId(pair.room))
            try await api.seedMessages(room: pair.room, sender: pair.alice.id, count: 3)
            // Acked, stored, and then the node died before raising lastSeq: nobody writes again.
            try await api.seedMessages(room: pair.room, sender: pair.alice.id, count: 2, prefix: "late", raisingLastSeq: false)
            #expect(try await api.repos.rooms.find(id: roomId)?.lastSeq == 3)

            let b = WSTestClient(port: port, token: pair.bob.token)
            let (ready, flushed, done) = try await b.sync()
            let room = try #require(try ready.data(Wire.Ready.self).rooms.first)
            #expect(room.lastSeq == 5 && room.unread == 5)
            #expect(try flushed.map { try $0.message().seq } == [1, 2, 3, 4, 5])
            #expect(try done.data(Wire.SyncDone.self).messages == 5)
            // The room list agrees, and a read of the last one is not capped below it.
            let listed = try await api.call(.get, "/api/rooms", token: pair.bob.token).decode(Wire.Rooms.self)
            #expect(listed.rooms.first { $0.id == pair.room }?.lastSeq == 5)
            #expect(try await b.request("message:read", #"{"roomId": "\#(pair.room)", "seq": 5}"#).ok)
            #expect(try await api.repos.memberships.find(roomId: roomId, userId: try #require(ObjectId(pair.bob.id)))?.readSeq == 5)
            // The reader raised the room's lastSeq in the database.
            let deadline = ContinuousClock.now + .seconds(10)
            while try await api.repos.rooms.find(id: roomId)?.lastSeq != 5, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await api.repos.rooms.find(id: roomId)?.lastSeq == 5)
            await b.close()
        }
    }

    @Test("acks of one connection's sends arrive in the order it sent them, refusals and retries included")
    func acksInSendOrder() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let other = try await api.createRoom(pair.bob.token, #"{"name": "elsewhere", "private": true}"#)
            let a = WSTestClient(port: port, token: pair.alice.token)
            _ = try await a.sync()
            // 200 sends without waiting, across the batches of the writer: new ones, retries
            // of earlier clientIds, invalid text (refused before the queue) and a room
            // Alice cannot see (refused after a database read).
            var expected: [(id: String, ok: Bool)] = []
            for n in 0..<200 {
                let (room, text, clientId, ok): (String, String, String, Bool) =
                    switch n % 10 {
                    case 3: (pair.room, " ", "blank\(n)", false)
                    case 6: (other, "hidden", "hidden\(n)", false)
                    case 8: (pair.room, "again", "c\(n - 1)", true)
                    default: (pair.room, "m\(n)", "c\(n)", true)
                    }
                a.send(#"{"type":"message:send","id":"s\#(n)","data":{"roomId":"\#(room)","text":"\#(text)","clientId":"\#(clientId)"}}"#)
                expected.append(("s\(n)", ok))
            }
            var seen: [(id: String, ok: Bool)] = []
            var lastSeq = 0
            for _ in 0..<200 {
                let ack = try await a.waitFor(type: "ack")
                seen.append((ack.id ?? "?", ack.ok))
                // New messages (not the retries, answered with the message before them).
                if ack.ok, ack.id.flatMap({ Int($0.dropFirst()) }).map({ $0 % 10 != 8 }) == true {
                    let seq = try ack.message().seq
                    #expect(seq > lastSeq, "a new message's seq goes up with the send order")
                    lastSeq = seq
                }
            }
            #expect(seen.map(\.id) == expected.map(\.id))
            #expect(seen.map(\.ok) == expected.map(\.ok))
            await a.close()
        }
    }

    @Test("message validation and the per-user rate limit")
    func validationAndRateLimit() async throws {
        try await RestHarness.live(configure: { $0.rateLimitPerSecond = 1; $0.rateLimitBurst = 3 }) { api, port in
            let pair = try await Pair.make(api)
            let a = WSTestClient(port: port, token: pair.alice.token)
            _ = try await a.sync()
            #expect(try await pair.send(a, "   ", clientId: "w").errorCode == "bad_request")
            #expect(try await pair.send(a, String(repeating: "x", count: 4001), clientId: "long").errorCode == "bad_request")
            #expect(try await pair.send(a, "ok", clientId: String(repeating: "c", count: 65)).errorCode == "bad_request")
            // A burst well over the bucket: the excess is refused with rate_limited and not stored.
            for n in 0..<12 { a.send(#"{"type":"message:send","id":"b\#(n)","data":{"roomId":"\#(pair.room)","text":"x","clientId":"b\#(n)"}}"#) }
            var limited = 0
            for _ in 0..<12 {
                let ack = try await a.waitFor { $0.id?.hasPrefix("b") == true }
                if ack.errorCode == "rate_limited" {
                    limited += 1
                    #expect((ack.error?.retryAfterMs ?? 0) > 0)
                }
            }
            #expect(limited >= 6)
            #expect(try await api.database.collection("messages").countDocuments() == 12 - limited)
            await a.close()
        }
    }
}
