import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// Each accepted TCP connection: HTTP/1.1 for the routes, or a WebSocket upgrade to
/// one of the two realtime endpoints.
///
/// - `GET /ws` (the native protocol) and `GET /socket.io/?EIO=4&transport=websocket`
///   (Socket.IO's WebSocket transport) are handed to channel handlers
///   (`NativeSocketHandler`, `EngineSocketHandler`) and the connection's task ends at
///   once: no task waits on an idle socket, which is most of what an idle socket
///   used to cost.
/// - Anything else asking to upgrade gets 400; a plain request goes to the router.
///
/// Modelled on hummingbird-websocket's `HTTP1WebSocketUpgradeChannel`, which serves
/// every socket on its task.
struct ParleyHTTPChannel: ServerChildChannel, HTTPChannelHandler {
    /// Which endpoint an accepted upgrade is for.
    enum Upgrade: Sendable {
        case native(token: String?)
        case socketIO(EngineQuery)
    }

    enum UpgradeResult: Sendable {
        /// Served by the channel's handlers from now on.
        case handed
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let native: WebSocketGateway
    let socketIO: SocketIOGateway

    /// The upgrade a request asks for, or nil to refuse it.
    static func upgrade(for head: HTTPRequestHead) -> Upgrade? {
        guard head.method == .GET else { return nil }
        let uri = URI(head.uri)
        switch uri.path {
        case WebSocketGateway.path:
            return .native(token: WebSocketGateway.token(authorization: head.headers.first(name: "authorization"), uri: uri))
        case SocketIOGateway.path, SocketIOGateway.path + "/":
            return SocketIOGateway.webSocketUpgrade(uri).map { Upgrade.socketIO($0) }
        default:
            return nil
        }
    }

    /// Each connection's receive buffer starts at 512 bytes and grows with what it reads
    /// (NIO's default starts at 2 KiB). The channel keeps its buffer between reads, so an
    /// idle socket holds the largest it has needed: for most, the upgrade request.
    static let receiveBuffer = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536)

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffer)
            let attempted = NIOLoopBoundBox<Upgrade?>(nil, eventLoop: channel.eventLoop)
            let upgradeRequested = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let upgrader = SocketHandlerUpgrader<UpgradeResult>(
                shouldUpgrade: { channel, head in
                    upgradeRequested.value = true
                    attempted.value = Self.upgrade(for: head)
                    return channel.eventLoop.makeSucceededFuture(attempted.value == nil ? nil : HTTPHeaders())
                },
                upgradePipeline: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        switch attempted.value {
                        case let endpoint?:
                            // The socket's handler is the pipeline: it frames its own bytes.
                            let handlers = channel.pipeline.syncOperations
                            switch endpoint {
                            case .native(let token): try handlers.addHandler(native.makeHandler(token: token))
                            case .socketIO(let query): try handlers.addHandler(socketIO.makeHandler(query: query))
                            }
                            return .handed
                        case nil:
                            preconditionFailure("upgraded without a chosen endpoint")
                        }
                    }
                })
            let upgrades = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return upgradeRequested.value ? .failedUpgrade(asyncChannel) : .notUpgraded(asyncChannel)
                    }
                })
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: upgrades)
            pipeline.enablePipelining = false  // HTTP is pipelined by NIOAsyncChannel
            pipeline.enableErrorHandling = false  // Hummingbird answers parse errors
            pipeline.enableResponseHeaderValidation = false  // HTTPTypes validates them
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .handed:
                return
            case .notUpgraded(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .failedUpgrade(let http1):
                await refuseUpgrade(http1, logger: logger)
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("upgrade failed: input closed")
        } catch {
            logger.debug("connection ended: \(error)")
        }
    }

    /// 400 and close, for an upgrade to no endpoint (or with bad parameters).
    private func refuseUpgrade(_ asyncChannel: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, logger: Logger) async {
        do {
            try await asyncChannel.executeThenClose { _, outbound in
                let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])
                try await outbound.write(contentsOf: [.head(head), .end(nil)])
            }
        } catch {
            logger.trace("could not refuse an upgrade: \(error)")
        }
    }

    /// The router behind a responder that sends a request asking to upgrade after the
    /// connection's first request (NIO upgrades only the first) to the same URI on a
    /// fresh connection: 307 and `Connection: close`.
    static func redirectingLateUpgrades(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        struct RedirectClose: Error {}
        return { request, responseWriter, channel in
            guard request.headers[.upgrade] == "websocket" else {
                try await responder(request, responseWriter, channel)
                return
            }
            var location = request.uri.path
            if let query = request.uri.query { location += "?\(query)" }
            try await responseWriter.writeResponse(HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: location]))
            throw RedirectClose()
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with Parley's two WebSocket endpoints (see `ParleyHTTPChannel`).
    static func parley(native: WebSocketGateway, socketIO: SocketIOGateway) -> HTTPServerBuilder {
        .init { responder in
            ParleyHTTPChannel(
                responder: ParleyHTTPChannel.redirectingLateUpgrades(responder), native: native, socketIO: socketIO)
        }
    }
}
