import Foundation
import Mongo

/// One versioned file of `migrations/`: `NNNN_name.json` holding a description and
/// `steps`, each a database command in MongoDB Extended JSON. Steps must be
/// idempotent (creating what exists is fine), so that two nodes starting at once,
/// or a run interrupted half way, converge on the same result.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let description: String
    public let steps: [BSONDocument]
    /// FNV-1a of the file's bytes: detects a file edited after it was applied.
    public let checksum: String

    /// The file name pattern: a zero-padded version, an underscore, a name.
    static let fileNamePattern = #"^([0-9]{4,})_([A-Za-z0-9_-]+)\.json$"#

    /// Parses one migration file; the version and name come from the file name.
    public init(fileName: String, contents: String) throws {
        guard let match = fileName.range(of: Migration.fileNamePattern, options: .regularExpression), match == fileName.startIndex..<fileName.endIndex else {
            throw MigrationError("\(fileName): migration files are named NNNN_name.json")
        }
        let underscore = fileName.firstIndex(of: "_")!
        version = Int(fileName[..<underscore])!
        name = String(fileName[fileName.index(after: underscore)...].dropLast(5))
        let doc: BSONDocument
        do {
            doc = try BSONDocument(extendedJSON: contents)
        } catch {
            throw MigrationError("\(fileName): not valid JSON (\(error))")
        }
        guard let steps = doc["steps"]?.arrayValue, !steps.isEmpty else {
            throw MigrationError("\(fileName): needs a non-empty \"steps\" array of commands")
        }
        self.steps = try steps.map {
            guard let d = $0.documentValue, !d.isEmpty else { throw MigrationError("\(fileName): every step must be a command document") }
            return d
        }
        description = doc["description"]?.stringValue ?? ""
        checksum = Migration.fnv1a(Array(contents.utf8))
    }

    /// `0001_name`, as the file and the `_migrations` record call it.
    public var id: String { String(format: "%04d_%@", version, name) }

    static func fnv1a(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return String(h, radix: 16)
    }

    /// Every migration in `directory`, ordered by version. Other files are ignored;
    /// two files with one version are an error.
    public static func load(directory: String) throws -> [Migration] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else {
            throw MigrationError("migrations directory \"\(directory)\" not found (set MIGRATIONS_DIR)")
        }
        let migrations = try names.filter { $0.hasSuffix(".json") }.sorted().map { fileName in
            let path = (directory as NSString).appendingPathComponent(fileName)
            return try Migration(fileName: fileName, contents: try String(contentsOfFile: path, encoding: .utf8))
        }.sorted { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw MigrationError("two migrations share version \(a.version): \(a.id) and \(b.id)")
        }
        return migrations
    }
}

/// A migration file or run that cannot proceed, with the reason.
public struct MigrationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
