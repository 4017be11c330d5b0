import Foundation
import Mongo
import ParleyCore

/// `parley-bench search`: query time of `GET /api/messages/search` over a room set
/// holding `messages` stored messages. The messages are written straight into the
/// server's database (as the send pipeline stores them: their folded words, the
/// vocabulary with its prefixes and counts), which takes minutes where sending them would take
/// an hour; the queries go through the server's REST API, as a client's do.
enum SearchScenario {
    static func run(
        _ target: BenchTarget, uri: String, database: String, messages: Int, rooms: Int, vocabulary: Int, queries: Int, batch: Int,
        reuse: Bool = false
    ) async throws -> BenchResult {
        let rest = target.rest
        // A vocabulary with a Zipf-like use: a few words everywhere, most rare.
        var rng = SystemRandomNumberGenerator()
        let words = (0..<vocabulary).map { i in Self.word(i) }
        func pick() -> String {
            let u = Double.random(in: 0..<1, using: &rng)
            return words[min(vocabulary - 1, Int(pow(Double(vocabulary), u)) - 1)]
        }
        if reuse {
            // The messages an earlier run stored: its user searches them again.
            let client = try MongoClient(configuration: MongoConfiguration(uri: uri, threadCount: 1, extraClients: 1))
            let found = try await client.database(database).collection("users").find(
                ["username": ["$regex": "^bench_search_"]], options: FindOptions(limit: 1)
            ).toArray()
            try await client.shutdown()
            guard let name = found.first?["username"]?.stringValue else { throw RestClient.Failure(description: "no earlier search run in \(database)") }
            let user = try await rest.user(name)
            return try await query(rest, user.token, queries: queries, pick: pick, parameters: ["messages": "stored by an earlier run", "vocabulary": "\(vocabulary)"])
        }
        let user = try await rest.user("bench_search_\(UUID().uuidString.prefix(6))")
        var roomIds: [ObjectId] = []
        for i in 0..<rooms { roomIds.append(ObjectId(try await rest.createRoom(user.token, name: "search \(i)"))!) }
        // A bulk load: a batch may take seconds on a database this full (the default
        // deadline is a request's).
        let client = try MongoClient(configuration: MongoConfiguration(uri: uri, threadCount: 2, extraClients: 2, operationTimeoutMS: 300_000))
        let db = client.database(database)
        progress("search: storing \(messages) messages in \(rooms) rooms, vocabulary \(vocabulary)")
        // The counts the nodes keep as messages are sent (`WordCounts`), written once.
        let vocabularyStore = Vocabulary(database: db, counts: WordCounts(threshold: 1, capacity: .max))
        try await vocabularyStore.learn(words.map { SearchWords.fold($0) })
        let typed = db.collection("messages", withType: MessageRecord.self)
        let sender = ObjectId(user.id)!
        let start = ContinuousClock.now
        var next = Array(repeating: 0, count: rooms)
        var stored = 0
        while stored < messages {
            var docs: [MessageRecord] = []
            for _ in 0..<min(batch, messages - stored) {
                let r = stored % rooms
                next[r] += 1
                let text = (0..<Int.random(in: 4...14, using: &rng)).map { _ in pick() }.joined(separator: " ")
                vocabularyStore.counts.count(SearchWords.words(text))
                docs.append(
                    MessageRecord(
                        roomId: roomIds[r], seq: next[r], senderId: sender, senderName: "bench", text: text, clientId: "s\(stored)",
                        extras: MessageExtras(words: SearchWords.index(text))))
                stored += 1
            }
            try await typed.insertMany(docs, ordered: false)
            if stored % 100_000 < batch { progress("search: \(stored) stored, \(Int(Self.seconds(ContinuousClock.now - start))) s") }
        }
        try await db.collection("rooms").updateEach(
            roomIds.enumerated().map { i, r in (["_id": .objectId(r)], ["$max": ["lastSeq": .int64(Int64(next[i]))]]) })
        try await vocabularyStore.flush(everything: true)
        let loadSeconds = Self.seconds(ContinuousClock.now - start)
        try await client.shutdown()

        return try await query(
            rest, user.token, queries: queries, pick: pick,
            parameters: [
                "messages": "\(messages)", "rooms": "\(rooms)", "vocabulary": "\(vocabulary)", "load": String(format: "%.0f s", loadSeconds),
            ])
    }

    /// Queries as people type them: one word, two words, two words and a prefix, a
    /// prefix alone; common and rare words alike.
    static func query(_ rest: RestClient, _ token: String, queries: Int, pick: () -> String, parameters: [String: String]) async throws -> BenchResult {
        let tally = Tally()
        var found = 0
        var slowest: (Double, String) = (0, "")
        for q in 0..<queries {
            let query: String
            switch q % 4 {
            case 0: query = pick()
            case 1: query = "\(pick()) \(pick())"
            case 2: query = "\(pick()) \(pick()) \(String(pick().prefix(3)))"
            default: query = String(pick().prefix(3))
            }
            let t = Stamp.now()
            let r = try await rest.call("GET", "/api/messages/search?q=\(query.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&limit=20", token: token)
            let ns = Stamp.now() - t
            tally.record(nanoseconds: ns)
            if Double(ns) > slowest.0 { slowest = (Double(ns), query) }
            found += (r["messages"] as? [Any])?.count ?? 0
        }
        var p = parameters
        p["queries"] = "\(queries)"
        p["slowest query"] = "\"\(slowest.1)\" (\(Int(slowest.0 / 1e6)) ms)"
        return BenchResult(
            scenario: "search", parameters: p,
            figures: [
                "query p50 ms": tally.latencyMs(50), "query p99 ms": tally.latencyMs(99), "query max ms": tally.latencyMs(100),
                "results per query": Double(found) / Double(max(1, queries)),
            ])
    }

    /// A made-up word of 3 to 10 letters, distinct per index.
    static func word(_ i: Int) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        var n = i
        var s = ""
        repeat {
            s.append(letters[n % 26])
            n /= 26
        } while n > 0
        let pad = ["", "er", "ing", "ous", "al", "ment"][i % 6]
        return String((s + pad + "ax").prefix(max(3, min(10, s.count + pad.count + 1))))
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
