import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import Testing

/// A WebSocket client for tests, over a real socket: frames are collected as they
/// arrive and read in order with a timeout. No read drops a frame: waiting for one
/// frame leaves every other unread frame where it was, for the next read.
final class WSTestClient: Sendable {
    enum Outgoing: Sendable {
        case text(String)
        case frame(WebSocketFrame)
        case close
    }

    struct State {
        /// Frames received and not yet taken by a read, in arrival order. A read that
        /// looks for one frame takes only that one: the others stay for later reads.
        var unread: [String] = []
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
                            if case .text(let s) = message { inbox.state.withLock { $0.unread.append(s) } }
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
    func request(_ type: String, _ data: String = "{}", timeout: Duration = .seconds(10)) async throws -> Frame {
        let id = inbox.state.withLock { s -> String in
            s.nextID += 1
            return "r\(s.nextID)"
        }
        send(#"{"type":"\#(type)","id":"\#(id)","data":\#(data)}"#)
        return try await waitFor(timeout: timeout) { $0.type == "ack" && $0.id == id }
    }

    /// The next unread frame, parsed.
    func next(timeout: Duration = .seconds(10)) async throws -> Frame {
        try await take(timeout: timeout) { _ in true }
    }

    /// The first unread frame that matches, taken out; the frames before and after it
    /// stay unread.
    func waitFor(timeout: Duration = .seconds(10), _ match: (Frame) -> Bool) async throws -> Frame {
        do {
            return try await take(timeout: timeout, match)
        } catch {
            throw WSTestError("no matching frame within \(timeout) (\(error)); unread: \(pending.suffix(20).map(Self.typeOf))")
        }
    }

    /// Waits for the first unread frame of `type`.
    func waitFor(type: String, timeout: Duration = .seconds(10)) async throws -> Frame {
        try await waitFor(timeout: timeout) { $0.type == type }
    }

    /// Waits for the first unread push of `type` whose `data`, decoded as the contract
    /// shape `T`, matches; returns that data.
    func waitFor<T: Decodable>(_ type: String, as _: T.Type, timeout: Duration = .seconds(10), where match: (T) -> Bool = { _ in true }) async throws -> T {
        try await waitFor(timeout: timeout) { $0.type == type && (try? $0.data(T.self)).map(match) == true }.data(T.self)
    }

    /// Waits for `ready` and the offline flush; returns the `message:new` and
    /// `message:updated` frames between them and `sync:done`, taken out with them.
    /// Other frames stay unread.
    func sync(timeout: Duration = .seconds(10)) async throws -> (ready: Frame, messages: [Frame], done: Frame) {
        let deadline = ContinuousClock.now + timeout
        while true {
            let taken = inbox.state.withLock { s -> [String]? in
                let types = s.unread.map(Self.typeOf)
                guard let r = types.firstIndex(of: "ready"), let d = types[r...].firstIndex(of: "sync:done") else { return nil }
                let flush = (r...d).filter { $0 == r || $0 == d || types[$0] == "message:new" || types[$0] == "message:updated" }
                defer { for i in flush.reversed() { s.unread.remove(at: i) } }
                return flush.map { s.unread[$0] }
            }
            if let taken {
                let parsed = try taken.map(Self.parse)
                return (parsed[0], Array(parsed.dropFirst().dropLast()), parsed[parsed.count - 1])
            }
            if isClosed {
                throw WSTestError("connection closed before sync:done (close code \(String(describing: await closeCode(timeout: .seconds(1))))); unread: \(pending.map(Self.typeOf))")
            }
            guard ContinuousClock.now < deadline else { throw WSTestError("no ready and sync:done within \(timeout); unread: \(pending.map(Self.typeOf))") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Frames not yet read, without waiting.
    var pending: [String] { inbox.state.withLock { $0.unread } }

    /// True when no frame of `type` is unread once the server has answered a ping
    /// sent now. Every push the server queued for this connection before it read the
    /// ping arrives ahead of the ping's ack, so a push that the server would have
    /// queued by then would be here. Call it once the action whose push must not
    /// come has been answered (its ack, or a push it caused elsewhere, received).
    func receivedNone(of type: String) async throws -> Bool {
        _ = try await request("ping")
        return !pending.contains { Self.typeOf($0) == type }
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

    /// Takes the first unread frame that matches, waiting for it.
    private func take(timeout: Duration, _ match: (Frame) -> Bool) async throws -> Frame {
        let deadline = ContinuousClock.now + timeout
        var checked = 0
        while true {
            let (frames, closed) = inbox.state.withLock { s in (Array(s.unread[min(checked, s.unread.count)...]), s.closed) }
            for (n, f) in frames.enumerated() {
                let parsed = try Self.parse(f)
                guard match(parsed) else { continue }
                let index = checked + n
                inbox.state.withLock { s in _ = s.unread.remove(at: index) }
                return parsed
            }
            checked += frames.count
            if closed { throw WSTestError("connection closed while waiting for a frame") }
            guard ContinuousClock.now < deadline else { throw WSTestError("no frame within \(timeout)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    private static func parse(_ frame: String) throws -> Frame { try Frame(frame) }

    private static func typeOf(_ frame: String) -> String { (try? Frame(frame))?.type ?? "?" }
}

struct WSTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
