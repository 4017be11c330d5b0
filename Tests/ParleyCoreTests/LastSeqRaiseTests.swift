import Foundation
import Mongo
import ParleyCore
import TestSupport
import Testing

/// `RoomRepository.raiseLastSeq` against the real database: one statement per room
/// raises `lastSeq` and records `lastMessage`; marks and latest messages from several
/// nodes, in any order, never lower either, and `lastSeq` never trails `lastMessage`.
@Suite("Raising lastSeq and lastMessage")
struct LastSeqRaiseTests {
    static func message(_ room: ObjectId, _ seq: Int, by sender: UserRecord) -> MessageRecord {
        MessageRecord(roomId: room, seq: seq, senderId: sender.id, senderName: sender.displayName, text: "m\(seq)", clientId: "c\(seq)")
    }

    static func room(_ repos: ParleyRepositories, _ id: ObjectId) async throws -> RoomRecord { try #require(try await repos.rooms.find(id: id)) }

    @Test("the latest message raises lastSeq and lastMessageAt and is recorded; an older one from another node changes nothing")
    func latestAndOlder() async throws {
        try await TestDatabase.with { db in
            let (repos, user, room) = try await SendPipelineTests.setUp(db)
            let t1 = Date(timeIntervalSince1970: 1_800_000_000)
            try await repos.rooms.raiseLastSeq([room: 3], latest: [Self.message(room, 3, by: user)], at: t1)
            var r = try await Self.room(repos, room)
            #expect(r.lastSeq == 3 && r.lastMessageSeq == 3 && r.lastMessage?.seq == 3 && r.lastMessage?.text == "m3")
            #expect(r.lastMessageAt == t1)

            // Another node's raise for an earlier message, arriving late with a later clock.
            try await repos.rooms.raiseLastSeq([room: 2], latest: [Self.message(room, 2, by: user)], at: t1.addingTimeInterval(5))
            r = try await Self.room(repos, room)
            #expect(r.lastSeq == 3 && r.lastMessageSeq == 3 && r.lastMessage?.text == "m3" && r.lastMessageAt == t1)

            // The same message again (a retried raise) is a no-op too.
            try await repos.rooms.raiseLastSeq([room: 3], latest: [Self.message(room, 3, by: user)], at: t1.addingTimeInterval(9))
            #expect(try await Self.room(repos, room).lastMessageAt == t1)
        }
    }

    @Test("a mark beyond the latest message (a reader's learn) raises lastSeq even where a later lastMessage stands")
    func markBeyondLatest() async throws {
        try await TestDatabase.with { db in
            let (repos, user, room) = try await SendPipelineTests.setUp(db)
            try await repos.rooms.raiseLastSeq([room: 9], latest: [Self.message(room, 5, by: user)], at: Date())
            var r = try await Self.room(repos, room)
            #expect(r.lastSeq == 9 && r.lastMessageSeq == 5 && r.lastMessage?.seq == 5)

            try await repos.rooms.raiseLastSeq([room: 7], latest: [Self.message(room, 7, by: user)], at: Date())
            r = try await Self.room(repos, room)
            #expect(r.lastSeq == 9 && r.lastMessageSeq == 7)

            // lastMessage 7 stands against 6, and lastSeq still goes to 12.
            try await repos.rooms.raiseLastSeq([room: 12], latest: [Self.message(room, 6, by: user)], at: Date())
            r = try await Self.room(repos, room)
            #expect(r.lastSeq == 12 && r.lastMessageSeq == 7 && r.lastMessage?.text == "m7")
        }
    }

    @Test("several rooms in one raise: with and without a latest message, each its own")
    func severalRooms() async throws {
        try await TestDatabase.with { db in
            let (repos, user, a) = try await SendPipelineTests.setUp(db)
            let rooms = RoomService(repos: repos, presence: PresenceRegistry())
            let b = try await rooms.create(.init(name: "b"), by: user).record.id
            let c = try await rooms.create(.init(name: "c"), by: user).record.id
            try await repos.rooms.raiseLastSeq(
                [a: 4, b: 2, c: 6], latest: [Self.message(a, 4, by: user), Self.message(a, 3, by: user), Self.message(c, 6, by: user)], at: Date())
            let (ra, rb, rc) = (try await Self.room(repos, a), try await Self.room(repos, b), try await Self.room(repos, c))
            #expect(ra.lastSeq == 4 && ra.lastMessage?.seq == 4)
            #expect(rb.lastSeq == 2 && rb.lastMessage == nil && rb.lastMessageAt != nil)
            #expect(rc.lastSeq == 6 && rc.lastMessageSeq == 6)
        }
    }

    @Test("a room the previous version raised (lastSeq and lastMessage already set) takes the next raise")
    func afterPreviousVersion() async throws {
        try await TestDatabase.with { db in
            let (repos, user, room) = try await SendPipelineTests.setUp(db)
            // The previous version's two statements, as it wrote them.
            let old = Self.message(room, 10, by: user)
            _ = try await db.runCommand([
                "update": "rooms",
                "updates": [
                    ["q": ["_id": .objectId(room)], "u": ["$max": ["lastSeq": 10, "lastMessageAt": .date(Date())]]],
                    ["q": ["_id": .objectId(room)], "u": ["$set": ["lastMessage": .document(try BSONEncoder().encode(old)), "lastMessageSeq": 10]]],
                ],
            ])
            try await repos.rooms.raiseLastSeq([room: 11], latest: [Self.message(room, 11, by: user)], at: Date())
            let r = try await Self.room(repos, room)
            #expect(r.lastSeq == 11 && r.lastMessageSeq == 11 && r.lastMessage?.text == "m11")
        }
    }
}
