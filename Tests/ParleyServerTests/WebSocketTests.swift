import Foundation
import Mongo
import NIOCore
import NIOWebSocket
import ParleyCore
import Testing

@Suite("WebSocket /ws: connection and auth")
struct WebSocketAuthTests {
    @Test("auth by header, by ?token= and by a first auth frame; ready then sync:done")
    func authWays() async throws {
        try await RestHarness.live { api, port in
            let (token, id) = try await api.register("alice")
            for ws in [WSTestClient(port: port, token: token), WSTestClient(port: port, token: token, tokenInQuery: true)] {
                let (ready, messages, done) = try await ws.sync()
                let me = try ready.data(Wire.Ready.self).user
                #expect(me.id == id && me.online && me.status == "online")
                #expect(ready.data["rooms"] is [Any] && messages.isEmpty)
                let counts = try done.data(Wire.SyncDone.self)
                #expect(counts.messages == 0 && counts.rooms == 0)
                #expect(try await ws.request("ping").ok)
                await ws.close()
            }
            let late = WSTestClient(port: port)
            late.send(#"{"type":"auth","token":"\#(token)"}"#)
            _ = try await late.sync()
            #expect(try await late.request("ping").ok)
            await late.close()
        }
    }

    @Test("no token, a bad token, or a wrong first frame: closed with 4401")
    func refused() async throws {
        try await RestHarness.live(configure: { $0.wsAuthTimeoutMs = 400 }) { api, port in
            let silent = WSTestClient(port: port)
            #expect(await silent.closeCode() == WebSocketErrorCode(codeNumber: 4401))
            let bad = WSTestClient(port: port, token: "not-a-token")
            #expect(await bad.closeCode() == WebSocketErrorCode(codeNumber: 4401))
            let wrongFirst = WSTestClient(port: port)
            wrongFirst.send(#"{"type":"ping","id":"1"}"#)
            #expect(await wrongFirst.closeCode() == WebSocketErrorCode(codeNumber: 4401))
            let badFrameToken = WSTestClient(port: port)
            badFrameToken.send(#"{"type":"auth","token":"x.y.z"}"#)
            #expect(await badFrameToken.closeCode() == WebSocketErrorCode(codeNumber: 4401))
            _ = api
        }
    }

    @Test("bad frames: malformed JSON, unknown events, wrong types get bad_request and the connection lives on")
    func badFrames() async throws {
        try await RestHarness.live { api, port in
            let (token, _) = try await api.register("alice")
            let ws = WSTestClient(port: port, token: token)
            _ = try await ws.sync()
            ws.send("{not json")
            #expect(try await ws.waitFor(type: "error").errorCode == "bad_request")
            ws.send("[1,2,3]")
            #expect(try await ws.waitFor(type: "error").errorCode == "bad_request")
            // An envelope that does not decode but carries an id is answered as its ack.
            ws.send(#"{"type": 7, "id": "odd"}"#)
            let odd = try await ws.waitFor { $0.type == "ack" && $0.id == "odd" }
            #expect(!odd.ok && odd.errorCode == "bad_request")
            let unknown = try await ws.request("no:such:event")
            #expect(!unknown.ok && unknown.errorCode == "bad_request")
            let wrongType = try await ws.request("message:send", #"{"roomId": {"$gt": ""}, "text": "x", "clientId": "c"}"#)
            #expect(wrongType.errorCode == "bad_request")
            let missing = try await ws.request("message:send", #"{"text": "x"}"#)
            #expect(missing.errorCode == "bad_request")
            let noData = try await ws.request("message:send", "null")
            #expect(noData.errorCode == "bad_request")
            let unknownRoom = try await ws.request("message:send", #"{"roomId": "\#(ObjectId().hex)", "text": "x", "clientId": "c"}"#)
            #expect(unknownRoom.errorCode == "not_found")
            ws.send(frame: WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: [1, 2, 3])))
            #expect(try await ws.waitFor(type: "error").errorCode == "bad_request")
            #expect(try await ws.request("ping").ok)
            #expect(try await ws.request("ping", "{}").ok)
            await ws.close()
        }
    }

    @Test("frames sent with the auth frame are served after ready, in order; a burst past the inbox's bound pauses reads and loses nothing")
    func framesInOrder() async throws {
        try await RestHarness.live { api, port in
            let (token, _) = try await api.register("alice")
            let ws = WSTestClient(port: port)
            // The auth frame and 300 requests back to back, before the session is open:
            // the inbox holds them behind authentication, and stops reading at 32.
            ws.send(#"{"type":"auth","token":"\#(token)"}"#)
            for i in 0..<300 { ws.send(#"{"type":"ping","id":"p\#(i)","data":{}}"#) }
            _ = try await ws.sync()
            for i in 0..<300 {
                let ack = try await ws.waitFor(type: "ack")
                #expect(ack.id == "p\(i)" && ack.ok)
            }
            #expect(try await ws.request("ping").ok)
            await ws.close()
        }
    }

    @Test("a frame over the size limit closes with 1009; invalid UTF-8 closes with 1007")
    func limits() async throws {
        try await RestHarness.live(configure: { $0.maxFrameBytes = 4096 }) { api, port in
            let (token, _) = try await api.register("alice")
            let big = WSTestClient(port: port, token: token)
            _ = try await big.sync()
            big.send(String(repeating: "x", count: 10_000))
            #expect(await big.closeCode() == .messageTooLarge)

            let garbled = WSTestClient(port: port, token: token)
            _ = try await garbled.sync()
            garbled.send(frame: WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: [0x7B, 0xFF, 0xFE, 0x7D])))
            let code = await garbled.closeCode()
            #expect(code == .dataInconsistentWithMessage, "closed with \(String(describing: code))")

            // Fragments joined over the limit: 1009 too.
            let joined = WSTestClient(port: port, token: token)
            _ = try await joined.sync()
            joined.send(frame: WebSocketFrame(fin: false, opcode: .text, data: ByteBuffer(string: String(repeating: "x", count: 3_000))))
            joined.send(frame: WebSocketFrame(fin: true, opcode: .continuation, data: ByteBuffer(string: String(repeating: "x", count: 3_000))))
            #expect(await joined.closeCode() == .messageTooLarge)
        }
    }

    @Test("a request in fragments, with a ping between them, is served as one; a continuation outside a message closes with 1002")
    func fragments() async throws {
        try await RestHarness.live { api, port in
            let (token, _) = try await api.register("alice")
            let ws = WSTestClient(port: port, token: token)
            _ = try await ws.sync()
            let request = #"{"type":"ping","id":"in-pieces","data":{}}"#.utf8
            let cut = request.index(request.startIndex, offsetBy: 10)
            ws.send(frame: WebSocketFrame(fin: false, opcode: .text, data: ByteBuffer(bytes: request[..<cut])))
            ws.send(frame: WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "between")))
            ws.send(frame: WebSocketFrame(fin: true, opcode: .continuation, data: ByteBuffer(bytes: request[cut...])))
            let ack = try await ws.waitFor(type: "ack")
            #expect(ack.id == "in-pieces" && ack.ok)
            #expect(try await ws.request("ping").ok)

            ws.send(frame: WebSocketFrame(fin: true, opcode: .continuation, data: ByteBuffer(string: "stray")))
            #expect(await ws.closeCode() == .protocolError)
            // The server is unharmed.
            let next = WSTestClient(port: port, token: token)
            _ = try await next.sync()
            #expect(try await next.request("ping").ok)
            await next.close()
        }
    }
}
