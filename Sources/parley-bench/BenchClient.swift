import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// REST calls of the wire contract, with URLSession.
struct RestClient: Sendable {
    let base: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
        var status = 0
    }

    /// One request; a 503 (the database is away: the contract's "try again") is
    /// retried for up to half a minute before it fails the scenario.
    func call(_ method: String, _ path: String, token: String? = nil, body: [String: Any]? = nil) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let (data, response) = try await Self.send(request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            if status == 503, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
                continue
            }
            let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            guard (200..<300).contains(status) else {
                throw Failure(description: "\(method) \(path): \(status) \(String(decoding: data, as: UTF8.self))", status: status)
            }
            return json
        }
    }

    /// The request in a task of its own, which the caller's cancellation does not
    /// reach: cancelling a URLSession task while its answer completes deadlocks
    /// swift-corelibs-foundation (seen when one of a task group's requests failed
    /// and the group cancelled the others: the bench hung for good).
    private static func send(_ request: URLRequest) async throws -> (Data, URLResponse) {
        try await Task { try await URLSession.shared.data(for: request) }.value
    }

    /// Registers a user (or logs in when it exists) and returns its token and id.
    func user(_ name: String) async throws -> (token: String, id: String) {
        let body: [String: Any] = ["username": name, "password": "bench-password-1"]
        let r: [String: Any]
        do {
            r = try await call("POST", "/api/auth/register", body: body)
        } catch let failure as Failure where failure.status == 409 {
            r = try await call("POST", "/api/auth/login", body: body)
        }
        return (r["token"] as! String, (r["user"] as! [String: Any])["id"] as! String)
    }

    func createRoom(_ token: String, name: String) async throws -> String {
        ((try await call("POST", "/api/rooms", token: token, body: ["name": name]))["room"] as! [String: Any])["id"] as! String
    }

    func join(_ token: String, room: String) async throws { _ = try await call("POST", "/api/rooms/\(room)/join", token: token) }
}

/// One `/ws` connection for the bench. Frames are classified by scanning bytes, not
/// parsed, so the generator spends as little of the shared CPU as it can.
final class BenchSocket: Sendable {
    enum FrameKind { case messageNew, ack, syncDone, other }

    /// Who waits for `sync:done`, shared with the connection's task.
    final class Gate: Sendable {
        let waiter = Mutex<CheckedContinuation<Void, any Error>?>(nil)
        let passed = Mutex(false)

        func open(_ error: (any Error)? = nil) {
            if error == nil { passed.withLock { $0 = true } }
            waiter.withLock { c in
                if let error { c?.resume(throwing: error) } else { c?.resume() }
                c = nil
            }
        }
    }

    private let outbox: AsyncStream<String>.Continuation
    private let gate = Gate()
    let task: Task<Void, any Error>

    /// Connects with the token in the header and waits for `sync:done`. `onFrame` sees
    /// every frame (text) after that, with its kind. With `socketIO`, `url` is the
    /// server's Socket.IO WebSocket transport (`socketIOURL`): the token goes in
    /// CONNECT and Engine.IO's pings are answered.
    static func open(
        url: String, token: String, socketIO: Bool = false, onFrame: @escaping @Sendable (FrameKind, String) -> Void
    ) async throws -> BenchSocket {
        let socket = BenchSocket(url: url, token: token, socketIO: socketIO, onFrame: onFrame)
        try await withCheckedThrowingContinuation { c in
            let alreadyDone = socket.gate.passed.withLock { d -> Bool in
                if !d { socket.gate.waiter.withLock { $0 = c } }
                return d
            }
            if alreadyDone { c.resume() }
        }
        return socket
    }

    /// The Socket.IO WebSocket transport of the server whose `/ws` is `wsURL`.
    static func socketIOURL(_ wsURL: String) -> String {
        String(wsURL.dropLast(3)) + "/socket.io/?EIO=4&transport=websocket"
    }

    private init(url: String, token: String, socketIO: Bool, onFrame: @escaping @Sendable (FrameKind, String) -> Void) {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        outbox = continuation
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        let gate = self.gate
        task = Task {
            do {
                try await WebSocketClient.connect(
                    url: url, configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers), logger: Logger(label: "bench")
                ) { inbound, outbound, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                guard case .text(let text) = message else { continue }
                                if socketIO {
                                    // Engine.IO: the handshake asks for CONNECT, a ping for a pong.
                                    if text.hasPrefix("0{") { continuation.yield(#"40{"token":"\#(token)"}"#) }
                                    if text == "2" { continuation.yield("3") }
                                }
                                let kind = BenchSocket.kind(of: text)
                                if kind == .syncDone {
                                    gate.open()
                                    continue
                                }
                                onFrame(kind, text)
                            }
                        }
                        group.addTask {
                            for await text in stream { try await outbound.write(.text(text)) }
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                        _ = try await group.next()
                        group.cancelAll()
                    }
                }
            } catch {
                gate.open(error)
                throw error
            }
            gate.open(RestClient.Failure(description: "closed before sync:done"))
        }
    }

    static func kind(of text: String) -> FrameKind {
        if text.hasPrefix(#"{"type":"message:new""#) { return .messageNew }
        if text.hasPrefix(#"{"type":"ack""#) || text.contains(#""type":"ack""#) { return .ack }
        if text.contains(#""type":"sync:done""#) || text.hasPrefix(#"42["sync:done""#) { return .syncDone }
        if text.contains(#""type":"message:new""#) { return .messageNew }
        return .other
    }

    func send(_ text: String) { outbox.yield(text) }

    func close() { outbox.finish() }
}

/// Resident memory of a process, from /proc, in bytes.
func residentBytes(pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return nil }
    let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }
    return kb.map { $0 * 1024 }
}

/// The send time carried in a bench message's text: `t=<nanoseconds>;`.
enum Stamp {
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    static func text(padding: Int) -> String { "t=\(now());" + String(repeating: "x", count: padding) }

    /// Finds `t=<digits>;` inside a frame without parsing the JSON.
    static func read(_ frame: String) -> UInt64? {
        guard let r = frame.range(of: "\"text\":\"t=") else { return nil }
        var value: UInt64 = 0
        for c in frame.utf8[r.upperBound...] {
            guard c >= 0x30 && c <= 0x39 else { break }
            value = value &* 10 &+ UInt64(c - 0x30)
        }
        return value
    }
}
