import Foundation
import NIOCore
import Synchronization

/// One `/ws` (or Socket.IO WebSocket) connection for the bench. Frames are
/// classified by looking at their bytes, not parsed, on the event loop that read
/// them (`BenchWireHandler`), so the generator spends as little of the shared CPU
/// as it can.
final class BenchSocket: Sendable {
    enum FrameKind { case messageNew, ack, syncDone, other }

    /// Who waits for `sync:done`, shared with the connection's handler.
    final class Gate: Sendable {
        let waiter = Mutex<CheckedContinuation<Void, any Error>?>(nil)
        /// nil while waiting; then passed or the failure.
        let outcome = Mutex<Result<Void, any Error>?>(nil)

        func open(_ error: (any Error)? = nil) {
            let c = outcome.withLock { o -> CheckedContinuation<Void, any Error>? in
                guard o == nil else { return nil }
                o = error.map { .failure($0) } ?? .success(())
                return waiter.withLock { w in
                    defer { w = nil }
                    return w
                }
            }
            if let error { c?.resume(throwing: error) } else { c?.resume() }
        }

        func wait() async throws {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let done = outcome.withLock { o -> Result<Void, any Error>? in
                    if o == nil { waiter.withLock { $0 = c } }
                    return o
                }
                if let done { c.resume(with: done) }
            }
        }
    }

    private let channel: any Channel

    /// Connects with the token in the header and waits for `sync:done`. `onFrame` sees
    /// every frame after that, with its kind, on the event loop that read it. With
    /// `socketIO`, `url` is the server's Socket.IO WebSocket transport
    /// (`socketIOURL`): the token goes in CONNECT and Engine.IO's pings are answered.
    static func open(
        url: String, token: String, socketIO: Bool = false, onFrame: @escaping @Sendable (FrameKind, BenchFrame) -> Void
    ) async throws -> BenchSocket {
        let gate = Gate()
        let events = BenchWireHandler.Events(
            upgraded: {},
            text: { frame, reply in
                if socketIO {
                    // Engine.IO: the handshake asks for CONNECT, a ping for a pong.
                    if frame.hasPrefix("0{") { reply(#"40{"token":"\#(token)"}"#) }
                    if frame.bytes.readableBytes == 1, frame.hasPrefix("2") { reply("3") }
                }
                let kind = BenchSocket.kind(of: frame)
                if kind == .syncDone {
                    gate.open()
                    return
                }
                onFrame(kind, frame)
            },
            closed: { error in gate.open(error ?? RestClient.Failure(description: "closed before sync:done")) })
        let channel = try await BenchWireHandler.connect(url: url, headers: [("Authorization", "Bearer \(token)")], events: events).get()
        do {
            try await gate.wait()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        return BenchSocket(channel: channel)
    }

    private init(channel: any Channel) { self.channel = channel }

    /// The Socket.IO WebSocket transport of the server whose `/ws` is `wsURL`.
    static func socketIOURL(_ wsURL: String) -> String {
        String(wsURL.dropLast(3)) + "/socket.io/?EIO=4&transport=websocket"
    }

    static func kind(of frame: BenchFrame) -> FrameKind {
        if frame.hasPrefix(#"{"type":"message:new""#) { return .messageNew }
        if frame.hasPrefix(#"{"type":"ack""#) || frame.contains(#""type":"ack""#) { return .ack }
        if frame.contains(#""type":"sync:done""#) || frame.hasPrefix(#"42["sync:done""#) { return .syncDone }
        if frame.contains(#""type":"message:new""#) { return .messageNew }
        return .other
    }

    func send(_ text: String) {
        channel.writeAndFlush(BenchWireHandler.frame(text: text, allocator: channel.allocator), promise: nil)
    }

    /// Sends a close frame; the server answers it and the channel closes.
    func close() {
        let frame = BenchWireHandler.frame(opcode: 0x8, payload: ByteBuffer(bytes: [0x03, 0xE8]), allocator: channel.allocator)
        channel.writeAndFlush(frame, promise: nil)
    }
}
