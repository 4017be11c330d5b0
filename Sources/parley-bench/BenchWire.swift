import Foundation
import NIOCore
import NIOPosix

/// The WebSocket client side of `BenchSocket`, as one NIO channel handler: the
/// HTTP upgrade written by hand, then frames cut out of the bytes read, in place.
/// A batch the server writes in one go (many `message:new` frames) is handled in
/// one `channelRead`, with no task, stream or `String` per frame: the load
/// generator runs on the same cores as the server it measures, and what it spends
/// per frame sets how far fan-out can be driven.
final class BenchWireHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the socket learns: its frames, and its end (nil: closed cleanly).
    struct Events {
        let upgraded: @Sendable () -> Void
        let text: @Sendable (BenchFrame, _ reply: (String) -> Void) -> Void
        let closed: @Sendable ((any Error)?) -> Void
    }

    struct Refused: Error, CustomStringConvertible { let description: String }

    private let request: ByteBuffer
    private let events: Events
    private var pending: ByteBuffer?
    private var upgraded = false
    /// A text message split over continuation frames, while it is incomplete.
    private var fragments: ByteBuffer?
    private var failure: (any Error)?

    init(host: String, port: Int, path: String, headers: [(String, String)], events: Events) {
        var head = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Key: \(Self.key())\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        request = ByteBuffer(string: head + "\r\n")
        self.events = events
    }

    private static func key() -> String {
        Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var p = pending {
            p.writeBuffer(&incoming)
            pending = p
        } else {
            pending = incoming
        }
        if !upgraded, !readUpgrade(context: context) { return }
        readFrames(context: context)
    }

    /// The server's answer to the upgrade; false while it is incomplete or refused.
    private func readUpgrade(context: ChannelHandlerContext) -> Bool {
        guard let p = pending, let end = BenchFrame(p).offset(of: "\r\n\r\n") else { return false }
        let head = p.getString(at: p.readerIndex, length: end) ?? ""
        guard head.hasPrefix("HTTP/1.1 101") else {
            failure = Refused(description: "upgrade refused: \(head.split(separator: "\r\n").first ?? "")")
            context.close(promise: nil)
            return false
        }
        pending!.moveReaderIndex(forwardBy: end + 4)
        upgraded = true
        events.upgraded()
        return true
    }

    private func readFrames(context: ChannelHandlerContext) {
        guard var p = pending else { return }
        defer {
            if p.readableBytes == 0 {
                pending = nil
            } else {
                if p.readerIndex > 65536 { p.discardReadBytes() }
                pending = p
            }
        }
        while p.readableBytes >= 2 {
            let start = p.readerIndex
            let b0 = p.getInteger(at: start, as: UInt8.self)!
            let b1 = p.getInteger(at: start + 1, as: UInt8.self)!
            var header = 2
            var length = Int(b1 & 0x7F)
            if length == 126 {
                guard let l = p.getInteger(at: start + 2, as: UInt16.self) else { return }
                length = Int(l)
                header = 4
            } else if length == 127 {
                guard let l = p.getInteger(at: start + 2, as: UInt64.self) else { return }
                length = Int(l)
                header = 10
            }
            let masked = b1 & 0x80 != 0
            if masked { header += 4 }
            guard p.readableBytes >= header + length else { return }
            var payload = p.getSlice(at: start + header, length: length)!
            if masked, let key = p.getBytes(at: start + header - 4, length: 4) {
                payload = Self.masked(payload, key: key)
            }
            p.moveReaderIndex(forwardBy: header + length)
            handle(opcode: b0 & 0x0F, fin: b0 & 0x80 != 0, payload: payload, context: context)
        }
    }

    private func handle(opcode: UInt8, fin: Bool, payload: ByteBuffer, context: ChannelHandlerContext) {
        switch opcode {
        case 0x1 where fin:
            deliver(payload, context: context)
        case 0x1:
            fragments = payload
        case 0x0:
            guard var f = fragments else { return }
            var more = payload
            f.writeBuffer(&more)
            if fin {
                fragments = nil
                deliver(f, context: context)
            } else {
                fragments = f
            }
        case 0x9:
            context.writeAndFlush(wrapOutboundOut(Self.frame(opcode: 0xA, payload: payload, allocator: context.channel.allocator)), promise: nil)
        case 0x8:
            context.close(promise: nil)
        default:
            break
        }
    }

    private func deliver(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        events.text(BenchFrame(payload)) { reply in
            context.writeAndFlush(self.wrapOutboundOut(Self.frame(text: reply, allocator: context.channel.allocator)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure = failure ?? error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        events.closed(failure ?? (upgraded ? nil : Refused(description: "closed during the upgrade")))
    }

    /// A client frame: masked, as RFC 6455 asks of clients.
    static func frame(opcode: UInt8 = 0x1, text: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        frame(opcode: opcode, payload: ByteBuffer(string: text), allocator: allocator)
    }

    static func frame(opcode: UInt8, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = payload.readableBytes
        var out = allocator.buffer(capacity: length + 14)
        out.writeInteger(0x80 | opcode)
        if length < 126 {
            out.writeInteger(UInt8(0x80 | length))
        } else if length <= 0xFFFF {
            out.writeInteger(UInt8(0x80 | 126))
            out.writeInteger(UInt16(length))
        } else {
            out.writeInteger(UInt8(0x80 | 127))
            out.writeInteger(UInt64(length))
        }
        let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
        out.writeBytes(key)
        out.writeBytes(payload.readableBytesView.enumerated().lazy.map { i, b in b ^ key[i & 3] })
        return out
    }

    private static func masked(_ payload: ByteBuffer, key: [UInt8]) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(payload.readableBytes)
        _ = payload.withUnsafeReadableBytes { b in
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: b.count) { o in
                for i in 0..<b.count { o[i] = b[i] ^ key[i & 3] }
                return b.count
            }
        }
        return out
    }

    /// Connects to `url` (`ws://host:port/path?query`) with a fresh handler.
    static func connect(url: String, headers: [(String, String)], events: Events) -> EventLoopFuture<any Channel> {
        let group = MultiThreadedEventLoopGroup.singleton
        guard let parsed = URLComponents(string: url), let host = parsed.host else {
            return group.any().makeFailedFuture(Refused(description: "bad URL \(url)"))
        }
        let port = parsed.port ?? 80
        let path = (parsed.percentEncodedPath.isEmpty ? "/" : parsed.percentEncodedPath) + (parsed.percentEncodedQuery.map { "?" + $0 } ?? "")
        return ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(30))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        BenchWireHandler(host: host, port: port, path: path, headers: headers, events: events))
                }
            }
            .connect(host: host, port: port)
    }
}
