import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import Synchronization

/// One Engine.IO v4 session (`sid`): its transport, its outbound packets, its ping
/// watchdog, and the Socket.IO connection once the client has sent CONNECT.
///
/// Everything sent goes through `transmit`, which keeps one order whatever the
/// transport: on polling, packets wait in a bounded outbox for the next GET; on
/// WebSocket, in a bounded queue drained by the socket's writer. A client that lets
/// either fill up is a slow consumer and is closed. The upgrade moves the outbox into
/// the WebSocket queue under the lock, so no packet overtakes another.
final class EngineSession: Sendable {
    enum Transport: Sendable {
        case polling
        case websocket(AsyncStream<ByteBuffer>.Continuation)
    }

    private struct State {
        var transport: Transport = .polling
        var outbox: [ByteBuffer] = []
        var poller: CheckedContinuation<[ByteBuffer], Never>?
        var closed = false
        var lastPong = ContinuousClock.now
        var socket: (any SocketIOSocket)?
        var closeTransport: (@Sendable () -> Void)?
    }

    let sid: String
    let queueLimit: Int
    /// What the handshake asked for (`dialect=`, `token=`).
    let query: EngineQuery
    private let state = Mutex<State>(State())
    private let onClose: @Sendable (EngineSession) -> Void

    init(queueLimit: Int, query: EngineQuery = EngineQuery(), onClose: @escaping @Sendable (EngineSession) -> Void) {
        self.query = query
        var bytes = [UInt8](repeating: 0, count: 15)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        sid = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        self.queueLimit = queueLimit
        self.onClose = onClose
    }

    // MARK: Sending

    /// Queues one Engine.IO packet (already encoded, e.g. `42[...]` or `2`).
    func transmit(_ packet: ByteBuffer) {
        var slow = false
        let poller = state.withLock { s -> (CheckedContinuation<[ByteBuffer], Never>, [ByteBuffer])? in
            guard !s.closed else { return nil }
            switch s.transport {
            case .websocket(let queue):
                if case .dropped = queue.yield(packet) { slow = true }
                return nil
            case .polling:
                guard s.outbox.count < queueLimit else {
                    slow = true
                    return nil
                }
                s.outbox.append(packet)
                guard let p = s.poller else { return nil }
                s.poller = nil
                defer { s.outbox = [] }
                return (p, s.outbox)
            }
        }
        if let (p, packets) = poller { p.resume(returning: packets) }
        if slow { close() }
    }

    func transmit(_ text: String) { transmit(ByteBuffer(string: text)) }

