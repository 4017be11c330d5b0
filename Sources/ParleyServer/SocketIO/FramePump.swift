import NIOCore
import NIOWebSocket
import HummingbirdWebSocket

/// How Socket.IO's WebSocket transport runs a socket (native `/ws` sockets are served
/// by `NativeSocketHandler`, without tasks): a writer task sends each batch of queued
/// buffers as text frames (each buffer shared by all recipients, no copy) with one
/// flush per batch, while `read` runs the read loop; then `finish` cleans up. Returns
/// the read loop's error, for the caller to rethrow after cleanup so the socket
/// closes with its code.
enum FramePump {
    static func run<Batches: AsyncSequence & Sendable>(
        writing batches: Batches,
        to channel: any Channel,
        read: () async throws -> Void,
        finish: () async -> Void
    ) async -> (any Error)? where Batches.Element == [ByteBuffer], Batches.Failure == Never {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await batch in batches {
                    do {
                        try await write(batch, to: channel)
                    } catch {
                        break
                    }
                }
            }
            var failure: (any Error)?
            do {
                try await read()
            } catch {
                failure = error
            }
            await finish()
            return failure
        }
    }

    /// Writes the frames straight into the channel's pipeline (the WebSocket frame
    /// encoder), flushing once, and waits until they are written to the socket: while
    /// it waits, the next batch gathers in the queue, and a client that stops reading
    /// fills the queue until it is cut. swift-websocket's writer flushes each frame.
    private static func write(_ batch: [ByteBuffer], to channel: any Channel) async throws {
        let frames = batch.map { WebSocketFrame(fin: true, opcode: .text, data: $0) }
        let loop = channel.eventLoop
        try await loop.flatSubmit { () -> EventLoopFuture<Void> in
            let done = loop.makePromise(of: Void.self)
            for (i, frame) in frames.enumerated() {
                channel.write(frame, promise: i == frames.count - 1 ? done : nil)
            }
            channel.flush()
            return done.futureResult
        }.get()
    }
}
