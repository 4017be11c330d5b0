import Foundation
import NIOCore
import NIOWebSocket

/// The RFC 6455 mechanics the two socket handlers share (`NativeSocketHandler` for
/// `/ws`, `EngineSocketHandler` for Socket.IO's WebSocket transport), on the
/// channel's event loop: control frames out, closing, failing. Their messages come
/// in through `WebSocketReader` and their text frames go out through
/// `TextFrameWriter`; every frame is written as bytes from the handler's context.
enum WebSocketChannelOps {
    /// Writes one final frame with `payload` (a control frame's is at most 125 bytes).
    @discardableResult
    static func send(_ opcode: WebSocketOpcode, _ payload: ByteBuffer, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        var frame = context.channel.allocator.buffer(capacity: TextFrameWriter.headerSize(length: payload.readableBytes) + payload.readableBytes)
        TextFrameWriter.appendHeader(opcode: opcode, length: payload.readableBytes, to: &frame)
        frame.writeImmutableBuffer(payload)
        return context.writeAndFlush(NIOAny(frame))
    }

    /// Answers a ping with its payload.
    static func pong(_ ping: ByteBuffer, context: ChannelHandlerContext) {
        send(.pong, ping, context: context)
    }

    /// A ping with no payload.
    static func ping(context: ChannelHandlerContext) {
        send(.ping, ByteBuffer(), context: context)
    }

    /// Answers the client's close frame (its payload) with its code, then closes the
    /// socket.
    static func answerClose(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        var data = payload
        let code = data.readableBytes >= 2 ? data.readSlice(length: 2)! : ByteBuffer()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        send(.connectionClose, code, context: context).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    /// A close frame's payload: the code, then as much of `reason` as fits in 123 bytes.
    static func closePayload(_ code: WebSocketErrorCode, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var data = allocator.buffer(capacity: 2 + min(reason.utf8.count, 123))
        data.write(webSocketErrorCode: code)
        var end = reason.endIndex
        while reason.utf8[..<end].count > 123 { end = reason.index(before: end) }
        data.writeString(String(reason[..<end]))
        return data
    }

    /// Sends our close frame and closes the socket after `timeout` if the client has
    /// not answered by then; the returned timer is cancelled when it does.
    static func startClose(_ code: WebSocketErrorCode, reason: String, timeout: TimeAmount, context: ChannelHandlerContext) -> Scheduled<Void> {
        send(.connectionClose, closePayload(code, reason: reason, allocator: context.channel.allocator), context: context)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        return context.eventLoop.scheduleTask(in: timeout) { loopBound.value.close(promise: nil) }
    }

    /// Fails the connection (RFC 6455 7.1.7) for what the reader refused: our close
    /// frame with its code, then the socket closes, since what the client sends next
    /// cannot be read.
    static func fail(_ failure: WebSocketReader.Failure, context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        send(.connectionClose, closePayload(failure.code, reason: failure.reason, allocator: context.channel.allocator), context: context)
            .whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    /// The client closed its side without a close frame (the server channels allow
    /// half-closure): there is nothing more to read, so the socket is closed. True
    /// when `event` was that.
    static func closeIfInputClosed(_ event: Any, context: ChannelHandlerContext) -> Bool {
        guard case .inputClosed = event as? ChannelEvent else { return false }
        context.close(promise: nil)
        return true
    }

    /// Abortive close (RST) of a client that is not reading: a FIN would wait behind
    /// unsent data; this frees the kernel's buffers at once.
    static func abort(_ channel: any Channel) {
        if let socket = channel as? any SocketOptionProvider {
            socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(mode: .all, promise: nil) }
        } else {
            channel.close(mode: .all, promise: nil)
        }
    }
}

/// Holds a socket's reads while its inbox is full (`SocketInbox`): the client's
/// frames wait in the kernel until the inbox has room again.
struct SocketReadGate {
    private var paused = false
    private var pending = false

    mutating func pause() { paused = true }

    /// The pipeline asks to read: passed on unless paused.
    mutating func read(context: ChannelHandlerContext) {
        if paused { pending = true } else { context.read() }
    }

    /// The inbox has room: a read held back goes out now.
    mutating func resume(context: ChannelHandlerContext?) {
        paused = false
        if pending, let context {
            pending = false
            context.read()
        }
    }
}
