import Foundation
import Mongo
import TestSupport
import Testing

@testable import ParleyCore

/// The offline queue as `SyncService` reads it: the snapshot's heads, the windows of
/// a backlog, and what they return from the real database.
@Suite("Sync: the offline queue's windows")
struct SyncServiceTests {
    @Test("windows: size seqs each while more than size remain below the head, the last one open")
    func windows() throws {
        func windows(after: Int, head: Int, size: Int) -> [Backlog.Window] { Backlog.windows(after: after, head: head, size: size) }
        #expect(windows(after: 0, head: 7, size: 3) == [.init(above: 0, through: 3), .init(above: 3, through: 6), .init(above: 6, through: nil)])
        #expect(windows(after: 0, head: 6, size: 3) == [.init(above: 0, through: 3), .init(above: 3, through: nil)])
        #expect(windows(after: 5, head: 7, size: 3) == [.init(above: 5, through: nil)])
        // Nothing owed as of the snapshot: one open read for what was stored since.
        #expect(windows(after: 9, head: 9, size: 1_000) == [.init(above: 9, through: nil)])
        #expect(windows(after: 0, head: 10_000, size: 1_000).count == 10)
        // Sized so that a window of the longest messages stays within 32 MiB.
        #expect(SyncService.window(messageMaxChars: 4_000) == 1_000)
        #expect(SyncService.window(messageMaxChars: 100_000) == 83)
        #expect(SyncService.window(messageMaxChars: 100_000) * (100_000 * 4 + 4_096) <= 32 << 20)
    }

    @Test("a member away from three rooms: every message above their cursor in seq order, gaps skipped, past a trailing lastSeq and stored after the snapshot")
    func backlogFromTheDatabase() async throws {
        try await TestDatabase.with { db in
            let migrated = try await MigratedDatabase(db)
            let repos = migrated.repos
            let owner = try await migrated.user("owner"), away = try await migrated.user("away")
            let rooms = RoomService(repos: repos, presence: PresenceRegistry())
            var ids: [ObjectId] = []
            for name in ["a", "b", "c"] {
                let id = try await rooms.create(.init(name: name), by: owner).record.id
                _ = try await rooms.join(id, user: away)
                ids.append(id)
            }
            let (a, b, c) = (ids[0], ids[1], ids[2])
            func message(_ room: ObjectId, _ seq: Int) -> MessageRecord {
                MessageRecord(roomId: room, seq: seq, senderId: owner.id, senderName: "owner", text: "\(seq)", clientId: "\(room.hex)-\(seq)")
            }
            // Room a: seqs 1 to 8 but 4 (a send whose seq was taken and never stored),
            // inserted out of order; lastSeq trails at 7. Room b: 1 to 5, 2 delivered.
            // Room c: 1 to 2, both delivered.
            try await repos.messages.insert([8, 2, 1, 3, 7, 5, 6].map { message(a, $0) })
            try await repos.messages.insert((1...5).map { message(b, $0) } + (1...2).map { message(c, $0) })
            try await repos.rooms.raiseLastSeq([a: 7, b: 5, c: 2], at: Date())
            _ = try await repos.memberships.advance(roomId: b, userId: away.id, deliveredSeq: 2, readSeq: nil, updatesSeen: nil)
            _ = try await repos.memberships.advance(roomId: c, userId: away.id, deliveredSeq: 2, readSeq: nil, updatesSeen: nil)

            let sync = SyncService(rooms: rooms, window: 3)
            let snapshot = try await sync.snapshot(for: away)
            // The heads are read room by room past each room's lastSeq.
            #expect(snapshot.heads[a] == 8 && snapshot.heads[b] == 5 && snapshot.heads[c] == 2)
            #expect(Set(snapshot.owed.map(\.roomId)) == [a, b])
            // Stored after the snapshot: the open window brings it.
            try await repos.messages.insert([message(a, 9)])

            var read: [ObjectId: [Int]] = [:]
            for m in snapshot.owed {
                let backlog = sync.backlog(of: m, in: snapshot)
                for i in backlog.windows.indices { read[m.roomId, default: []] += try await backlog.read(i).map(\.seq) }
                if m.roomId == a { #expect(backlog.windows.count == 3) }
            }
            #expect(read[a] == [1, 2, 3, 5, 6, 7, 8, 9])
            #expect(read[b] == [3, 4, 5])
        }
    }

    @Test("heads of many rooms at once: only the rooms with messages above the given seq, each at its highest")
    func highestSeqs() async throws {
        try await TestDatabase.with { db in
            let migrated = try await MigratedDatabase(db)
            let repos = migrated.repos
            let owner = try await migrated.user("owner")
            let rooms = (0..<20).map { _ in ObjectId() }
            // Room i holds seqs 1...i.
            try await repos.messages.insert(
                rooms.enumerated().flatMap { i, room in
                    (0..<i).map { s in
                        MessageRecord(roomId: room, seq: s + 1, senderId: owner.id, senderName: "o", text: "t", clientId: "\(i)-\(s)")
                    }
                })
            let above = Dictionary(uniqueKeysWithValues: rooms.enumerated().map { i, room in (room, i / 2) })
            let found = try await repos.messages.highestSeqs(above: above)
            let expected = Dictionary(uniqueKeysWithValues: rooms.enumerated().compactMap { i, room in i > i / 2 ? (room, i) : nil })
            #expect(found == expected)
        }
    }

    @Test("originals of retried sends: by sender and clientId, over several senders")
    func originals() async throws {
        try await TestDatabase.with { db in
            let migrated = try await MigratedDatabase(db)
            let repos = migrated.repos
            let a = try await migrated.user("sender-a"), b = try await migrated.user("sender-b")
            let room = ObjectId()
            let stored = [(a, "x"), (a, "y"), (b, "x"), (b, "z")].enumerated().map { i, s in
                MessageRecord(roomId: room, seq: i + 1, senderId: s.0.id, senderName: s.0.username, text: "t", clientId: s.1)
            }
            try await repos.messages.insert(stored)
            let found = try await repos.messages.find(clientKeys: [(a.id, "x"), (b.id, "z"), (a.id, "y"), (b.id, "missing")])
            #expect(Set(found.map(\.seq)) == [1, 2, 4])
            #expect(try await repos.messages.find(clientKeys: [(b.id, "x")]).map(\.seq) == [3])
        }
    }
}
