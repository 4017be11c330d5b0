import Foundation
import Mongo
import ParleyCore
import Testing

@Suite("REST: rooms and events")
struct RoomRoutesTests {
    @Test("create: 201, the creator is the first member, the shape is the contract's")
    func create() async throws {
        try await RestHarness.with { api in
            let (token, id) = try await api.register("owner")
            let r = try await api.call(.post, "/api/rooms", token: token, json: #"{"name": "  General  ", "topic": "talk"}"#)
            #expect(r.status == 201)
            let room = try #require(r["room"] as? [String: Any])
            for key in ["id", "name", "kind", "topic", "private", "createdBy", "createdAt", "memberCount", "lastSeq", "readSeq", "deliveredSeq", "unread"] {
                #expect(room[key] != nil, "missing \(key)")
            }
            let typed = try r.decode(Wire.RoomData.self).room
            #expect(typed.name == "General" && typed.kind == "group" && !typed.private && typed.topic == "talk")
            #expect(typed.createdBy == id && typed.memberCount == 1 && typed.lastSeq == 0 && typed.unread == 0 && typed.readSeq == 0)
        }
    }

    @Test("create refuses bad input with 400", arguments: [
        #"{"name": ""}"#, #"{"name": "   "}"#, #"{"name": "\#(String(repeating: "n", count: 101))"}"#, #"{"name": "x", "kind": "direct"}"#,
        #"{"name": "x", "kind": "party"}"#, #"{"name": {"$gt": ""}}"#, #"{"name": "x", "private": "yes"}"#,
        #"{"name": "x", "startsAt": "2030-01-01T00:00:00Z"}"#, #"{"name": "x", "kind": "event", "startsAt": "tomorrow"}"#,
        #"{"name": "x", "kind": "event", "startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"}"#, #"{}"#,
    ])
    func createInvalid(body: String) async throws {
        try await RestHarness.with { api in
            let (token, _) = try await api.register("owner")
            let r = try await api.call(.post, "/api/rooms", token: token, json: body)
            #expect(r.status == 400 && r.errorCode == "bad_request", "\(body) -> \(r.status)")
            #expect(try await api.database.collection("rooms").countDocuments() == 0)
        }
    }

    @Test("visibility: public rooms for all, private rooms only for members (404 otherwise)")
    func visibility() async throws {
        try await RestHarness.with { api in
            let (alice, _) = try await api.register("alice")
            let (bob, _) = try await api.register("bob")
            let open = try await api.createRoom(alice, #"{"name": "open"}"#)
            let secret = try await api.createRoom(alice, #"{"name": "secret", "private": true}"#)

            let bobs = try await api.call(.get, "/api/rooms", token: bob)
            let bobsRooms = try bobs.decode(Wire.Rooms.self).rooms
            #expect(bobsRooms.contains { $0.id == open } && !bobsRooms.contains { $0.id == secret })
            let bobsView = bobsRooms.first { $0.id == open }
            #expect(bobsView?.readSeq == nil && bobsView?.unread == nil)
            let alices = try await api.call(.get, "/api/rooms", token: alice)
            #expect(Set(try alices.decode(Wire.Rooms.self).rooms.map(\.id)) == [open, secret])

            #expect(try await api.call(.get, "/api/rooms/\(secret)", token: bob).status == 404)
            #expect(try await api.call(.post, "/api/rooms/\(secret)/join", token: bob).status == 404)
            #expect(try await api.call(.get, "/api/rooms/\(secret)", token: alice).status == 200)
            #expect(try await api.call(.get, "/api/rooms/\(ObjectId().hex)", token: alice).status == 404)
            #expect(try await api.call(.get, "/api/rooms/zzz", token: alice).status == 404)
            #expect(try await api.call(.get, "/api/rooms").status == 401)
        }
    }

    @Test("join, get with participants, rejoin is harmless, leave")
    func joinAndLeave() async throws {
        try await RestHarness.with { api in
            let (alice, aliceId) = try await api.register("alice")
            let (bob, bobId) = try await api.register("bob")
            let room = try await api.createRoom(alice, #"{"name": "lounge"}"#)
            try await api.seedMessages(room: room, sender: aliceId, count: 3)

            let joined = try await api.call(.post, "/api/rooms/\(room)/join", token: bob)
            #expect(joined.status == 200)
            let r = try joined.decode(Wire.RoomData.self).room
            #expect(r.memberCount == 2 && r.lastSeq == 3)
            // A new member starts at the present: earlier messages are not unread.
            #expect(r.readSeq == 3 && r.unread == 0)
            let again = try await api.call(.post, "/api/rooms/\(room)/join", token: bob)
            #expect(try again.decode(Wire.RoomData.self).room.memberCount == 2)

            let details = try await api.call(.get, "/api/rooms/\(room)", token: bob).decode(Wire.RoomDetails.self)
            #expect(Set(details.participants.map(\.id)) == [aliceId, bobId])

            let left = try await api.call(.post, "/api/rooms/\(room)/leave", token: bob)
            #expect(left.status == 200 && left.json.isEmpty)
            #expect(try await api.call(.post, "/api/rooms/\(room)/leave", token: bob).status == 200)
            let after = try await api.call(.get, "/api/rooms/\(room)", token: alice)
            #expect(try after.decode(Wire.RoomDetails.self).room.memberCount == 1)
            #expect(try await api.call(.post, "/api/rooms/\(ObjectId().hex)/join", token: bob).status == 404)
        }
    }

    @Test("direct rooms are invisible to and never joinable by a third user")
    func directRooms() async throws {
        try await RestHarness.with { api in
            let (_, aliceId) = try await api.register("alice")
            let (_, bobId) = try await api.register("bob")
            let (carol, _) = try await api.register("carol")
            let service = RoomService(repos: api.repos, presence: PresenceRegistry())
            let a = try #require(try await api.repos.users.find(id: ObjectId(aliceId)!))
            let b = try #require(try await api.repos.users.find(id: ObjectId(bobId)!))
            let direct = try #require(try await service.directRoom(between: a, and: b, create: true))
            let same = try await service.directRoom(between: b, and: a, create: true)
            #expect(same?.id == direct.id)
            #expect(try await api.call(.get, "/api/rooms/\(direct.id.hex)", token: carol).status == 404)
            #expect(try await api.call(.post, "/api/rooms/\(direct.id.hex)/join", token: carol).status == 404)
            #expect(try await api.repos.memberships.find(roomId: direct.id, userId: ObjectId(aliceId)!) != nil)
        }
    }

    @Test("events: create with times, list only events, 404 for a group room under /api/events")
    func events() async throws {
        try await RestHarness.with { api in
            let (token, _) = try await api.register("host")
            let r = try await api.call(
                .post, "/api/events", token: token,
                json: #"{"name": "Launch", "startsAt": "2030-05-01T18:00:00Z", "endsAt": "2030-05-01T19:30:00.500Z"}"#)
            #expect(r.status == 201)
            let event = try r.decode(Wire.EventData.self).event
            #expect(event.kind == "event")
            #expect(event.startsAt == "2030-05-01T18:00:00.000Z" && event.endsAt == "2030-05-01T19:30:00.500Z")
            let eventId = event.id
            let group = try await api.createRoom(token, #"{"name": "chatter"}"#)

            let list = try await api.call(.get, "/api/events", token: token)
            #expect(try list.decode(Wire.Events.self).events.map(\.id) == [eventId])
            let one = try await api.call(.get, "/api/events/\(eventId)", token: token)
            let details = try one.decode(Wire.EventData.self)
            #expect(one.status == 200 && details.event.id == eventId && details.participants != nil)
            #expect(try await api.call(.get, "/api/events/\(group)", token: token).status == 404)
            #expect(try await api.call(.post, "/api/events", token: token, json: #"{"name": "x", "kind": "group"}"#).status == 400)
            // An event room's times also come back through /api/rooms.
            let room = try await api.call(.get, "/api/rooms/\(eventId)", token: token)
            #expect(try room.decode(Wire.RoomDetails.self).room.startsAt == "2030-05-01T18:00:00.000Z")
        }
    }
}
