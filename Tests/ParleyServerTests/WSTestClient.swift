import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import Testing

/// A WebSocket client for tests, over a real socket: frames are collected as they
/// arrive and read in order with a timeout.
final class WSTestClient: Sendable {
    enum Outgoing: Sendable {
        case text(String)
        case frame(WebSocketFrame)
        case close
    }

    struct State {
        var frames: [String] = []
        var cursor = 0
        var closed = false
        var nextID = 0
    }

    /// The received frames, shared with the connection's task.
    final class Inbox: Sendable {
        let state = Mutex<State>(State())
    }

    private let inbox = Inbox()
    private let outbox: AsyncStream<Outgoing>.Continuation
    private let task: Task<WebSocketCloseFrame?, any Error>

    /// Connects to `/ws` (or `path`) on the local port. `token` goes in the header,
    /// or in the query with `tokenInQuery`.
    init(port: Int, token: String? = nil, tokenInQuery: Bool = false, path: String = "/ws") {
        let (stream, continuation) = AsyncStream<Outgoing>.makeStream()
        outbox = continuation
        var headers = HTTPFields()
        var query = ""
        if let token {
            if tokenInQuery { query = "?token=\(token)" } else { headers[.authorization] = "Bearer \(token)" }
        }
        let inbox = self.inbox
        task = Task {
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)\(path)\(query)",
                configuration: .init(maxFrameSize: 1 << 24, additionalHeaders: headers, closeTimeout: .seconds(2)),
                logger: Logger(label: "ws-test")
            ) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { inbox.state.withLock { $0.closed = true } }
                        for try await message in inbound.messages(maxSize: 1 << 24) {
                            if case .text(let s) = message { inbox.state.withLock { $0.frames.append(s) } }
                        }
                    }
                    group.addTask {
                        for await item in stream {
                            switch item {
                            case .text(let s): try await outbound.write(.text(s))
                            case .frame(let f): try await outbound.write(.custom(f))
                            case .close:
                                try await outbound.close(.normalClosure, reason: nil)
                                return
                            }
                        }
                    }
                    _ = try await group.next()
                    inbox.state.withLock { $0.closed = true }
                    group.cancelAll()
                }
            }
        }
    }

    func send(_ text: String) { outbox.yield(.text(text)) }
    func send(frame: WebSocketFrame) { outbox.yield(.frame(frame)) }

    /// Sends `{"type","id","data"}` and returns the matching ack, skipping other frames.
    func request(_ type: String, _ data: String = "{}", timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let id = inbox.state.withLock { s -> String in
            s.nextID += 1
            return "r\(s.nextID)"
        }
        send(#"{"type":"\#(type)","id":"\#(id)","data":\#(data)}"#)
        return try await waitFor(timeout: timeout) { $0["type"] as? String == "ack" && $0["id"] as? String == id }
    }

    /// The next frame, parsed.
    func next(timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let frame = inbox.state.withLock { s -> String? in
                guard s.cursor < s.frames.count else { return nil }
                defer { s.cursor += 1 }
                return s.frames[s.cursor]
            }
            if let frame {
                return try #require(try JSONSerialization.jsonObject(with: Data(frame.utf8)) as? [String: Any], "not a JSON object: \(frame)")
            }
            if inbox.state.withLock({ $0.closed }) { throw WSTestError("connection closed while waiting for a frame") }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw WSTestError("no frame within \(timeout)")
    }

    /// Reads frames until one matches, returning it (the others are consumed).
    func waitFor(timeout: Duration = .seconds(10), _ match: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        var skipped: [String] = []
        while true {
            let left = deadline - ContinuousClock.now
            do {
                guard left > .zero else { throw WSTestError("timed out") }
                let frame = try await next(timeout: left)
                if match(frame) { return frame }
                skipped.append("\(frame["type"] ?? "?")")
            } catch {
                throw WSTestError("no matching frame within \(timeout) (\(error)); skipped: \(skipped.suffix(20))")
            }
        }
    }

    /// Reads frames until one of `type` arrives.
    func waitFor(type: String, timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        try await waitFor(timeout: timeout) { $0["type"] as? String == type }
    }

    /// Waits for `ready` and the offline flush; returns the `message:new` frames and `sync:done`.
    func sync(timeout: Duration = .seconds(10)) async throws -> (ready: [String: Any], messages: [[String: Any]], done: [String: Any]) {
        let ready = try await waitFor(type: "ready", timeout: timeout)
        var messages: [[String: Any]] = []
        while true {
            let f = try await next(timeout: timeout)
            if f["type"] as? String == "sync:done" { return (ready, messages, f) }
            if f["type"] as? String == "message:new" { messages.append(f) }
        }
    }

    /// Frames not yet read, without waiting.
    var pending: [String] { inbox.state.withLock { Array($0.frames[$0.cursor...]) } }

    /// Waits a moment and says whether no frame of `type` arrived.
    func staysQuiet(about type: String, for duration: Duration = .milliseconds(300)) async throws -> Bool {
        try await Task.sleep(for: duration)
        return !pending.contains { $0.contains(#""type":"\#(type)""#) }
    }

    /// Closes from our side and returns the server's close code.
    @discardableResult
    func close() async -> WebSocketErrorCode? {
        outbox.yield(.close)
        outbox.finish()
        return await closeCode()
    }

    /// Waits for the connection to end and returns the close code the server sent.
    func closeCode(timeout: Duration = .seconds(10)) async -> WebSocketErrorCode? {
        let task = self.task
        return await withTaskGroup(of: WebSocketErrorCode??.self) { group in
            group.addTask { (try? await task.value)?.map { $0.closeCode } }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .some(nil)
            }
            let first = await group.next()!
            group.cancelAll()
            return first ?? nil
        }
    }

    var isClosed: Bool { inbox.state.withLock { $0.closed } }
}

struct WSTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

extension Dictionary where Key == String, Value == Any {
    /// `data` of a push or ack.
    var data: [String: Any] { self["data"] as? [String: Any] ?? [:] }
    var ok: Bool { self["ok"] as? Bool ?? false }
    var errorCode: String? { (self["error"] as? [String: Any])?["code"] as? String }
    var message: [String: Any] { data["message"] as? [String: Any] ?? [:] }
}
