import Foundation
import HTTPTypes
import Hummingbird
import ParleyCore
import HummingbirdTesting
import Testing

@testable import ParleyServer

/// Engine.IO over HTTP long-polling, spoken by hand through the in-process client.
/// Packets a poll returned beyond the one asked for are kept for the next wait.
final class Polling: @unchecked Sendable {
    // @unchecked: used by one test task at a time.
    let api: Api
    let sid: String
    private var buffered: [String] = []

    init(api: Api, sid: String) {
        self.api = api
        self.sid = sid
    }

    static func open(_ api: Api) async throws -> (Polling, [String: Any]) {
        let r = try await api.call(.get, "/socket.io/?EIO=4&transport=polling")
        let body = String(decoding: r.body, as: UTF8.self)
        try #require(r.status == 200 && body.hasPrefix("0"), "handshake: \(r.status) \(body)")
        let handshake = try #require(try JSONSerialization.jsonObject(with: Data(body.dropFirst().utf8)) as? [String: Any])
        return (Polling(api: api, sid: try #require(handshake["sid"] as? String)), handshake)
    }

    /// One long-poll: the packets it returned.
    func get() async throws -> [String] {
        let r = try await api.call(.get, "/socket.io/?EIO=4&transport=polling&sid=\(sid)")
        try #require(r.status == 200, "poll: \(r.status) \(String(decoding: r.body, as: UTF8.self))")
        return String(decoding: r.body, as: UTF8.self).split(separator: "\u{1e}").map(String.init)
    }

    @discardableResult
    func post(_ packets: String...) async throws -> Reply {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain;charset=UTF-8"
        return try await api.client.execute(
            uri: "/socket.io/?EIO=4&transport=polling&sid=\(sid)", method: .post, headers: headers,
            body: ByteBuffer(string: packets.joined(separator: "\u{1e}"))
        ) { r in Reply(status: Int(r.status.code), headers: r.headers, body: Data(buffer: r.body)) }
    }

    /// The first packet (buffered first, then by polling) that satisfies `match`,
    /// taken out; every other packet stays buffered for later waits.
    func waitFor(_ match: (String) -> Bool) async throws -> String {
        var checked = 0
        for _ in 0..<20 {
            if let i = buffered[checked...].firstIndex(where: match) { return buffered.remove(at: i) }
            checked = buffered.count
            buffered += try await get()
        }
        throw WSTestError("no matching packet; unread: \(buffered.suffix(20))")
    }
}

@Suite("Socket.IO: Engine.IO and Socket.IO framing")
struct SocketIOProtocolTests {
    static func fastPings(_ c: inout ParleyConfiguration) {
        c.socketIOPingIntervalMs = 300
        c.socketIOPingTimeoutMs = 5000
    }

    @Test("handshake: sid, upgrades, pingInterval, pingTimeout, maxPayload")
    func handshake() async throws {
        try await RestHarness.with { api in
            let (_, h) = try await Polling.open(api)
            #expect((h["sid"] as? String)?.isEmpty == false)
            #expect(h["upgrades"] as? [String] == ["websocket"])
            #expect(h["pingInterval"] as? Int == 25_000 && h["pingTimeout"] as? Int == 20_000 && h["maxPayload"] as? Int == 65_536)
        }
    }

    @Test("wrong protocol version, unknown transport, unknown sid are Engine.IO errors")
    func engineErrors() async throws {
        try await RestHarness.with { api in
            let v3 = try await api.call(.get, "/socket.io/?EIO=3&transport=polling")
            #expect(v3.status == 400 && v3["code"] as? Int == 5)
            let transport = try await api.call(.get, "/socket.io/?EIO=4&transport=carrier-pigeon")
            #expect(transport.status == 400 && transport["code"] as? Int == 0)
            let sid = try await api.call(.get, "/socket.io/?EIO=4&transport=polling&sid=nope")
            #expect(sid.status == 400 && sid["code"] as? Int == 1)
        }
    }

    @Test("CONNECT with a token: 40 with a sid, then ready and sync:done as events; acks carry {ok, data}")
    func connectAndAck() async throws {
        try await RestHarness.with { api in
            let (token, id) = try await api.register("alice")
            let (p, _) = try await Polling.open(api)
            #expect(try await p.post(#"40{"token":"\#(token)"}"#).status == 200)
            let connected = try await p.waitFor { $0.hasPrefix("40") }
            #expect(connected.contains(#""sid":"#))
            let ready = try await p.waitFor { $0.hasPrefix(#"42["ready""#) }
            #expect(ready.contains(id))
            _ = try await p.waitFor { $0.hasPrefix(#"42["sync:done""#) }
            try await p.post(#"427["ping",{}]"#)
            let ack = try await p.waitFor { $0.hasPrefix("437") }
            #expect(ack.contains(#""ok":true"#) && ack.contains(#""data":{}"#) && ack.hasSuffix("}]"))
            try await p.post(#"428["no:such",{}]"#)
            let refused = try await p.waitFor { $0.hasPrefix("438") }
            #expect(refused.contains(#""ok":false"#) && refused.contains("bad_request"))
        }
    }

    @Test("CONNECT with a bad token or none: CONNECT_ERROR 44")
    func connectRefused() async throws {
        try await RestHarness.with { api in
            for auth in [#"{"token":"x.y.z"}"#, "", #"{"token":{"$gt":""}}"#] {
                let (p, _) = try await Polling.open(api)
                try await p.post("40" + auth)
                let error = try await p.waitFor { $0.hasPrefix("44") }
                #expect(error.contains("unauthorized"))
                // Events before a successful CONNECT go nowhere.
                try await p.post(#"421["ping",{}]"#)
                #expect(try await p.waitFor { $0.hasPrefix("44") }.contains("connect first"))
            }
        }
    }

    @Test("malformed packets and binary attachments get a clear error; the session lives on")
    func malformed() async throws {
        try await RestHarness.with { api in
            let (token, _) = try await api.register("bob")
            let (p, _) = try await Polling.open(api)
            try await p.post(#"40{"token":"\#(token)"}"#)
            _ = try await p.waitFor { $0.hasPrefix(#"42["sync:done""#) }
            try await p.post("4zz")
            #expect(try await p.waitFor { $0.hasPrefix(#"42["error""#) }.contains("bad_request"))
            try await p.post(#"42{"not":"an array"}"#)
            #expect(try await p.waitFor { $0.hasPrefix(#"42["error""#) }.contains("bad_request"))
            try await p.post(#"429[42,{}]"#)
            #expect(try await p.waitFor { $0.hasPrefix("439") }.contains("bad_request"))
            try await p.post(#"451-12["upload",{"_placeholder":true,"num":0}]"#)
            #expect(try await p.waitFor { $0.hasPrefix("4312") }.contains("POST /api/uploads"))
            try await p.post("40/admin,{}")
            #expect(try await p.waitFor { $0.hasPrefix("44/admin,") }.contains("Invalid namespace"))
            try await p.post("x")
            #expect(try await p.waitFor { $0.hasPrefix(#"42["error""#) }.contains("bad_request"))
            try await p.post(#"421["ping",{}]"#)
            #expect(try await p.waitFor { $0.hasPrefix("431") }.contains(#""ok":true"#))
        }
    }

    @Test("a body over maxPayload is 413 and ends the session")
    func oversized() async throws {
        try await RestHarness.with(configure: { $0.maxFrameBytes = 2048 }) { api in
            let (p, _) = try await Polling.open(api)
            let r = try await p.post(#"42["x",""# + String(repeating: "a", count: 5000) + #""]"#)
            #expect(r.status == 413)
            let after = try await api.call(.get, "/socket.io/?EIO=4&transport=polling&sid=\(p.sid)")
            #expect(after.status == 400 && after["code"] as? Int == 1)
        }
    }

    @Test("pings: the server pings every pingInterval; a client that never pongs is dropped")
    func pings() async throws {
        try await RestHarness.with(configure: Self.fastPings) { api in
            let (p, h) = try await Polling.open(api)
            #expect(h["pingInterval"] as? Int == 300 && h["pingTimeout"] as? Int == 5000)
            // Answering keeps the session alive across several intervals. The pongs go
            // out on their own, every 100 ms, as a client's would: not one poll's round
            // trip behind each ping, which a loaded machine can stretch past the
            // timeout (seen in CI, with every suite starting at once).
            let api = api, sid = p.sid
            let ponger = Task {
                while !Task.isCancelled {
                    var headers = HTTPFields()
                    headers[.contentType] = "text/plain;charset=UTF-8"
                    _ = try? await api.client.execute(
                        uri: "/socket.io/?EIO=4&transport=polling&sid=\(sid)", method: .post, headers: headers, body: ByteBuffer(string: "3")) { _ in }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            for _ in 0..<3 { _ = try await p.waitFor { $0 == "2" } }
            ponger.cancel()
            _ = await ponger.result
            // Not answering ends it: the session ends once its oldest ping is older than
            // pingTimeout. Wait for that state (the polls meanwhile return pings).
            let deadline = ContinuousClock.now + .seconds(30)
            var gone = try await api.call(.get, "/socket.io/?EIO=4&transport=polling&sid=\(p.sid)")
            while gone.status == 200, ContinuousClock.now < deadline {
                gone = try await api.call(.get, "/socket.io/?EIO=4&transport=polling&sid=\(p.sid)")
            }
            #expect(gone.status == 400 && gone["code"] as? Int == 1)
        }
    }

    @Test("packet parser: types, namespaces, ack ids, attachments")
    func parser() throws {
        let event = try #require(SocketIOPacket(#"2/chat,12["hi",{"a":[1,"]"]}]"#))
        #expect(event.kind == .event && event.namespace == "/chat" && event.ackId == 12 && event.payload == #"["hi",{"a":[1,"]"]}]"#)
        let connect = try #require(SocketIOPacket(#"0{"token":"t"}"#))
        #expect(connect.kind == .connect && connect.namespace == "/" && connect.ackId == nil)
        let binary = try #require(SocketIOPacket(#"51-3["x",{"_placeholder":true}]"#))
        #expect(binary.kind == .binaryEvent && binary.ackId == 3)
        #expect(SocketIOPacket("9") == nil && SocketIOPacket("") == nil && SocketIOPacket("x") == nil)
        #expect(SocketIOPacket("2999999999999999999[]") == nil)
    }

    @Test("array splitter: raw elements, strings with brackets and escapes, and refusals")
    func splitter() {
        #expect(SocketIOPacket.arrayElements(#"["a", {"b": "]\"}"}, [1, [2]], null]"#) == [#""a""#, #"{"b": "]\"}"}"#, "[1, [2]]", "null"])
        #expect(SocketIOPacket.arrayElements("[]") == [])
        #expect(SocketIOPacket.arrayElements(#"{"a":1}"#) == nil)
        #expect(SocketIOPacket.arrayElements("[1,2") == nil)
        #expect(SocketIOPacket.arrayElements("[1,,2]") == nil)
        #expect(SocketIOPacket.arrayElements("[1] trailing") == nil)
    }
}
