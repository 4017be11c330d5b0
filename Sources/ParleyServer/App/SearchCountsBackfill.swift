import Foundation
import Logging
import ParleyCore
import ServiceLifecycle

/// At start, counts the words of messages stored before the vocabulary kept counts
/// (`VocabularyRecount`), in the background: until it is done, search plans as if
/// every word were rare (the index), which is what it did before the counts. Then
/// it waits for the shutdown: a service that returns would end the whole group.
struct SearchCountsBackfill: Service {
    let recount: VocabularyRecount
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            do {
                if try await recount.isNeeded() {
                    logger.info("counting the words of the stored messages for search")
                    let done = try await recount.run()
                    logger.info("counted \(done.words) word(s) in \(done.messages) message(s) for search")
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("search word counts not made (search reads rare and common words alike until they are): \(error)")
            }
        }
        try? await gracefulShutdown()
    }
}
