import ArgumentParser
import Foundation
import ParleyCore

/// `parleyctl search recount`: counts the words of every stored message into the
/// search vocabulary (a node does it at start when they were never counted).
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Message search.", subcommands: [Recount.self])

    struct Recount: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count the words of every stored message again (the counts search plans with); safe to run while nodes serve.")

        func run() async throws {
            try await CtlContext.run { config, db in
                try await CtlContext.requireMigrated(config, db)
                let done = try await VocabularyRecount(database: db, vocabulary: Vocabulary(database: db)).run()
                print("counted \(done.words) word(s) in \(done.messages) message(s)")
            }
        }
    }
}
