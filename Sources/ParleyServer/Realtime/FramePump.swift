import NIOCore
import NIOWebSocket
import HummingbirdWebSocket

/// How both WebSocket gateways run a socket: a writer task sends each queued buffer
/// as one text frame (the buffer shared by all recipients, no copy) while `read`
/// runs the read loop; then `finish` cleans up. Returns the read loop's error, for
/// the caller to rethrow after cleanup so the socket closes with its code.
enum FramePump {
    static func run(
        writing queue: AsyncStream<ByteBuffer>,
        to outbound: WebSocketOutboundWriter,
        read: () async throws -> Void,
        finish: () async -> Void
    ) async -> (any Error)? {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await bytes in queue {
                    do {
                        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: bytes)))
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
}
