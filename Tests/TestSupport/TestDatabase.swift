import Foundation
import Logging
import Mongo

/// A database of its own for one test, on the server the test command started.
///
/// The URI comes from `MONGODB_URI` (set by `scripts/test.sh`). A test that cannot
/// reach it fails with a message saying how to start it; it never skips.
public enum TestDatabase {
    /// The server the current test runs against (`DatabaseSlots`): from
    /// `PARLEY_TEST_MONGODB_URIS` or `MONGODB_URI`, set by `scripts/test.sh`.
    public static var uri: String { DatabaseSlots.shared.uri }

    /// A database name unique to this call, safe for MongoDB (letters, digits, `_`).
    public static func uniqueName(_ label: String = #function) -> String {
        let cleaned = label.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(String.init).joined()
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
        return "t_\(cleaned.prefix(30))_\(suffix)"
    }

    /// Runs `body` with a fresh client and database, in a slot of one of the test
    /// database servers (`DatabaseSlots`); drops the database and shuts the client down
    /// afterwards, whatever `body` did.
    public static func with<R>(
        _ label: String = #function,
        threads: Int = 4,
        extraClients: Int = 8,
        _ body: (MongoDatabase) async throws -> R
    ) async throws -> R {
        try await DatabaseSlots.shared.run { try await inSlot(label, threads: threads, extraClients: extraClients, body) }
    }

    private static func inSlot<R>(
        _ label: String, threads: Int, extraClients: Int, _ body: (MongoDatabase) async throws -> R
    ) async throws -> R {
        // A generous deadline: the suite's parallel tests share one single-threaded
        // database (see `RestHarness.config`).
        let client = try MongoClient(
            configuration: MongoConfiguration(uri: uri, threadCount: threads, extraClients: extraClients, operationTimeoutMS: 30_000),
            logger: Logger(label: "test")
        )
        let db = client.database(uniqueName(label))
        do {
            try await db.ping()
        } catch {
            try? await client.shutdown()
            throw TestSetupError(
                "cannot reach the test database at \(uri) (\(error)). Run the tests with scripts/test.sh, which starts one, or set MONGODB_URI to a running mongod."
            )
        }
        do {
            let result = try await body(db)
            try? await db.drop()
            try await client.shutdown()
            return result
        } catch {
            try? await db.drop()
            try? await client.shutdown()
            throw error
        }
    }
}

/// A test environment problem, with the fix in its message.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
