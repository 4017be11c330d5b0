import Foundation
import NIOCore
import NIOWebSocket

/// The RFC 6455 mechanics the two socket handlers share (`NativeSocketHandler` for
/// `/ws`, `EngineSocketHandler` for Socket.IO's WebSocket transport), on the
/// channel's event loop: answering control frames, closing (their text frames go
/// out through `TextFrameWriter`).
enum WebSocketChannelOps {
    /// Answers a ping with its payload.
    static func pong(_ ping: WebSocketFrame, context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(WebSocketFrame(fin: true, opcode: .pong, data: ping.unmaskedData)), promise: nil)
    }

    /// Answers the client's close frame with its code, then closes the socket.
    static func answerClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var data = frame.unmaskedData
        let code = data.readableBytes >= 2 ? data.readSlice(length: 2)! : context.channel.allocator.buffer(capacity: 0)
        let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: code)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(reply)).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    /// Sends our close frame and closes the socket after `timeout` if the client has
    /// not answered by then; the returned timer is cancelled when it does.
    static func startClose(_ code: WebSocketErrorCode, reason: String, timeout: TimeAmount, context: ChannelHandlerContext) -> Scheduled<Void> {
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        context.writeAndFlush(NIOAny(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        return context.eventLoop.scheduleTask(in: timeout) { loopBound.value.close(promise: nil) }
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

    /// The close an inbound error calls for: the frame aggregator's are ours to answer
    /// (1009 or 1002); the frame decoder's were answered by NIO's protocol error
    /// handler (nil); anything else closes the socket without a frame (nil, after
    /// closing).
    static func closeFor(_ error: any Error, maxFrameBytes: Int, context: ChannelHandlerContext) -> (WebSocketErrorCode, String)? {
        if let error = error as? NIOWebSocketFrameAggregator.Error {
            if case .accumulatedFrameSizeIsTooLarge = error { return (.messageTooLarge, "message over \(maxFrameBytes) bytes") }
            return (.protocolError, "bad fragmentation")
        }
        if !(error is NIOWebSocketError) { context.close(promise: nil) }
        return nil
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
