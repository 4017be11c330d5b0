import NIOCore
import Mongo
import NIOEmbedded
import ParleyCore
import Testing
import TestSupport

@testable import ParleyServer

/// A closed socket's channel handler is freed: the closures it hands out (its inbox's
/// resume, its timers, the Engine.IO session's transport) reach it through a
/// `SocketHandle`, which it empties when it leaves the pipeline. Each test keeps only
/// a weak reference to the handler it adds to an embedded channel.
@Suite("Socket handlers: nothing keeps a closed socket's handler")
struct SocketHandlerLifetimeTests {
    static func services(_ db: MongoDatabase) async -> ParleyServices {
        await ParleyServices(config: RestHarness.config(database: db.name), database: db, metrics: ParleyMetrics())
    }

    @Test("a native socket waiting for its auth frame (its timer, inbox and ping seat set up) is freed when it closes")
    func native() async throws {
        try await TestDatabase.with { db in
            let gateway = WebSocketGateway(services: await Self.services(db))
            // From here on one thread: the embedded loop is driven by this one.
            let channel = EmbeddedChannel()
            weak var added: NativeSocketHandler?
            do {
                let handler = gateway.makeHandler(token: nil)
                added = handler
                try channel.pipeline.syncOperations.addHandler(handler)
            }
            channel.embeddedEventLoop.run()
            #expect(added != nil)
            #expect(gateway.pings.wheel(on: channel.eventLoop).count == 1)
            _ = try channel.finish(acceptAlreadyClosed: true)
            channel.embeddedEventLoop.run()
            #expect(added == nil)
            #expect(gateway.pings.wheel(on: channel.eventLoop).count == 0)
        }
    }

    @Test("a Socket.IO WebSocket (its Engine.IO session, transport and pings set up) is freed when it closes")
    func socketIO() async throws {
        try await TestDatabase.with { db in
            let gateway = SocketIOGateway(services: await Self.services(db), logger: .init(label: "test"))
            let channel = EmbeddedChannel()
            weak var added: EngineSocketHandler?
            do {
                let handler = gateway.makeHandler(query: EngineQuery())
                added = handler
                try channel.pipeline.syncOperations.addHandler(handler)
            }
            channel.embeddedEventLoop.run()
            #expect(added != nil)
            // The Engine.IO open packet went out through the handler.
            #expect(try channel.readOutbound(as: ByteBuffer.self) != nil)
            _ = try channel.finish(acceptAlreadyClosed: true)
            channel.embeddedEventLoop.run()
            #expect(added == nil)
            #expect(gateway.pings.wheel(on: channel.eventLoop).count == 0)
        }
    }
}
