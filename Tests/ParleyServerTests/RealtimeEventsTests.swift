import Foundation
import Mongo
import NIOCore
import NIOWebSocket
import ParleyCore
import Testing

@Suite("WebSocket /ws: rooms, direct messages, presence and ephemeral events")
struct RealtimeEventsTests {
    @Test("room:create, rooms:list, room:join with participants and history, room:user:joined and room:user:left")
    func rooms() async throws {
        try await RestHarness.live { api, port in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let a = WSTestClient(port: port, token: alice.token)
            let b = WSTestClient(port: port, token: bob.token)
            _ = try await a.sync()
            _ = try await b.sync()
            let created = try await a.request("room:create", #"{"name": "hangout", "kind": "event", "startsAt": "2030-01-01T10:00:00Z"}"#)
            let createdRoom = try created.data(Wire.RoomData.self).room
            let room = createdRoom.id
            #expect(createdRoom.kind == "event" && createdRoom.memberCount == 1 && createdRoom.createdBy == alice.id)
            #expect(try await a.request("room:create", #"{"name": ""}"#).errorCode == "bad_request")
            for i in 1...3 { _ = try await a.request("message:send", #"{"roomId": "\#(room)", "text": "h\#(i)", "clientId": "h\#(i)"}"#) }

            let listed = try await b.request("rooms:list")
            #expect(try listed.data(Wire.Rooms.self).rooms.contains { $0.id == room })
            let joined = try await b.request("room:join", #"{"roomId": "\#(room)", "historyLimit": 2}"#)
            #expect(joined.ok)
            let join = try joined.data(Wire.Joined.self)
            #expect(join.history.map(\.seq) == [2, 3] && join.room.id == room)
            #expect(Set(join.participants.map(\.id)) == [alice.id, bob.id])
            let pushed = try await a.waitFor("room:user:joined", as: Wire.UserJoined.self)
            #expect(pushed.roomId == room && pushed.user.id == bob.id)
            #expect(try await b.request("room:join", #"{"roomId": "\#(room)", "historyLimit": 500}"#).errorCode == "bad_request")

            // Now a member, B receives the room's messages live.
            _ = try await a.request("message:send", #"{"roomId": "\#(room)", "text": "welcome", "clientId": "w"}"#)
            #expect(try await b.waitFor(type: "message:new").message().text == "welcome")
            let history = try await b.request("history", #"{"roomId": "\#(room)", "beforeSeq": 3, "limit": 10}"#).data(Wire.History.self)
            #expect(history.messages.map(\.seq) == [1, 2] && !history.hasMore)
            #expect(try await b.request("history", #"{"roomId": "\#(room)", "limit": 0}"#).errorCode == "bad_request")

            #expect(try await b.request("room:leave", #"{"roomId": "\#(room)"}"#).ok)
            let left = try await a.waitFor("room:user:left", as: Wire.UserLeft.self)
            #expect(left.userId == bob.id && left.roomId == room)
            _ = try await a.request("message:send", #"{"roomId": "\#(room)", "text": "gone", "clientId": "g"}"#)
            #expect(try await b.receivedNone(of: "message:new"))
            await a.close()
            await b.close()
        }
    }

    @Test("message:private opens one direct room per pair and delivers to the other user")
    func privateMessages() async throws {
        try await RestHarness.live { api, port in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let a = WSTestClient(port: port, token: alice.token)
            let b = WSTestClient(port: port, token: bob.token)
            _ = try await a.sync()
            _ = try await b.sync()
            let first = try await a.request("message:private", #"{"toUserId": "\#(bob.id)", "text": "psst", "clientId": "p1"}"#)
            let roomId = try first.message().roomId
            #expect(try await b.waitFor(type: "message:new").message().text == "psst")
            let reply = try await b.request("message:private", #"{"toUserId": "\#(alice.id)", "text": "hey", "clientId": "p2"}"#).message()
            #expect(reply.roomId == roomId && reply.seq == 2)
            #expect(try await a.waitFor(type: "message:new").message() == reply)
            #expect(try await api.database.collection("rooms").countDocuments(["kind": "direct"]) == 1)
            let convo = try await api.call(.get, "/api/messages/conversation/\(alice.id)/\(bob.id)", token: alice.token).decode(Wire.Conversation.self)
            #expect(convo.roomId == roomId && convo.messages.map(\.text) == ["psst", "hey"])
            #expect(try await a.request("message:private", #"{"toUserId": "\#(alice.id)", "text": "me", "clientId": "p3"}"#).errorCode == "bad_request")
            #expect(try await a.request("message:private", #"{"toUserId": "\#(ObjectId().hex)", "text": "x", "clientId": "p4"}"#).errorCode == "not_found")
            await a.close()
            await b.close()
        }
    }

    @Test("presence: online while any connection is open, away by presence:set, offline with lastSeenAt after the last closes")
    func presence() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let a = WSTestClient(port: port, token: pair.alice.token)
            _ = try await a.sync()
            let b1 = WSTestClient(port: port, token: pair.bob.token)
            _ = try await b1.sync()
            let online = try await a.waitFor("presence", as: Wire.Presence.self) { $0.userId == pair.bob.id }
            #expect(online.status == "online")
            let listed = try await api.call(.get, "/api/users/online", token: pair.alice.token).decode(Wire.Users.self)
            #expect(Set(listed.users.map(\.id)) == [pair.alice.id, pair.bob.id] && listed.users.allSatisfy(\.online))

            let b2 = WSTestClient(port: port, token: pair.bob.token)
            _ = try await b2.sync()
            #expect(try await b1.request("presence:set", #"{"status": "away"}"#).ok)
            let away = try await a.waitFor("presence", as: Wire.Presence.self) { $0.status == "away" }
            #expect(away.userId == pair.bob.id)
            #expect(try await b1.request("presence:set", #"{"status": "sleeping"}"#).errorCode == "bad_request")

            await b1.close()
            // Once the server has said goodbye to b1 (its gauge is down to a and b2),
            // an offline push would already be queued for a.
            #expect(try await Self.waitForOpenConnections(api, 2))
            #expect(try await a.receivedNone(of: "presence"))
            await b2.close()
            let offline = try await a.waitFor("presence", as: Wire.Presence.self) { $0.status == "offline" }
            #expect(offline.lastSeenAt != nil && offline.userId == pair.bob.id)
            let user = try await api.call(.get, "/api/users/\(pair.bob.id)", token: pair.alice.token).decode(Wire.UserData.self).user
            #expect(!user.online && user.status == "offline" && user.lastSeenAt == offline.lastSeenAt)
            await a.close()
        }
    }

    @Test("typing and room:activity reach the other members online, and only them")
    func ephemeral() async throws {
        try await RestHarness.live { api, port in
            let pair = try await Pair.make(api)
            let carol = try await api.register("carol")
            let a = WSTestClient(port: port, token: pair.alice.token)
            let b = WSTestClient(port: port, token: pair.bob.token)
            let c = WSTestClient(port: port, token: carol.token)
            for ws in [a, b, c] { _ = try await ws.sync() }
            #expect(try await a.request("typing", #"{"roomId": "\#(pair.room)", "isTyping": true}"#).ok)
            let typing = try await b.waitFor("typing", as: Wire.Typing.self)
            #expect(typing.userId == pair.alice.id && typing.username == "alice")
            #expect(typing.isTyping && typing.roomId == pair.room)

            let activity = #"{"roomId": "\#(pair.room)", "kind": "scroll", "data": {"top": 120.5, "item": "x", "list": [1, 2]}}"#
            #expect(try await a.request("room:activity", activity).ok)
            let pushed = try await b.waitFor(type: "room:activity")
            #expect(pushed.data["kind"] as? String == "scroll" && pushed.data["userId"] as? String == pair.alice.id)
            #expect((pushed.data["data"] as? [String: Any])?["top"] as? Double == 120.5)
            #expect(try await a.receivedNone(of: "room:activity"))
            #expect(try await c.receivedNone(of: "typing"))
            #expect(try await c.receivedNone(of: "room:activity"))

            let huge = #"{"roomId": "\#(pair.room)", "kind": "page", "data": {"blob": "\#(String(repeating: "x", count: 5000))"}}"#
            #expect(try await a.request("room:activity", huge).errorCode == "too_large")
            let longKind = #"{"roomId": "\#(pair.room)", "kind": "\#(String(repeating: "k", count: 33))", "data": {}}"#
            #expect(try await a.request("room:activity", longKind).errorCode == "bad_request")
            #expect(try await a.request("typing", #"{"roomId": "\#(pair.room)", "isTyping": "yes"}"#).errorCode == "bad_request")
            for ws in [a, b, c] { await ws.close() }
        }
    }

    @Test("a slow consumer is cut off without hurting the others")
    func slowConsumer() async throws {
        try await RestHarness.live(configure: { $0.outboundQueueFrames = 1024; $0.rateLimitPerSecond = 100_000; $0.rateLimitBurst = 100_000 }) { api, port in
            let pair = try await Pair.make(api)
            let (a, b) = try await pair.connectBoth(port)
            let slow = try RawWebSocket(port: port, token: pair.bob.token)
            // Wait until the server has registered the slow client.
            #expect(try await Self.waitForOpenConnections(api, 3))
            let text = String(repeating: "z", count: 3900)
            var sent = 0
            while !slow.isClosedByServer() && sent < 10_000 {
                // 50 at a time, paced by the ack of the last one, so storage keeps up.
                for n in 0..<50 {
                    let id = n == 49 ? #","id":"chunk\#(sent)""# : ""
                    a.send(#"{"type":"message:send"\#(id),"data":{"roomId":"\#(pair.room)","text":"\#(text)","clientId":"s\#(sent)"}}"#)
                    sent += 1
                }
                _ = try await a.waitFor(timeout: .seconds(30)) { $0.id == "chunk\(sent - 1)" }
            }
            #expect(slow.isClosedByServer(), "the slow consumer was not disconnected after \(sent) messages")
            #expect(try await Self.waitForOpenConnections(api, 2))
            // The healthy client still gets everything, in order.
            let last = try await b.waitFor("message:new", as: Wire.MessageData.self, timeout: .seconds(30)) { $0.message.clientId == "s\(sent - 1)" }
            #expect(last.message.seq == sent)
            #expect(try await a.request("ping").ok)
            await a.close()
            await b.close()
        }
    }
}

extension RealtimeEventsTests {
    /// Waits (up to 10 s) until the server counts `count` open WebSocket connections.
    static func waitForOpenConnections(_ api: Api, _ count: Int) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try await openConnections(api) == count { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// The server's own count of open WebSocket connections, from `/metrics`.
    static func openConnections(_ api: Api) async throws -> Int? {
        let text = String(decoding: try await api.call(.get, "/metrics").body, as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("parley_websocket_connections ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) }
    }
}

/// A WebSocket client on a raw socket that completes the handshake and then never
/// reads: a slow consumer. Its receive buffer is kept small so the server notices.
final class RawWebSocket: @unchecked Sendable {
    // @unchecked: the descriptor is only used by the test task that owns it.
    let fd: Int32

    init(port: Int, token: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw WSTestError("connect failed") }
        let request = "GET /ws?token=\(token) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buffer, 512, 0)
        guard n > 0, String(decoding: buffer[0..<n], as: UTF8.self).hasPrefix("HTTP/1.1 101") else { throw WSTestError("no upgrade") }
    }

    deinit { Glibc.close(fd) }

    /// True once the server has closed the connection (reads EOF or a reset, without
    /// draining more than a peek at what is queued).
    func isClosedByServer() -> Bool {
        var info = tcp_info()
        var len = socklen_t(MemoryLayout<tcp_info>.size)
        getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &len)
        // TCP_CLOSE_WAIT (8) or later: the server sent FIN or reset.
        return info.tcpi_state != UInt8(TCP_ESTABLISHED)
    }
}
