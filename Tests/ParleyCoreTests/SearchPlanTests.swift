import Foundation
import Mongo
import TestSupport
import Testing

@testable import ParleyCore

@Suite("Search plans: rare words through the index, common ones through the newest messages")
struct SearchPlanTests {
    static let none = Vocabulary.Expansion(words: [:], complete: true)

    @Test("the plan: the cheapest key; a key over the limit read from the newest messages when that is cheaper")
    func choose() {
        let rare = SearchPlan.choose(
            terms: ["deploy": 40, "friday": 90_000], expansion: .init(words: ["fr": 10], complete: true), messages: 1_000_000, wanted: 21,
            rooms: 100, directLimit: 3_000)
        #expect(rare == .index(.anyOf(["fr"])))
        let common = SearchPlan.choose(
            terms: ["the": 200_000], expansion: .init(words: ["to": 150_000, "today": 9_000], complete: true), messages: 1_000_000,
            wanted: 21, rooms: 100, directLimit: 3_000)
        #expect(common == .recent(share: 0.2 * 0.159))
        // Two common words that are rare together: the index of the rarer.
        let together = SearchPlan.choose(
            terms: ["status": 30_000, "release": 20_000], expansion: .init(words: ["x": 0], complete: true), messages: 1_000_000, wanted: 21,
            rooms: 100, directLimit: 1_000)
        #expect(together == .index(.anyOf(["x"])))
        let both = SearchPlan.choose(
            terms: ["status": 30_000, "release": 20_000], expansion: .init(words: ["team": 40_000], complete: true), messages: 1_000_000, wanted: 21,
            rooms: 100, directLimit: 1_000)
        #expect(both == .index(.word("release")))
        // Middling: 10,000 entries (1.2 s) against 4,200 messages and 200 queries.
        let middling = SearchPlan.choose(
            terms: [:], expansion: .init(words: ["release": 10_000], complete: true), messages: 1_000_000, wanted: 21, rooms: 100, directLimit: 3_000)
        #expect(middling == .recent(share: 0.01))
        let fewRooms = SearchPlan.choose(
            terms: [:], expansion: .init(words: ["release": 5_000], complete: true), messages: 1_000_000, wanted: 21, rooms: 1_000, directLimit: 3_000)
        #expect(fewRooms == .index(.anyOf(["release"])))
        // Nothing counted yet: the longest word, as before the counts.
        let uncounted = SearchPlan.choose(
            terms: ["on": 0, "deploy": 0], expansion: .init(words: ["fri": 0], complete: true), messages: 0, wanted: 21, rooms: 3, directLimit: 3_000)
        #expect(uncounted == .index(.word("deploy")))
        // A prefix with more words than an `$in` takes, and nothing else: no key at all.
        #expect(SearchPlan.choose(terms: [:], expansion: .init(words: ["ab": 1], complete: false), messages: 10, wanted: 21, rooms: 3, directLimit: 3_000)
            == .recent(share: 0.5))
        #expect(SearchPlan.choose(terms: ["a": 500_000], expansion: .init(words: ["ab": 1], complete: false), messages: 1_000_000, wanted: 21, rooms: 3,
                                  directLimit: 1_000) == .recent(share: 0.25))
    }

    @Test("word counts: handed over once a word reaches the threshold; a failed hand-over is put back")
    func counts() {
        let counts = WordCounts(threshold: 3, capacity: 4)
        for _ in 0..<2 { counts.count(["common", "rare1"]) }
        #expect(!counts.hasReady)
        counts.count(["common", "rare2"])
        #expect(counts.hasReady)
        let taken = counts.take()
        #expect(taken == .init(words: ["common": 3], messages: 3))
        counts.restore(taken)
        #expect(counts.take() == .init(words: ["common": 3], messages: 3))
        #expect(counts.take(everything: true).words == ["rare1": 2, "rare2": 1])
        // Past the capacity the words below the threshold are forgotten.
        for w in ["a", "b", "c", "d"] { counts.count([w]) }
        #expect(counts.take(everything: true).words.keys.sorted() == ["a", "b", "c", "d"])
        for w in ["a", "b", "c", "d", "e"] { counts.count([w]) }
        #expect(counts.take(everything: true).words.isEmpty)
    }

    @Test("the send path's counts reach the vocabulary by themselves, coalesced")
    func notedCountsAreStored() async throws {
        try await TestDatabase.with { db in
            try await MigrationRunner(database: db, migrations: try Migration.load(directory: RepoPaths.migrations)).apply()
            let vocabulary = Vocabulary(database: db, counts: WordCounts(threshold: 3), flushInterval: .milliseconds(1))
            for _ in 0..<3 { vocabulary.note(["often", "x"]) }
            vocabulary.note(["seldom"])
            var counted = try await vocabulary.counts(of: ["often", "x", "seldom"])
            // One flush is several upserts, the messages' entry last, read as they land.
            for _ in 0..<200 where counted.words["often"] == 0 || counted.messages < 3 {
                try await Task.sleep(for: .milliseconds(20))
                counted = try await vocabulary.counts(of: ["often", "x", "seldom"])
            }
            #expect(counted.words == ["often": 3, "x": 3, "seldom": 0])
            #expect(counted.messages >= 3)
            // A counted word is found by its prefixes (its entry made with them).
            #expect(try await vocabulary.expand("oft").words == ["often": 3])
        }
    }

    @Test("a database of the previous version: the words of its stored messages are counted room by room, set not added (twice is the same)")
    func recount() async throws {
        try await TestDatabase.with { db in
            let migrated = try await MigratedDatabase(db)
            let repos = migrated.repos
            let user = try await migrated.user("old")
            let rooms = RoomService(repos: repos, presence: PresenceRegistry())
            let a = try await rooms.create(.init(name: "a"), by: user).record.id, b = try await rooms.create(.init(name: "b"), by: user).record.id
            let texts = ["deploy on friday", "friday again", "no words at all?", "a deploy"]
            var records: [MessageRecord] = texts.enumerated().map { i, t in
                MessageRecord(roomId: i % 2 == 0 ? a : b, seq: i / 2 + 1, senderId: user.id, senderName: "o", text: t, clientId: "c\(i)",
                              extras: MessageExtras(words: SearchWords.index(t)))
            }
            // One stored past the room's trailing lastSeq, and one from before words existed.
            records.append(MessageRecord(roomId: a, seq: 3, senderId: user.id, senderName: "o", text: "friday late", clientId: "c9",
                                         extras: MessageExtras(words: SearchWords.index("friday late"))))
            records.append(MessageRecord(roomId: b, seq: 3, senderId: user.id, senderName: "o", text: "friday", clientId: "c10"))
            try await repos.messages.insert(records)
            try await repos.rooms.raiseLastSeq([a: 2, b: 3], at: Date())
            let vocabulary = Vocabulary(database: db)
            var recount = VocabularyRecount(database: db, vocabulary: vocabulary)
            recount.window = 1
            #expect(try await recount.isNeeded())
            for _ in 0..<2 {
                let done = try await recount.run()
                #expect(done.messages == 5)
                let counted = try await vocabulary.counts(of: ["friday", "deploy", "a", "late", "absent"])
                #expect(counted.words == ["friday": 3, "deploy": 2, "a": 1, "late": 1, "absent": 0] && counted.messages == 5)
            }
            #expect(try await !recount.isNeeded())
            #expect(try await vocabulary.expand("fri").words == ["friday": 3])
        }
    }

    /// An id made at `date`, unique by `n`.
    static func id(_ date: Date, _ n: Int) -> ObjectId {
        let floor = ObjectId(floorOf: date).byteArray
        return ObjectId(bytes: Array(floor[0..<4]) + [9, 9, 9, 9, 9, UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)])!
    }

    @Test("both readers find the same messages, newest first, over the caller's rooms only, page after page")
    func readersAgree() async throws {
        try await TestDatabase.with { db in
            let migrated = try await MigratedDatabase(db)
            let repos = migrated.repos
            let caller = try await migrated.user("caller")
            let other = try await migrated.user("other")
            let rooms = RoomService(repos: repos, presence: PresenceRegistry())
            var mine: [ObjectId] = []
            for i in 0..<3 { mine.append(try await rooms.create(.init(name: "mine \(i)"), by: caller).record.id) }
            let theirs = try await rooms.create(.init(name: "theirs"), by: other).record.id
            // Rooms made two hours ago, one quiet for the second half; 160 messages
            // since, every 15 s, a common word in every other one. Kept small: the
            // suites share one database server, and this test pages every query to
            // its end through three readers.
            let base = Date().addingTimeInterval(-7_200)
            for r in mine + [theirs] { _ = try await repos.rooms.update(id: r, set: ["createdAt": .date(base)]) }
            let all = mine + [theirs]
            var records: [MessageRecord] = []
            var seqs: [ObjectId: Int] = [:]
            for k in 0..<160 {
                var roomId = all[k % 4]
                if roomId == mine[2], k > 80 { roomId = mine[0] }
                seqs[roomId, default: 0] += 1
                let text = (k % 2 == 0 ? "status common " : "status ") + "word\(k % 7) item\(k)" + (k % 20 == 0 ? " release" : "")
                let at = base.addingTimeInterval(Double(k) * 15 + 60)
                records.append(
                    MessageRecord(
                        id: Self.id(at, k), roomId: roomId, seq: seqs[roomId]!, senderId: k % 3 == 0 ? other.id : caller.id, senderName: "x", text: text,
                        clientId: "c\(k)", createdAt: at, extras: MessageExtras(words: SearchWords.index(text))))
            }
            try await repos.messages.insert(records)
            for (r, seq) in seqs { try await repos.rooms.raiseLastSeq([r: seq], latest: [records.last { $0.roomId == r }!], at: records.last { $0.roomId == r }!.createdAt) }
            let vocabulary = Vocabulary(database: db)
            let counts = WordCounts(threshold: 1, capacity: .max)
            for m in records { counts.count(m.words ?? []) }
            try await vocabulary.learn(records.flatMap { $0.words ?? [] })
            try await vocabulary.add(counts.take(everything: true))

            let index = SearchService(rooms: rooms, vocabulary: vocabulary, strategy: .index)
            let recent = SearchService(rooms: rooms, vocabulary: vocabulary, strategy: .recent)
            let automatic = SearchService(rooms: rooms, vocabulary: vocabulary, directLimit: 50)
            func expected(_ terms: [String], prefix: String, in roomIds: [ObjectId] = mine, sender: ObjectId? = nil) -> [ObjectId] {
                records.filter { m in
                    let w = m.words ?? []
                    return roomIds.contains(m.roomId) && terms.allSatisfy(w.contains) && w.contains { $0.hasPrefix(prefix) }
                        && (sender == nil || m.senderId == sender)
                }.sorted { $0.id > $1.id }.map(\.id)
            }
            func pages(_ service: SearchService, _ q: String, limit: Int, roomId: String? = nil, sender: String? = nil, bySeq: Bool = false) async throws
                -> [ObjectId]
            {
                var out: [ObjectId] = []
                var before: String?
                for _ in 0..<100 {
                    let page = try await service.search(.init(q: q, roomId: roomId, senderId: sender, before: before, limit: limit), for: caller)
                    out += page.messages.map(\.id)
                    guard page.hasMore, let last = page.messages.last else { return out }
                    before = bySeq ? String(last.seq) : last.id.hex
                }
                Issue.record("more than 100 pages")
                return out
            }
            let cases: [(q: String, terms: [String], prefix: String)] = [
                ("common", [], "common"), ("status comm", ["status"], "comm"), ("word3 common", ["word3"], "common"), ("release", [], "release"),
                ("item1", [], "item1"), ("stat", [], "stat"), ("common rele", ["common"], "rele"),
            ]
            for c in cases {
                let want = expected(c.terms, prefix: c.prefix)
                for (name, service) in [("index", index), ("recent", recent), ("automatic", automatic)] {
                    let got = try await pages(service, c.q, limit: 25)
                    #expect(got == want, "\(name) \(c.q): \(got.count) against \(want.count)")
                }
            }
            // One room by seq, and one sender.
            let roomWant = expected(["status"], prefix: "common", in: [mine[1]])
            #expect(try await pages(recent, "status common", limit: 7, roomId: mine[1].hex, bySeq: true) == roomWant)
            #expect(try await pages(index, "status common", limit: 7, roomId: mine[1].hex, bySeq: true) == roomWant)
            let senderWant = expected([], prefix: "common", sender: other.id)
            #expect(try await pages(recent, "common", limit: 10, sender: other.id.hex) == senderWant)
            // The automatic plan reads "common" (80 of 160) from the newest messages:
            // the first page comes from the newest windows only.
            #expect(try await automatic.search(.init(q: "common", limit: 5), for: caller).messages.map(\.id) == Array(expected([], prefix: "common").prefix(5)))
        }
    }
}
