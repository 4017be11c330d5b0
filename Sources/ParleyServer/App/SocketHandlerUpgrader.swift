import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The WebSocket upgrade with NIO's handshake (the key, the version, the accept
/// header: `NIOTypedWebSocketServerUpgrader`'s own) and Parley's pipeline after it:
/// the socket's handler alone, which frames its bytes itself (`WebSocketReader`,
/// `TextFrameWriter`). NIO's upgrader would put its frame encoder, decoder and
/// error handler in front of it first, a pipeline context each on every socket.
struct SocketHandlerUpgrader<UpgradeResult: Sendable>: NIOTypedHTTPServerProtocolUpgrader {
    private let handshake: NIOTypedWebSocketServerUpgrader<UpgradeResult>
    private let upgradePipeline: @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<UpgradeResult>

    /// - Parameters:
    ///   - shouldUpgrade: the extra response headers, or nil to refuse the upgrade.
    ///   - upgradePipeline: adds the socket's handler, once the 101 is out.
    init(
        shouldUpgrade: @escaping @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?>,
        upgradePipeline: @escaping @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<UpgradeResult>
    ) {
        handshake = NIOTypedWebSocketServerUpgrader(
            shouldUpgrade: shouldUpgrade,
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)  // never called: `upgrade` is ours
            })
        self.upgradePipeline = upgradePipeline
    }

    var supportedProtocol: String { handshake.supportedProtocol }

    var requiredUpgradeHeaders: [String] { handshake.requiredUpgradeHeaders }

    func buildUpgradeResponse(
        channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        handshake.buildUpgradeResponse(channel: channel, upgradeRequest: upgradeRequest, initialResponseHeaders: initialResponseHeaders)
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        upgradePipeline(channel, upgradeRequest)
    }
}