    /// A long-poll: returns what is queued, or waits for the next packet (at most
    /// `timeout`, then a noop). Nil when another poll is already waiting.
    func poll(timeout: Duration) async -> [ByteBuffer]? {
        let waiter = Task {
            try await Task.sleep(for: timeout)
            self.resumePoller(with: [ByteBuffer(string: "6")])
        }
        defer { waiter.cancel() }
        // An empty result means another poll holds the slot.
        let packets = await withCheckedContinuation { (c: CheckedContinuation<[ByteBuffer], Never>) in
            let ready = state.withLock { s -> [ByteBuffer]? in
                if s.closed { return [ByteBuffer(string: "1")] }
                if s.poller != nil { return [] }
                if !s.outbox.isEmpty {
                    defer { s.outbox = [] }
                    return s.outbox
                }
                if case .websocket = s.transport { return [ByteBuffer(string: "6")] }
                s.poller = c
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
        return packets.isEmpty ? nil : packets
    }

    /// What is queued now, without waiting (the handshake reply).
    func drain() -> [ByteBuffer] {
        state.withLock { s in
            defer { s.outbox = [] }
            return s.outbox
        }
    }

    private func resumePoller(with packets: [ByteBuffer]) {
        let p = state.withLock { s -> CheckedContinuation<[ByteBuffer], Never>? in
            defer { s.poller = nil }
            return s.poller
        }
        p?.resume(returning: packets)
    }

    /// Switches to WebSocket: the outbox moves into the socket's queue first, then a
    /// waiting poll is answered with a noop so the client lets it go.
    func upgrade(to queue: AsyncStream<ByteBuffer>.Continuation, closeTransport: @escaping @Sendable () -> Void) -> Bool {
        let poller = state.withLock { s -> CheckedContinuation<[ByteBuffer], Never>?? in
            guard !s.closed, case .polling = s.transport else { return .none }
            for packet in s.outbox { queue.yield(packet) }
            s.outbox = []
            s.transport = .websocket(queue)
            s.closeTransport = closeTransport
            defer { s.poller = nil }
            return .some(s.poller)
        }
        guard let poller else { return false }
        poller?.resume(returning: [ByteBuffer(string: "6")])
        return true
    }

    /// Starts the session on a WebSocket directly (no polling first).
    func startOnWebSocket(_ queue: AsyncStream<ByteBuffer>.Continuation, closeTransport: @escaping @Sendable () -> Void) {
        state.withLock { s in
            s.transport = .websocket(queue)
            s.closeTransport = closeTransport
        }
    }

    var isWebSocket: Bool {
        state.withLock { s in
            if case .websocket = s.transport { return true }
            return false
        }
    }

    // MARK: Liveness and the Socket.IO client

    func pong() { state.withLock { $0.lastPong = .now } }

    /// Sends a ping every `interval`; closes the session once a ping has gone
    /// unanswered for `timeout` (measured from the oldest ping not yet answered).
    func runPings(interval: Duration, timeout: Duration) {
        Task { [weak self] in
            var unansweredSince: ContinuousClock.Instant?
            while true {
                try? await Task.sleep(for: interval)
                guard let self, !self.isClosed else { return }
                let lastPong = self.state.withLock { $0.lastPong }
                if let since = unansweredSince {
                    if lastPong >= since {
                        unansweredSince = nil
                    } else if ContinuousClock.now - since >= timeout {
                        self.close()
                        return
                    }
                }
                if unansweredSince == nil { unansweredSince = .now }
                self.transmit("2")
            }
        }
    }

    var socket: (any SocketIOSocket)? { state.withLock { $0.socket } }

    /// Attaches the Socket.IO client after CONNECT; false if the session has one already.
    func attach(_ socket: any SocketIOSocket) -> Bool {
        state.withLock { s in
            guard s.socket == nil, !s.closed else { return false }
            s.socket = socket
            return true
        }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Closes the session once: answers a waiting poll with a close packet, ends the
    /// WebSocket queue, closes the transport and the Socket.IO client.
    func close() {
        let taken = state.withLock { s -> (CheckedContinuation<[ByteBuffer], Never>?, Transport, (any SocketIOSocket)?, (@Sendable () -> Void)?)? in
            guard !s.closed else { return nil }
            s.closed = true
            defer { s.poller = nil; s.socket = nil; s.outbox = [] }
            return (s.poller, s.transport, s.socket, s.closeTransport)
        }
        guard let (poller, transport, socket, closeTransport) = taken else { return }
        poller?.resume(returning: [ByteBuffer(string: "1")])
        if case .websocket(let queue) = transport { queue.finish() }
        closeTransport?()
        socket?.end()
        onClose(self)
    }
}

/// The parts of an Engine.IO handshake's query Parley reads: the session it
/// upgrades (`sid`), and a dialect's choices, `dialect=` and `token=`.
struct EngineQuery: Sendable {
    var sid: String?
    var dialect: String?
    var token: String?

    init(sid: String? = nil, dialect: String? = nil, token: String? = nil) {
        self.sid = sid
        self.dialect = dialect
        self.token = token
    }

    init(_ uri: URI) {
        let q = uri.queryParameters
        sid = q.get("sid").map { String($0) }
        dialect = q.get("dialect").map { String($0) }
        token = q.get("token").map { String($0) }
    }
}
