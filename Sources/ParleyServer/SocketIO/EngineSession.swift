import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import Synchronization

/// One Engine.IO v4 session (`sid`): its transport, its outbound packets, its ping
/// watchdog, and the Socket.IO connection once the client has sent CONNECT.
///
/// Two sources feed the client, and the current transport drains both, so a client
/// that stops reading holds frames where their producer can see it:
/// - the session's own packets (`transmit`: the handshake, pings, refusals), in a
///   bounded outbox, which a WebSocket's writer is woken for once per burst;
/// - the Socket.IO connection's queue (`feed(from:)`), left where it is until a poll
///   or the WebSocket writer takes it, so the offline flush waits for the client
///   (`OutboundQueue.waitForRoom`) and a client that lets it fill is cut.
///
/// The upgrade switches the transport under the lock, and the outbox stays where
/// it is for the socket's writer, so no packet overtakes another. No task waits on
/// a session: the WebSocket transport is served by `EngineSocketHandler`, pings by
/// its event loop's `PingWheel`.
final class EngineSession: Sendable, PingWheelMember {
    /// The WebSocket transport: the socket's channel handler, reached on its event
    /// loop through its handle, woken to take the session's packets and the
    /// connection's frames (`takeForWebSocket`) or told to close the socket. One
    /// reference, where two closures took four words of every session.
    struct WebSocketTransport: Sendable {
        let handle: SocketHandle<EngineSocketHandler>

        func wake() { handle.execute { $0.writePending() } }
        func close() { handle.execute { $0.closeSocket() } }
    }

    enum Transport: Sendable {
        case polling
        case websocket(WebSocketTransport)
    }

    private struct State {
        var transport: Transport = .polling
        /// The session's own packets not yet sent, on either transport.
        var outbox: [ByteBuffer] = []
        /// The WebSocket writer was woken for `outbox` and has not taken it yet.
        var woken = false
        var feed: OutboundQueue?
        var poller: CheckedContinuation<[ByteBuffer], Never>?
        var closed = false
        /// When the last pong came (NIO's 8-byte monotonic instant; a
        /// `ContinuousClock.Instant` takes 16).
        var lastPong = NIODeadline.now()
        /// When the oldest ping not yet answered went out.
        var unansweredSince: NIODeadline?
        /// The event loop's ping timer ticking this session.
        var pings: PingWheel?
        /// Its place in `pings`, kept by the wheel.
        var pingSeat: PingWheel.Seat?
        var socket: (any SocketIOSocket)?
        /// The handshake's `dialect=` and `token=`, until a Socket.IO client attaches
        /// (nil when it had neither).
        var query: EngineQuery?

        /// What either transport sends next: the session's packets, then the connection's.
        mutating func takeAll() -> [ByteBuffer] {
            var packets = outbox
            outbox = []
            packets += feed?.takeAll() ?? []
            return packets
        }
    }

    let sid: String
    /// The client's address, whose connection slot the session holds until it closes.
    let address: String
    /// Where the session's settings come from and where it says it closed. A
    /// reference rather than a close callback and copies of the settings: with
    /// thousands of idle sessions, each closure context and setting is memory.
    private let gateway: SocketIOGateway
    private let state = Mutex<State>(State())

    init(gateway: SocketIOGateway, address: String, query: EngineQuery?) {
        sid = Self.makeSid()
        self.address = address
        self.gateway = gateway
        state.withLock { $0.query = query?.isEmpty == false ? query : nil }
    }

    /// The most packets of the session's own it holds for a client that is not reading.
    private var queueLimit: Int { gateway.services.config.outboundQueueFrames }

    /// The handshake's `dialect=` and `token=` (nil when it had neither), until a
    /// Socket.IO client attaches: a CONNECT refused may be tried again with them,
    /// and an idle session keeps no token.
    var query: EngineQuery? { state.withLock { $0.query } }

