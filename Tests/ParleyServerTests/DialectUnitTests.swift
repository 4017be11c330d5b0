import Foundation
import Mongo
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("Dialects, without a database: payloads, clientIds, translations")
struct DialectUnitTests {
    @Test("a retried emit gets the first one's clientId; a new emit, an unacked one or another user a new one")
    func emitIdentity() {
        let ids = EmitIdentity(window: .seconds(10))
        let alice = ObjectId(), bob = ObjectId()
        let payload = Array(#"[{"roomId":"r","message":"hi"}]"#.utf8)
        let first = ids.clientId(user: alice, event: "send_message", payload: payload, acked: true)
        #expect(ids.clientId(user: alice, event: "send_message", payload: payload, acked: true) == first)
        #expect(ids.clientId(user: bob, event: "send_message", payload: payload, acked: true) != first)
        #expect(ids.clientId(user: alice, event: "send_message", payload: Array(#"[{"roomId":"r","message":"ho"}]"#.utf8), acked: true) != first)
        let unacked = ids.clientId(user: alice, event: "send_message", payload: payload, acked: false)
        #expect(unacked != first && ids.clientId(user: alice, event: "send_message", payload: payload, acked: false) != unacked)
        #expect(first.utf8.count <= 64)
        let short = EmitIdentity(window: .zero)
        let a = short.clientId(user: alice, event: "e", payload: payload, acked: true)
        #expect(short.clientId(user: alice, event: "e", payload: payload, acked: true) != a)
    }

    @Test("payloads: bare values or objects, text under any of its names, operators refused as on /ws")
    func payloads() throws {
        #expect(DialectKit.string(.string("abc"), "roomId") == "abc")
        #expect(DialectKit.string(.object(["room": .string("r1")]), "roomId", "room") == "r1")
        #expect(DialectKit.string(.object(["roomId": .object(["$gt": .string("")])]), "roomId") == nil)
        #expect(DialectKit.text(.object(["message": .string("hi")])) == "hi" && DialectKit.text(.string("bare")) == "bare")
        #expect(throws: ParleyError.self) {
            try DialectKit.event("message:send", .object(["roomId": .string("x"), "text": .object(["$gt": .string("")]), "clientId": .string("c")]))
        }
        guard case .messageSend(let body) = try DialectKit.event("message:send", .object(["roomId": .string("x"), "text": .string("t"), "clientId": .string("c")]))
        else {
            Issue.record("not a send")
            return
        }
        #expect(body.text == "t" && body.clientId == "c")
        #expect(JSONValue.parse(Array(#"{"a":[1,true,null,"x"]}"#.utf8)) == .object(["a": .array([.number(1), .bool(true), .null, .string("x")])]))
        #expect(JSONValue.parse(Array("{nope".utf8)) == nil)
    }

    @Test("each dialect's message event carries the fields its example code reads")
    func shapes() {
        let m = JSONValue.object([
            "id": .string("m1"), "roomId": .string("r1"), "seq": .number(3), "senderId": .string("u1"), "senderName": .string("Alice"),
            "text": .string("Hello!"), "createdAt": .string("2026-12-01T00:00:00.000Z"),
        ])
        let broadcast = BroadcastDialect.message(m)
        #expect(broadcast["user"] == .string("Alice") && broadcast["text"] == .string("Hello!"))
        let live = LiveEventDialect.message(m)
        #expect(live["username"] == .string("Alice") && live["message"] == .string("Hello!") && live["eventId"] == .string("r1"))
        let hangout = HangoutDialect.message(m)
        #expect(hangout["message"] == .string("Hello!") && hangout["userId"] == .string("u1"))
        let collage = CollageMediaDialect.message(m)
        #expect(collage["senderId"] == .string("u1") && collage["from"] == .string("u1") && collage["text"] == .string("Hello!"))
        #expect(Set(Dialects.all.map(\.name)) == Set(ParleyConfiguration.dialects.dropFirst()))
    }
}
