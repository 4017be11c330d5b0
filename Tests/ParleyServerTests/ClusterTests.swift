import Foundation
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
                    for client in [one, two] {
                        let deadline = ContinuousClock.now + .seconds(20)
                        while ContinuousClock.now < deadline {
                            let nodes = try await client.execute(uri: "/healthz", method: .get) { r -> Int? in
                                r.status == .ok ? (try? JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])?["nodes"] as? Int : nil
                            }
                            if nodes == 2 { break }
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
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
            // Bob answers from node b: Alice on node a gets it.
            let reply = try await pair.send(b, "back", clientId: "r1").message()
            #expect(try await a.waitFor("message:new", as: Wire.MessageData.self) { $0.message.id == reply.id }.message == reply)
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
}
