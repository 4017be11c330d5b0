import Foundation
import Logging
import NIOCore
import NIOWebSocket
import ParleyCore

/// Socket.IO's WebSocket transport (`/socket.io/?EIO=4&transport=websocket`), served
/// by this channel handler after the upgrade, as native sockets are
/// (`NativeSocketHandler`): no task waits on an idle connection.
///
/// - A fresh socket starts an Engine.IO session on this transport: the handshake,
///   then pings from its event loop's `PingWheel` (`EngineSession.runPings`).
/// - An upgrade (`sid=`) probes (`2probe`, `3probe`), then takes the polling
///   session over at `5` (`EngineSession.upgrade`).
/// - Inbound text frames (read from the socket's bytes by `WebSocketReader`, the
///   only handler after the upgrade) are Engine.IO packets, checked (UTF-8, size)
///   and handled in arrival order in a `SocketInbox`
///   (`SocketIOGateway.handle`), which stops the reads while 32 wait.
/// - Outbound: the session's packets and the connection's frames
///   (`EngineSession.takeForWebSocket`), written with one flush while the channel
///   is writable; a client that stops reading fills the queues until it is cut.
final class EngineSocketHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// Added to the pipeline, not yet serving a session.
        case starting
        /// Upgrading `session` from polling: `2probe` (then `probed`), then `5`.
        case probing(EngineSession, probed: Bool)
        case open(EngineSession)
        /// Our close frame is out; waiting for the client's.
        case closing
        case closed
    }

    private let gateway: SocketIOGateway
    /// The upgrade's query, until `handlerAdded` has read it.
    private var query: EngineQuery?
    private var phase: Phase = .starting
    /// The session this socket serves, once it is the session's transport.
    private var session: EngineSession?
    private var context: ChannelHandlerContext?
    private var inbox: SocketInbox?
    private var reads = SocketReadGate()
    private var closeTimer: Scheduled<Void>?
    private var reader: WebSocketReader

    init(gateway: SocketIOGateway, query: EngineQuery) {
        self.gateway = gateway
        self.query = query
        reader = WebSocketReader(maxMessageBytes: gateway.maxPayload)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let loop = context.eventLoop
        let me = Handle(self, eventLoop: loop)
        handle = me
        inbox = SocketInbox(resume: { me.execute { $0.resumeReading() } })
        let query = self.query
        self.query = nil
        if let sid = query?.sid {
            guard let existing = gateway.session(sid), !existing.isWebSocket else {
                close(.policyViolation, reason: "Session ID unknown")
                return
            }
            phase = .probing(existing, probed: false)
            return
        }
        guard let fresh = gateway.newSession(address: context.channel.remoteAddress?.ipAddress ?? "unknown", query: query, polling: false) else {
            close(WebSocketGateway.tryAgainLater, reason: "too many connections from this address")
            return
        }
        phase = .open(fresh)
        session = fresh
        fresh.startOnWebSocket(EngineSession.WebSocketTransport(handle: me))
        fresh.transmit(gateway.openPacket(fresh, upgrades: []))
        fresh.runPings(on: gateway.pings.wheel(on: loop))
    }

    /// This socket's own way back to itself, for the transport an upgrade hands to
    /// the polling session at `5`.
    private var handle: Handle?

    /// The handle the session, the inbox and the timer keep holds the handler until the
    /// pipeline removes it (at the latest when the channel closes).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        handle?.value = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        closeTimer?.cancel()
        // Only a session this socket carries ends with it: a failed probe leaves the
        // polling session as it was.
        session?.close()
        session = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if WebSocketChannelOps.closeIfInputClosed(event, context: context) { phase = .closed }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try reader.read(unwrapInboundIn(data), allocator: context.channel.allocator) { received($0, context: context) }
        } catch {
            phase = .closing
            WebSocketChannelOps.fail(error, context: context)
        }
    }

    private func received(_ frame: WebSocketReader.Message, context: ChannelHandlerContext) {
        switch frame.opcode {
        case .ping:
            switch phase {
            case .starting, .probing, .open: WebSocketChannelOps.pong(frame.data, context: context)
            case .closing, .closed: return
            }
        case .pong:
            return
        case .connectionClose:
            switch phase {
            case .closing, .closed:
                context.close(promise: nil)
            case .starting, .probing, .open:
                phase = .closing
                WebSocketChannelOps.answerClose(frame.data, context: context)
            }
        case .text:
            let bytes = frame.data
            guard bytes.withUnsafeReadableBytes(UTF8Check.isValid) else {
                close(.dataInconsistentWithMessage, reason: "text frames must be valid UTF-8")
                return
            }
            receivedText(String(buffer: bytes))
        case .binary:
            guard case .open(let session) = phase else { return }
            let gateway = self.gateway
            enqueue { gateway.refuseBinary(session: session, ackId: nil) }
        default:
            close(.protocolError, reason: "unexpected frame")
        }
    }

    private func receivedText(_ text: String) {
        switch phase {
        case .probing(let existing, let probed):
            if !probed, text == "2probe", let context {
                phase = .probing(existing, probed: true)
                TextFrameWriter.write([ByteBuffer(string: "3probe")], context: context)
            } else if probed, text == "5", let handle, existing.upgrade(to: EngineSession.WebSocketTransport(handle: handle)) {
                phase = .open(existing)
                session = existing
            } else {
                close(.policyViolation, reason: "the upgrade is 2probe, then 5")
            }
        case .open(let session):
            let gateway = self.gateway
            enqueue { await gateway.handle(Substring(text), session: session) }
        case .starting, .closing, .closed:
            return
        }
    }

    /// A socket error (a reset, say): the socket is closed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        gateway.logger.debug("Socket.IO socket error: \(error)")
        context.close(promise: nil)
    }

    private func enqueue(_ job: @escaping SocketInbox.Job) {
        if inbox?.enqueue(job) == true { reads.pause() }
    }

    func read(context: ChannelHandlerContext) { reads.read(context: context) }

    private func resumeReading() { reads.resume(context: context) }

    // MARK: Outbound

    /// Writes everything queued for the client with one flush, if the channel can
    /// take it now; otherwise `channelWritabilityChanged` comes back here. The
    /// session's wake-up of its transport (`EngineSession.WebSocketTransport`).
    func writePending() {
        guard let context, let session, case .open = phase, context.channel.isWritable else { return }
        TextFrameWriter.write(session.takeForWebSocket(), context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { writePending() }
        context.fireChannelWritabilityChanged()
    }

    /// The session's close of its transport: the socket is closed at once.
    func closeSocket() {
        context?.close(promise: nil)
    }

    /// Starts the close handshake with `code`; the socket closes when the client
    /// answers, or after `NativeSocketHandler.closeHandshakeTimeout`.
    private func close(_ code: WebSocketErrorCode, reason: String) {
        guard let context else { return }
        switch phase {
        case .closing, .closed: return
        case .starting, .probing, .open: phase = .closing
        }
        closeTimer = WebSocketChannelOps.startClose(code, reason: reason, timeout: NativeSocketHandler.closeHandshakeTimeout, context: context)
    }

    private typealias Handle = SocketHandle<EngineSocketHandler>
}
