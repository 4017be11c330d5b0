import Foundation
import Mongo
import ParleyCore
@testable import ParleyServer
import Testing

@Suite("REST: messages")
struct MessageRoutesTests {
    static func page(_ r: Reply) throws -> (seqs: [Int], hasMore: Bool) {
        let page = try r.decode(Wire.History.self)
        return (page.messages.map(\.seq), page.hasMore)
    }

    @Test("history pages by seq, ascending, with hasMore at each boundary")
    func paging() async throws {
        try await RestHarness.with { api in
            let (token, id) = try await api.register("writer")
            let room = try await api.createRoom(token, #"{"name": "log"}"#)
            try await api.seedMessages(room: room, sender: id, count: 120)

            let latest = try await api.call(.get, "/api/messages/room/\(room)", token: token)
            #expect(try latest.status == 200 && Self.page(latest) == (Array(71...120), true))
            let message = try #require((latest["messages"] as? [[String: Any]])?.first)
            // v1's fields and v2's, every one written (null when unset); nothing else (no
            // search words, no internal update sequence).
            #expect(Set(message.keys) == [
                "id", "roomId", "seq", "senderId", "senderName", "text", "clientId", "createdAt", "editedAt", "deletedAt", "replyTo", "threadId",
                "replyCount", "lastReplyAt", "reactions", "mentions", "pinned", "attachments", "rev",
            ])

            let older = try await api.call(.get, "/api/messages/room/\(room)?before=71&limit=50", token: token)
            #expect(try Self.page(older) == (Array(21...70), true))
            let oldest = try await api.call(.get, "/api/messages/room/\(room)?before=21&limit=50", token: token)
            #expect(try Self.page(oldest) == (Array(1...20), false))
            let newer = try await api.call(.get, "/api/messages/room/\(room)?after=100&limit=200", token: token)
            #expect(try Self.page(newer) == (Array(101...120), false))
            let window = try await api.call(.get, "/api/messages/room/\(room)?after=10&before=15", token: token)
            #expect(try Self.page(window).seqs == [11, 12, 13, 14])
            let exact = try await api.call(.get, "/api/messages/room/\(room)?after=0&limit=120", token: token)
            #expect(try Self.page(exact) == (Array(1...120), false))
            let none = try await api.call(.get, "/api/messages/room/\(room)?after=120", token: token)
            #expect(try Self.page(none) == ([], false))
            for bad in ["limit=0", "limit=201", "limit=x", "before=-1", "after=abc"] {
                #expect(try await api.call(.get, "/api/messages/room/\(room)?\(bad)", token: token).status == 400, "\(bad)")
            }
        }
    }

    @Test("paging stays stable while messages are added")
    func stablePaging() async throws {
        try await RestHarness.with { api in
            let (token, id) = try await api.register("writer")
            let room = try await api.createRoom(token, #"{"name": "busy"}"#)
            try await api.seedMessages(room: room, sender: id, count: 30)
            let first = try await api.call(.get, "/api/messages/room/\(room)?limit=10", token: token)
            #expect(try Self.page(first).seqs == Array(21...30))
            try await api.seedMessages(room: room, sender: id, count: 5, prefix: "late")
            let next = try await api.call(.get, "/api/messages/room/\(room)?before=21&limit=10", token: token)
            #expect(try Self.page(next).seqs == Array(11...20))
        }
    }

    @Test("only members read history: 403 for a visible room, 404 for a private one")
    func membersOnly() async throws {
        try await RestHarness.with { api in
            let (alice, aliceId) = try await api.register("alice")
            let (bob, _) = try await api.register("bob")
            let open = try await api.createRoom(alice, #"{"name": "open"}"#)
            let secret = try await api.createRoom(alice, #"{"name": "secret", "private": true}"#)
            try await api.seedMessages(room: open, sender: aliceId, count: 2)
            let denied = try await api.call(.get, "/api/messages/room/\(open)", token: bob)
            #expect(denied.status == 403 && denied.errorCode == "forbidden")
            #expect(try await api.call(.get, "/api/messages/room/\(secret)", token: bob).status == 404)
            #expect(try await api.call(.put, "/api/messages/read/\(open)", token: bob).status == 403)
            #expect(try await api.call(.get, "/api/messages/room/\(ObjectId().hex)", token: bob).status == 404)
        }
    }

    @Test("conversation: for its two users only; none yet gives roomId null")
    func conversation() async throws {
        try await RestHarness.with { api in
            let (alice, aliceId) = try await api.register("alice")
            let (bob, bobId) = try await api.register("bob")
            let (carol, _) = try await api.register("carol")
            let empty = try await api.call(.get, "/api/messages/conversation/\(aliceId)/\(bobId)", token: alice)
            let none = try empty.decode(Wire.Conversation.self)
            #expect(empty.status == 200 && empty["roomId"] is NSNull && none.roomId == nil && none.messages.isEmpty && !none.hasMore)

            let service = RoomService(repos: api.repos, presence: PresenceRegistry())
            let a = try #require(try await api.repos.users.find(id: ObjectId(aliceId)!))
            let b = try #require(try await api.repos.users.find(id: ObjectId(bobId)!))
            let direct = try #require(try await service.directRoom(between: a, and: b, create: true))
            try await api.seedMessages(room: direct.id.hex, sender: aliceId, count: 3)

            let fromBob = try await api.call(.get, "/api/messages/conversation/\(aliceId)/\(bobId)?limit=2", token: bob)
            let seen = try fromBob.decode(Wire.Conversation.self)
            #expect(seen.roomId == direct.id.hex && seen.messages.map(\.seq) == [2, 3] && seen.hasMore)
            let reversed = try await api.call(.get, "/api/messages/conversation/\(bobId)/\(aliceId)", token: alice)
            #expect(try reversed.decode(Wire.Conversation.self).messages.map(\.seq) == [1, 2, 3])
            let intruder = try await api.call(.get, "/api/messages/conversation/\(aliceId)/\(bobId)", token: carol)
            #expect(intruder.status == 403)
            #expect(try await api.call(.get, "/api/messages/conversation/\(aliceId)/\(ObjectId().hex)", token: alice).status == 404)
        }
    }

    @Test("read cursor: defaults to the latest, caps beyond it, never moves back; status lists readers")
    func readAndStatus() async throws {
        try await RestHarness.with { api in
            let (alice, aliceId) = try await api.register("alice")
            let (bob, bobId) = try await api.register("bob")
            let (carol, _) = try await api.register("carol")
            let room = try await api.createRoom(alice, #"{"name": "team"}"#)
            _ = try await api.call(.post, "/api/rooms/\(room)/join", token: bob)
            try await api.seedMessages(room: room, sender: aliceId, count: 5)

            let bobsRoom = try await api.call(.get, "/api/rooms/\(room)", token: bob)
            #expect(try bobsRoom.decode(Wire.RoomDetails.self).room.unread == 5)
            let partial = try await api.call(.put, "/api/messages/read/\(room)", token: bob, json: #"{"seq": 3}"#)
            #expect(try partial.status == 200 && partial.decode(Wire.ReadCursor.self).readSeq == 3)
            let back = try await api.call(.put, "/api/messages/read/\(room)", token: bob, json: #"{"seq": 1}"#)
            #expect(try back.decode(Wire.ReadCursor.self).readSeq == 3)
            let beyond = try await api.call(.put, "/api/messages/read/\(room)", token: bob, json: #"{"seq": 999}"#)
            #expect(try beyond.decode(Wire.ReadCursor.self).readSeq == 5)
            #expect(try await api.call(.put, "/api/messages/read/\(room)", token: bob, json: #"{"seq": -1}"#).status == 400)
            #expect(try await api.call(.put, "/api/messages/read/\(room)", token: bob, json: #"{"seq": "3"}"#).status == 400)
            #expect(try await api.call(.put, "/api/messages/read/\(room)", token: bob, json: #"{"seq": {"$gt": 0}}"#).status == 400)
            let all = try await api.call(.put, "/api/messages/read/\(room)", token: alice)
            #expect(try all.decode(Wire.ReadCursor.self).readSeq == 5)
            #expect(try await api.call(.get, "/api/rooms/\(room)", token: bob).decode(Wire.RoomDetails.self).room.unread == 0)

            let page = try await api.call(.get, "/api/messages/room/\(room)?limit=5", token: alice)
            let fourth = try page.decode(Wire.History.self).messages[3].id
            let reply = try await api.call(.get, "/api/messages/\(fourth)/status", token: alice)
            let status = try reply.decode(Wire.MessageStatus.self)
            #expect(reply.status == 200 && status.seq == 4 && status.messageId == fourth)
            #expect(status.deliveredTo == [bobId] && status.readBy == [bobId])
            #expect(try await api.call(.get, "/api/messages/\(fourth)/status", token: carol).status == 404)
            #expect(try await api.call(.get, "/api/messages/\(ObjectId().hex)/status", token: alice).status == 404)
        }
    }
}

@Suite("REST: cross-cutting")
struct CrossCuttingTests {
    @Test("errors have the contract's shape; unknown routes are 404")
    func errorShape() async throws {
        try await RestHarness.with { api in
            let r = try await api.call(.get, "/api/nothing-here")
            #expect(r.status == 404 && r.errorCode == "not_found")
            #expect(r.error?.message.isEmpty == false)
        }
    }

    @Test("security headers on every response, errors included")
    func securityHeaders() async throws {
        try await RestHarness.with { api in
            for r in [try await api.call(.get, "/healthz"), try await api.call(.get, "/api/auth/profile")] {
                #expect(r.headers[.init("X-Content-Type-Options")!] == "nosniff")
                #expect(r.headers[.init("X-Frame-Options")!] == "DENY")
                #expect(r.headers[.init("Referrer-Policy")!] == "no-referrer")
                #expect(r.headers[.init("Content-Security-Policy")!]?.contains("default-src 'self'") == true)
            }
        }
    }

    @Test("CORS allows CLIENT_URL and no other origin")
    func cors() async throws {
        try await RestHarness.with(configure: { $0.clientURL = "https://chat.example" }) { api in
            let preflight = try await api.call(
                .options, "/api/rooms",
                headers: [.origin: "https://chat.example", .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "authorization"])
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://chat.example")
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("PUT") == true)
            let simple = try await api.call(.get, "/healthz", headers: [.origin: "https://evil.example"])
            #expect(simple.headers[.accessControlAllowOrigin] == "https://chat.example")
            #expect(simple.headers[.accessControlAllowOrigin] != "https://evil.example")
        }
    }

    @Test("bodies over MAX_BODY_BYTES are 413")
    func tooLarge() async throws {
        try await RestHarness.with(configure: { $0.maxBodyBytes = 2048 }) { api in
            let (token, _) = try await api.register("big")
            let body = #"{"name": "\#(String(repeating: "x", count: 5000))"}"#
            let r = try await api.call(.post, "/api/rooms", token: token, json: body)
            #expect(r.status == 413 && r.errorCode == "too_large")
        }
    }

    @Test("/metrics exposes request, database and connection metrics in Prometheus text")
    func metrics() async throws {
        try await RestHarness.with { api in
            _ = try await api.call(.get, "/healthz")
            let r = try await api.call(.get, "/metrics")
            let text = String(decoding: r.body, as: UTF8.self)
            #expect(r.status == 200 && r.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(text.contains(#"parley_http_requests_total{route="/healthz",method="GET",status="200"}"#))
            #expect(text.contains("parley_http_request_duration_seconds_bucket"))
            #expect(text.contains("parley_db_operation_duration_seconds_bucket"))
            #expect(text.contains("parley_websocket_connections"))
            #expect(text.contains("parley_messages_stored_total"))
            for stage in ["queue_wait", "insert", "fanout", "write"] { #expect(text.contains(#"parley_send_stage_seconds_bucket{stage="\#(stage)""#)) }
        }
    }

    @Test("/metrics: requests' and database operations' observations land in one series per label set, made once and counted on")
    func databaseOperationSeries() {
        let metrics = ParleyMetrics()
        metrics.recordRequest(route: "/api/rooms", method: "GET", status: 200, duration: .milliseconds(2))
        metrics.recordRequest(route: "/api/rooms", method: "GET", status: 200, duration: .milliseconds(4))
        metrics.recordRequest(route: "/api/rooms", method: "GET", status: 404, duration: .milliseconds(1))
        metrics.recordDatabaseOperation("find", .milliseconds(3), false)
        metrics.recordDatabaseOperation("find", .microseconds(200), false)
        metrics.recordDatabaseOperation("insert", .milliseconds(40), true)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains(#"parley_db_operation_duration_seconds_count{operation="find"} 2"#))
        #expect(text.contains(#"parley_db_operation_duration_seconds_count{operation="insert"} 1"#))
        #expect(text.contains(#"parley_db_operation_errors_total{operation="insert"} 1"#))
        #expect(!text.contains(#"parley_db_operation_errors_total{operation="find"}"#))
        #expect(text.components(separatedBy: #"parley_db_operation_duration_seconds_count{operation="find"}"#).count == 2)
        #expect(text.contains(#"parley_http_requests_total{route="/api/rooms",method="GET",status="200"} 2"#))
        #expect(text.contains(#"parley_http_requests_total{route="/api/rooms",method="GET",status="404"} 1"#))
        #expect(text.contains(#"parley_http_request_duration_seconds_count{route="/api/rooms",method="GET"} 3"#))
    }

    @Test("/metrics: each stored batch's stages (queue wait, insert, fan-out), one observation per batch")
    func sendStageMetrics() async throws {
        try await RestHarness.with { api in
            let (token, _) = try await api.register("stages")
            let room = try await api.createRoom(token, #"{"name": "staged"}"#)
            for k in 0..<3 {
                let r = try await api.call(.post, "/api/rooms/\(room)/messages", token: token, json: #"{"text": "m\#(k)", "clientId": "c\#(k)"}"#)
                #expect(r.status == 201)
            }
            let text = String(decoding: try await api.call(.get, "/metrics").body, as: UTF8.self)
            func count(_ stage: String) -> Double? {
                let line = text.split(separator: "\n").first { $0.hasPrefix(#"parley_send_stage_seconds_count{stage="\#(stage)"}"#) }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            // Sent one after another: three batches, each with all three stages.
            #expect(count("queue_wait") == 3 && count("insert") == 3 && count("fanout") == 3)
        }
    }
}
