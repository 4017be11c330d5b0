import Foundation
import Synchronization

/// Which test database server a test uses, and how many tests use each at once.
///
/// The suite runs its tests in parallel against SecantusDB, a single-threaded
/// server: one of them holds one core, so `scripts/test.sh` starts two
/// (`PARLEY_TEST_MONGODB_URIS`) and each test takes the next in turn. Started all
/// together, two hundred tests queue their calls at those servers, so each test
/// takes as long as the whole suite and a request that makes five calls could wait
/// longer than a test client's 10 s for its answer. With a few tests on each server
/// at a time (`PARLEY_TEST_DATABASE_SLOTS`, 8) the suite takes no longer, the
/// servers being the limit either way, and each test about as long as it does alone.
public final class DatabaseSlots: Sendable {
    public static let shared = DatabaseSlots(
        uris: ProcessInfo.processInfo.environment["PARLEY_TEST_MONGODB_URIS"]?.split(separator: " ").map(String.init) ?? [],
        fallback: ProcessInfo.processInfo.environment["MONGODB_URI"] ?? "mongodb://127.0.0.1:27017",
        slots: ProcessInfo.processInfo.environment["PARLEY_TEST_DATABASE_SLOTS"].flatMap(Int.init) ?? 8)

    /// The server the current test was given; a test that opens a second database (a
    /// cluster's nodes) stays on it and in its slot, never waiting on itself.
    @TaskLocal static var current: String?

    private let servers: [Server]
    private let next = Atomic<Int>(0)

    init(uris: [String], fallback: String, slots: Int) {
        servers = (uris.isEmpty ? [fallback] : uris).map { Server(uri: $0, slots: max(1, slots)) }
    }

    /// The server of the current test, or the first when none was taken.
    public var uri: String { Self.current ?? servers[0].uri }

    /// Runs `body` in a slot of the next server, waiting for one in turn.
    public func run<R>(_ body: () async throws -> R) async throws -> R {
        if Self.current != nil { return try await body() }
        let server = servers[next.add(1, ordering: .relaxed).oldValue % servers.count]
        await server.acquire()
        do {
            let result = try await Self.$current.withValue(server.uri) { try await body() }
            await server.release()
            return result
        } catch {
            await server.release()
            throw error
        }
    }

    /// One server's free slots and the tests waiting for one, first come first served.
    private actor Server {
        nonisolated let uri: String
        private var free: Int
        private var waiting: [CheckedContinuation<Void, Never>] = []

        init(uri: String, slots: Int) {
            self.uri = uri
            free = slots
        }

        func acquire() async {
            if free > 0 {
                free -= 1
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty {
                free += 1
            } else {
                waiting.removeFirst().resume()
            }
        }
    }
}
