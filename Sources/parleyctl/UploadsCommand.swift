import ArgumentParser
import Foundation
import ParleyCore

/// `parleyctl uploads`: what the stored files hold, and deleting those no message
/// carries (the nodes do it too, as uploads age past `UPLOAD_ORPHAN_SECONDS`).
struct UploadsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uploads", abstract: "Stored files: counts and orphans.", subcommands: [Stats.self, PurgeOrphans.self])

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count and bytes of the uploads, and of the orphans (attached to no message).")
        @Flag(help: "One JSON object instead of text.") var json = false

        func run() async throws {
            try await RoomCommand.run { ctl in
                let s = try await ctl.uploads.repository.stats()
                if json {
                    try RoomCommand.printJSON(["count": s.count, "bytes": s.bytes, "orphans": s.orphans, "orphanBytes": s.orphanBytes])
                } else {
                    print("\(s.count) upload(s), \(s.bytes) bytes; \(s.orphans) orphan(s), \(s.orphanBytes) bytes")
                }
            }
        }
    }

    struct PurgeOrphans: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "purge-orphans", abstract: "Delete the uploads attached to no message for UPLOAD_ORPHAN_SECONDS (or --older-than).")
        @Option(help: "Seconds an orphan must be old (default UPLOAD_ORPHAN_SECONDS).") var olderThan: Int?

        func run() async throws {
            try await RoomCommand.run { ctl in
                var service = ctl.uploads
                if let olderThan {
                    guard olderThan >= 0 else { CtlContext.fail("--older-than must be 0 or more", CtlExit.badInput) }
                    service = service.withOrphanSeconds(olderThan)
                }
                let purged = try await service.purgeOrphans()
                print("deleted \(purged.count) orphan upload(s), \(purged.bytes) bytes")
            }
        }
    }
}
