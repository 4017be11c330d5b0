import Foundation
import Logging
import NIOCore
import NIOWebSocket
import ParleyCore
import Synchronization

/// One native `/ws` socket, served by this channel handler after the upgrade: no task
/// waits on an idle connection.
///
/// - Inbound: the socket's bytes, read into messages here (`WebSocketReader`; this
///   is the only handler after the upgrade) and checked (UTF-8, text only); the
///   async work (authenticate and open the session, each frame's event, the
///   goodbye) runs in arrival order in a `SocketInbox`, which stops the socket's
///   reads while 32 frames wait.
/// - Outbound: the connection's `OutboundQueue` wakes `writePending` on the event loop
///   at the first push of a burst; it writes everything pending with one flush while
///   the channel is writable. A client that stops reading leaves frames in the queue
///   until its bound cuts it.
/// - Control: pings are answered; a ping goes out every `WS_PING_INTERVAL_MS` and a
///   socket that did not answer the previous one is closed (1001); closes follow RFC 6455's handshake, with
///   the socket closed 2 s after our close frame if the client does not answer.
///
/// Everything here runs on the channel's event loop; the inbox's jobs, timers and the
/// queue come back to it through a reference it empties when it leaves the pipeline
/// (`Handle`), so nothing they keep holds a closed socket's handler (and its
/// connection and session) alive.
final class NativeSocketHandler: ChannelDuplexHandler, RemovableChannelHandler, PingWheelMember {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// No token came with the upgrade: the first frame must be `auth`.
        case awaitingAuthFrame
        /// Authenticating, then serving: frames go to the inbox.
        case open
        /// Our close frame is out; waiting for the client's.
        case closing
        case closed
    }

    static let closeHandshakeTimeout: TimeAmount = .seconds(2)

    private let gateway: WebSocketGateway
    private var services: ParleyServices { gateway.services }
    /// The upgrade's token, until the session opens with it (a JWT is a few hundred
    /// bytes an idle socket need not keep).
    private var token: String?
    private var phase: Phase
    private var context: ChannelHandlerContext?
    private var inbox: SocketInbox?
    /// The session, once authenticated: read by the inbox's jobs.
    private let session = SessionSlot()
    /// The connection, once authenticated: its queue feeds `writePending`, which takes
    /// it from the session slot at its first write (the slot holds the session before
    /// anything is pushed), sparing the event loop a wake-up of its own to learn it.
    private var connection: Connection?
    /// The client address's connection slot, released when the socket closes.
    private var address: String?
    /// The authentication deadline while `awaitingAuthFrame`, then the close
    /// handshake's (`close` cancels the first before it starts the second). Let go
    /// when it no longer matters, so an open socket keeps no timer.
    private var timer: Scheduled<Void>?
    /// The event loop's ping timer, which ticks this socket every `WS_PING_INTERVAL_MS`.
    private var pings: PingWheel?
    /// Its place in `pings`, kept by the wheel.
    var pingSeat: PingWheel.Seat?
    private var awaitingPong = false
    private var reads = SocketReadGate()
    private var reader: WebSocketReader
    private var handle: Handle?

    init(gateway: WebSocketGateway, token: String?) {
        self.gateway = gateway
        self.token = token
        reader = WebSocketReader(maxMessageBytes: gateway.services.config.maxFrameBytes)
        phase = token == nil ? .awaitingAuthFrame : .open
    }

    typealias Handle = SocketHandle<NativeSocketHandler>

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let loop = context.eventLoop
        let me = Handle(self, eventLoop: loop)
        handle = me
        inbox = SocketInbox(resume: { me.execute { $0.resumeReading() } })
        // One slot of the client address's connection budget, held until the socket ends.
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard services.connectionsByAddress.acquire(address) else {
            close(WebSocketGateway.tryAgainLater, reason: "too many connections from this address")
            return
        }
        self.address = address
        let pings = gateway.pings.wheel(on: loop)
        pings.join(self)
        self.pings = pings
        if let token {
            self.token = nil
            open(token: token)
        } else {
            timer = loop.scheduleTask(in: .milliseconds(Int64(services.config.wsAuthTimeoutMs))) {
                guard let handler = me.value, case .awaitingAuthFrame = handler.phase else { return }
                handler.close(WebSocketGateway.unauthorized, reason: "authentication timeout")
            }
        }
    }

    /// The context holds the handler, and so does the handle the inbox, the timers and
    /// the queue keep; letting both go when the pipeline removes the handler (at the
    /// latest when the channel closes) breaks those cycles.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        handle?.value = nil
        leavePings()
    }

    /// The wheel holds its members: a socket leaves it when it ends or is removed.
    private func leavePings() {
        pings?.leave(self)
        pings = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        cancelTimer()
        leavePings()
        if let address {
            services.connectionsByAddress.release(address)
            self.address = nil
        }
        // Finishing the queue at once frees an offline flush waiting for room; the
        // goodbye runs after the jobs already queued (the open among them).
        session.close()
        let session = self.session
        inbox?.enqueue {
            guard let session = session.current else { return }
            await session.close()
            session.connection.transportEnded()
        }
        context.fireChannelInactive()
    }

    /// The client closed its side without a close frame (the server channels allow
    /// half-closure): there is nothing more to read, so the socket is closed.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if WebSocketChannelOps.closeIfInputClosed(event, context: context) { phase = .closed }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try reader.read(unwrapInboundIn(data), allocator: context.channel.allocator) { received($0, context: context) }
        } catch {
            // The auth deadline is moot now; a close handshake's timer still closes
            // the socket if the failure's close frame never goes out.
            if case .awaitingAuthFrame = phase { cancelTimer() }
            phase = .closing
            WebSocketChannelOps.fail(error, context: context)
        }
    }

    private func received(_ frame: WebSocketReader.Message, context: ChannelHandlerContext) {
        switch frame.opcode {
        case .ping:
            switch phase {
            case .awaitingAuthFrame, .open:
                WebSocketChannelOps.pong(frame.data, context: context)
            case .closing, .closed:
                return
            }
        case .pong:
            awaitingPong = false
        case .connectionClose:
            receivedClose(frame)
        case .text:
            // The frame's one copy: the decoder reads these bytes.
            let text = Data(frame.data.readableBytesView)
            guard text.withUnsafeBytes(UTF8Check.isValid) else {
                close(.dataInconsistentWithMessage, reason: "text frames must be valid UTF-8")
                return
            }
            receivedText(text)
        case .binary:
            switch phase {
            case .awaitingAuthFrame:
                close(WebSocketGateway.unauthorized, reason: "authenticate first")
            case .open:
                let session = self.session
                enqueue {
                    session.current?.connection.reply(
                        NativeDialect().error(ParleyError(.badRequest, "text frames only: one JSON object per frame")))
                }
            case .closing, .closed:
                return
            }
        default:
            // The reader joins continuations and refuses reserved opcodes.
            close(.protocolError, reason: "unexpected frame")
        }
    }

    private func receivedText(_ text: Data) {
        switch phase {
        case .awaitingAuthFrame:
            cancelTimer()
            guard let first = try? JSONDecoder().decode(WebSocketGateway.AuthFrame.self, from: text), first.type == "auth" else {
                close(WebSocketGateway.unauthorized, reason: "authenticate first")
                return
            }
            phase = .open
            open(token: first.token)
        case .open:
            let session = self.session
            enqueue { await session.current?.receive(text) }
        case .closing, .closed:
            return
        }
    }

    /// The client's close: answered with its code (when we did not start the close),
    /// then the socket is closed.
    private func receivedClose(_ frame: WebSocketReader.Message) {
        guard let context else { return }
        switch phase {
        case .closing, .closed:
            context.close(promise: nil)
        case .awaitingAuthFrame, .open:
            phase = .closing
            WebSocketChannelOps.answerClose(frame.data, context: context)
        }
    }

    /// A socket error (a reset, say): the socket is closed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        services.logger.debug("native socket error: \(error)")
        context.close(promise: nil)
    }

    // MARK: Session

    /// Authenticates and opens the session, in the inbox (ahead of any frame that
    /// follows).
    private func open(token: String) {
        guard let me = handle else { return }
        let gateway = self.gateway
        let slot = self.session
        enqueue {
            let user: UserRecord
            switch await gateway.authenticate(token: token) {
            case .failure(let refusal):
                me.execute { $0.close(refusal.code, reason: refusal.reason) }
                return
            case .success(let found):
                user = found
            }
            let connection = Connection(
                user: user, queueLimit: gateway.services.config.outboundQueueFrames, encode: { $0.native },
                close: { reason in me.execute { $0.cut(reason) } })
            // The queue wakes the event loop for each burst; the first finds the
            // connection in the slot, which holds it before anything is pushed.
            connection.outbound.attach(wake: { me.execute { $0.writePending() } })
            let session = RealtimeSession(services: gateway.services, connection: connection, dialect: NativeDialect.self)
            guard slot.open(session) else { return }  // the socket closed while authenticating
            do {
                try await session.open()
            } catch {
                // As at authentication: the database is away, come back shortly.
                let unavailable = ParleyError.from(error).code == .unavailable
                if !unavailable { gateway.services.logger.error("opening a session for \(user.username) failed: \(error)") }
                me.execute {
                    $0.close(
                        unavailable ? WebSocketGateway.tryAgainLater : .unexpectedServerError,
                        reason: unavailable ? "the database is unreachable; try again shortly" : "internal error")
                }
            }
        }
    }

    /// Queues a job in the inbox; stops reading when too many are waiting.
    private func enqueue(_ job: @escaping SocketInbox.Job) {
        if inbox?.enqueue(job) == true { reads.pause() }
    }

    // MARK: Outbound

    /// Writes everything queued for the client with one flush, if the channel can take
    /// it now; otherwise `channelWritabilityChanged` comes back here.
    private func writePending() {
        if connection == nil { connection = session.current?.connection }
        guard let context, let connection, case .open = phase, context.channel.isWritable else { return }
        let (pending, since) = connection.outbound.takeAllTimed()
        TextFrameWriter.write(pending, context: context)
        if let since, !pending.isEmpty { gateway.services.metrics.recordSocketWrite(since: since) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { writePending() }
        context.fireChannelWritabilityChanged()
    }

    /// Holds the reads while the inbox is full: the client's frames wait in the kernel.
    func read(context: ChannelHandlerContext) { reads.read(context: context) }

    private func resumeReading() { reads.resume(context: context) }

    // MARK: Closing

    /// Starts the close handshake with `code`; the socket closes when the client
    /// answers, or after `closeHandshakeTimeout`.
    private func close(_ code: WebSocketErrorCode, reason: String) {
        guard let context else { return }
        switch phase {
        case .closing, .closed: return
        case .awaitingAuthFrame, .open: phase = .closing
        }
        timer?.cancel()
        timer = WebSocketChannelOps.startClose(code, reason: reason, timeout: Self.closeHandshakeTimeout, context: context)
    }

    /// Cancels the pending timer and lets it go.
    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    /// The server's own cut of an authenticated connection (`Connection.cut`).
    private func cut(_ reason: Connection.CloseReason) {
        guard let context else { return }
        switch reason {
        case .slowConsumer, .unauthorized:
            // Abortive close (RST): the client is not reading, so a FIN would wait
            // behind unsent data; this frees the kernel's buffers at once.
            phase = .closed
            WebSocketChannelOps.abort(context.channel)
        case .shutdown:
            close(.goingAway, reason: "server shutting down")
        }
    }

    /// Every `WS_PING_INTERVAL_MS`: a client that did not answer the last ping is gone.
    func pingTick() {
        guard let context, case .open = phase else { return }
        if awaitingPong {
            close(.goingAway, reason: "ping timeout")
            return
        }
        awaitingPong = true
        WebSocketChannelOps.ping(context: context)
    }
}

/// The session of a native socket once it is authenticated, shared by the inbox's
/// jobs, and whether the socket has closed: a session opened after that is refused,
/// and closing finishes the session's connection (which frees an offline flush
/// waiting for room in its queue).
private final class SessionSlot: Sendable {
    private struct State {
        var session: RealtimeSession<NativeDialect>?
        var closed = false
    }

    private let state = Mutex(State())

    var current: RealtimeSession<NativeDialect>? { state.withLock { $0.session } }

    /// Keeps `session`, unless the socket already closed (then its connection is
    /// finished and the answer is false).
    func open(_ session: RealtimeSession<NativeDialect>) -> Bool {
        let kept = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.session = session
            return true
        }
        if !kept { session.connection.transportEnded() }
        return kept
    }

    /// The socket closed.
    func close() {
        let session = state.withLock { s -> RealtimeSession<NativeDialect>? in
            s.closed = true
            return s.session
        }
        session?.connection.transportEnded()
    }
}