    private static let sidAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// 15 base64url characters, 90 random bits: unguessable, and short enough for a
    /// Swift string to hold inline, so a session's id costs no allocation of its own.
    static func makeSid() -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<15).map { _ in sidAlphabet[Int(random.next() & 63)] }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Sending

    /// What a push leads to, decided under the lock and done after it.
    private enum Next {
        /// A waiting poll takes everything queued.
        case answer(CheckedContinuation<[ByteBuffer], Never>, [ByteBuffer])
        /// The WebSocket writer is woken.
        case wake(WebSocketTransport)
        /// The outbox is full: the client is not reading.
        case slow
    }

    private func perform(_ next: Next?) {
        switch next {
        case .answer(let p, let packets)?: p.resume(returning: packets)
        case .wake(let socket)?: socket.wake()
        case .slow?: close()
        case nil: break
        }
    }

    /// Queues one of the session's own Engine.IO packets (already encoded, e.g. `2`).
    func transmit(_ packet: ByteBuffer) {
        perform(
            state.withLock { s -> Next? in
                guard !s.closed else { return nil }
                guard s.outbox.count < queueLimit else { return .slow }
                s.outbox.append(packet)
                switch s.transport {
                case .websocket(let socket):
                    // Woken once per burst, as the connection's queue does.
                    guard !s.woken else { return nil }
                    s.woken = true
                    return .wake(socket)
                case .polling:
                    guard let p = s.poller else { return nil }
                    s.poller = nil
                    return .answer(p, s.takeAll())
                }
            })
    }

    func transmit(_ text: String) { transmit(ByteBuffer(string: text)) }

    /// The Socket.IO connection's queue, drained by whichever transport is current.
    /// Call before anything is pushed to it.
    func feed(from queue: OutboundQueue) {
        state.withLock { $0.feed = queue }
        // A strong capture: the closure is then the session itself, with no context or
        // weak-reference table of its own. The cycle (session, queue, closure) ends
        // at `close`, which lets the queue go.
        queue.attach(wake: { self.fed() })
    }

    /// The connection queued frames (its queue wakes once per burst): a waiting poll
    /// takes them, or the WebSocket writer is woken.
    private func fed() {
        perform(
            state.withLock { s -> Next? in
                guard !s.closed else { return nil }
                switch s.transport {
                case .websocket(let socket): return .wake(socket)
                case .polling:
                    guard let p = s.poller else { return nil }
                    s.poller = nil
                    return .answer(p, s.takeAll())
                }
            })
    }

    /// What the WebSocket writer sends next: the session's packets, then the
    /// connection's.
    func takeForWebSocket() -> [ByteBuffer] {
        state.withLock { s in
            guard case .websocket = s.transport else { return [] }
            s.woken = false
            return s.takeAll()
        }
    }

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
                if case .websocket = s.transport { return [ByteBuffer(string: "6")] }
                let packets = s.takeAll()
                if !packets.isEmpty { return packets }
                s.poller = c
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
        return packets.isEmpty ? nil : packets
    }

    /// What is queued now, without waiting (the handshake reply).
    func drain() -> [ByteBuffer] {
        state.withLock { $0.takeAll() }
    }

    private func resumePoller(with packets: [ByteBuffer]) {
        let p = state.withLock { s -> CheckedContinuation<[ByteBuffer], Never>? in
            defer { s.poller = nil }
            return s.poller
        }
        p?.resume(returning: packets)
    }

    /// Switches to WebSocket: what is queued stays for the socket's writer, a waiting
    /// poll is answered with a noop so the client lets it go, and the writer is woken
    /// for what the session and the connection queued meanwhile.
    func upgrade(to socket: WebSocketTransport) -> Bool {
        let poller = state.withLock { s -> CheckedContinuation<[ByteBuffer], Never>?? in
            guard !s.closed, case .polling = s.transport else { return .none }
            s.transport = .websocket(socket)
            s.woken = true
            defer { s.poller = nil }
            return .some(s.poller)
        }
        guard let poller else { return false }
        poller?.resume(returning: [ByteBuffer(string: "6")])
        socket.wake()
        return true
    }

    /// Starts the session on a WebSocket directly (no polling first).
    func startOnWebSocket(_ socket: WebSocketTransport) {
        state.withLock { $0.transport = .websocket(socket) }
    }

    var isWebSocket: Bool {
        state.withLock { s in
            if case .websocket = s.transport { return true }
            return false
        }
    }

    // MARK: Liveness and the Socket.IO client

    func pong() { state.withLock { $0.lastPong = .now() } }

    /// Sends a ping every interval of `wheel` (a timer shared by the sessions on its
    /// event loop); closes the session once a ping has gone unanswered for the
    /// gateway's ping timeout (measured from the oldest ping not yet answered).
    func runPings(on wheel: PingWheel) {
        let closed = state.withLock { s -> Bool in
            if !s.closed { s.pings = wheel }
            return s.closed
        }
        // A close between here and the join queues its leave before this join: the
        // join checks again on the loop, where leaves run in order after it.
        if !closed { wheel.loop.execute { if !self.isClosed { wheel.join(self) } } }
    }

    /// The session's place in its wheel, which only the wheel's loop reads and sets.
    var pingSeat: PingWheel.Seat? {
        get { state.withLock { $0.pingSeat } }
        set { state.withLock { $0.pingSeat = newValue } }
    }

    /// The wheel's tick, on its loop.
    func pingTick() {
        guard state.withLock({ $0.pings != nil }) else { return }
        if pingTimedOut(TimeAmount(gateway.pingTimeout)) {
            close()
        } else {
            transmit("2")
        }
    }

    /// Whether the oldest unanswered ping is older than `timeout`; otherwise notes
    /// the ping about to go out.
    private func pingTimedOut(_ timeout: TimeAmount) -> Bool {
        let now = NIODeadline.now()
        return state.withLock { s in
            if let since = s.unansweredSince {
                if s.lastPong >= since {
                    s.unansweredSince = nil
                } else if now - since >= timeout {
                    return true
                }
            }
            if s.unansweredSince == nil { s.unansweredSince = now }
            return false
        }
    }

    var socket: (any SocketIOSocket)? { state.withLock { $0.socket } }

    /// Attaches the Socket.IO client after CONNECT; false if the session has one already.
    func attach(_ socket: any SocketIOSocket) -> Bool {
        state.withLock { s in
            guard s.socket == nil, !s.closed else { return false }
            s.socket = socket
            s.query = nil
            return true
        }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Closes the session once: answers a waiting poll with a close packet, ends the
    /// WebSocket queue, closes the transport and the Socket.IO client.
    func close() {
        let taken = state.withLock { s -> (CheckedContinuation<[ByteBuffer], Never>?, Transport, (any SocketIOSocket)?, PingWheel?)? in
            guard !s.closed else { return nil }
            s.closed = true
            defer { s.poller = nil; s.socket = nil; s.outbox = []; s.feed = nil; s.pings = nil; s.query = nil }
            return (s.poller, s.transport, s.socket, s.pings)
        }
        guard let (poller, transport, socket, wheel) = taken else { return }
        if let wheel { wheel.loop.execute { wheel.leave(self) } }
        poller?.resume(returning: [ByteBuffer(string: "1")])
        if case .websocket(let ws) = transport { ws.close() }
        socket?.end()
        gateway.closed(self)
    }
}

/// The parts of an Engine.IO handshake's query Parley reads: the session it
/// upgrades (`sid`), and a dialect's choices, `dialect=` and `token=`.
///
/// A class: the socket's handler and the session each hold it by one reference
/// until they have read it, instead of three optional strings each for the
/// socket's life.
final class EngineQuery: Sendable {
    let sid: String?
    let dialect: String?
    let token: String?

    /// Neither a dialect nor a token: nothing for CONNECT to read.
    var isEmpty: Bool { dialect == nil && token == nil }

    init(sid: String? = nil, dialect: String? = nil, token: String? = nil) {
        self.sid = sid
        self.dialect = dialect
        self.token = token
    }

    convenience init(_ uri: URI) {
        let q = uri.queryParameters
        self.init(sid: q.get("sid").map { String($0) }, dialect: q.get("dialect").map { String($0) }, token: q.get("token").map { String($0) })
    }
}
