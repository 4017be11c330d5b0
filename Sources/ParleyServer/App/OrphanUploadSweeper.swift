import Foundation
import Logging
import ParleyCore
import ServiceLifecycle

/// Deletes the uploads no message carried within `UPLOAD_ORPHAN_SECONDS`, a minute
/// after start and then every `interval`. Every node sweeps; a sweep deletes only
/// what still has no reference, so two nodes at once do no harm.
struct OrphanUploadSweeper: Service {
    let uploads: UploadService
    let logger: Logger
    var interval: Duration = .seconds(600)

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            try await Task.sleep(for: .seconds(60))
            while !Task.isCancelled {
                do {
                    let purged = try await uploads.purgeOrphans()
                    if purged.count > 0 { logger.info("deleted \(purged.count) orphan upload(s), \(purged.bytes) bytes") }
                } catch {
                    logger.warning("orphan uploads not swept: \(error)")
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}
