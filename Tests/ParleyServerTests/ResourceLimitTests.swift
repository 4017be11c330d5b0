import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import ParleyCore
import TestSupport
import Synchronization
import Testing

@testable import ParleyServer

@Suite("Outbound queue, connection budget, 405 and the OpenAPI route")
struct ResourceLimitTests {
    private func frame(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }

    @Test("the outbound queue hands the writer everything pending at once, in order, and is bounded")
    func outboundQueueBatches() async {
        let queue = OutboundQueue(limit: 4)
        for s in ["a", "b", "c"] { #expect(queue.push([frame(s)]) == .queued) }
        #expect(await queue.next()?.map { String(buffer: $0) } == ["a", "b", "c"])
        for s in ["1", "2", "3", "4"] { #expect(queue.push([frame(s)]) == .queued) }
        #expect(queue.push([frame("5")]) == .full)
        queue.finish()
        #expect(queue.push([frame("6")]) == .finished)
        // What was pending before the end is still written, then the writer stops.
        #expect(await queue.next()?.count == 4)
        #expect(await queue.next() == nil)
    }

    @Test("a waiting writer is woken by the next frame; a producer waits for room until the writer drains")
    func outboundQueueWaits() async {
        let queue = OutboundQueue(limit: 4)
        async let first = queue.next()
        try? await Task.sleep(for: .milliseconds(20))
        #expect(queue.push([frame("x")]) == .queued)
        #expect(await first?.map { String(buffer: $0) } == ["x"])

        for s in ["1", "2", "3"] { _ = queue.push([frame(s)]) }
        let resumed = ManagedFlag()
        let producer = Task {
            await queue.waitForRoom()
            resumed.set()
        }
        try? await Task.sleep(for: .milliseconds(50))
        #expect(!resumed.value, "3 of 4 pending is above half the bound: the producer waits")
        #expect(await queue.next()?.count == 3)
        await producer.value
        #expect(resumed.value)
    }

    @Test("the connection budget counts per address and gives slots back")
    func connectionBudget() {
        let limiter = ConnectionLimiter(perAddress: 2)
        #expect(limiter.acquire("10.0.0.1"))
        #expect(limiter.acquire("10.0.0.1"))
        #expect(!limiter.acquire("10.0.0.1"))
        #expect(limiter.acquire("10.0.0.2"), "another address has its own budget")
        limiter.release("10.0.0.1")
        #expect(limiter.count("10.0.0.1") == 1)
        #expect(limiter.acquire("10.0.0.1"))
    }

    @Test("a known path with another method is 405 with Allow; an unknown path stays 404; /openapi.yaml serves the document")
    func methodNotAllowedAndOpenAPI() async throws {
        try await TestDatabase.with { db in
            var config = HealthTests.config(database: db.name)
            config.openAPIFile = RepoPaths.root + "/docs/openapi.yaml"
            let app = try await buildApplication(config)
            try await app.test(.router) { client in
                try await client.execute(uri: "/api/rooms", method: .delete) { response in
                    #expect(response.status == .methodNotAllowed)
                    #expect(response.headers[.allow] == "GET, POST")
                    #expect(String(buffer: response.body).contains("method_not_allowed"))
                }
                try await client.execute(uri: "/api/rooms/0123456789abcdef01234567/join", method: .get) { response in
                    #expect(response.status == .methodNotAllowed)
                    #expect(response.headers[.allow] == "POST")
                }
                try await client.execute(uri: "/api/nothing-here", method: .delete) { response in
                    #expect(response.status == .notFound)
                }
                try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).hasPrefix("openapi: 3.1"))
                }
            }
        }
    }
}

/// A flag set from another task.
private final class ManagedFlag: Sendable {
    private let state = Mutex(false)
    var value: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}
