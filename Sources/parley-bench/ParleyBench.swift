import ArgumentParser
import Foundation
import ParleyCore

/// `parley-bench`: a load generator for any server implementing the Parley wire
/// contract (REST to set up, `/ws` to load), and a database ceiling probe.
@main
struct ParleyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-bench",
        abstract: "Load-test a Parley server over its wire contract.",
        discussion: """
            Run the server with generous limits for load (RATE_LIMIT_MESSAGES_PER_SECOND, AUTH_RATE_LIMIT_PER_MINUTE, \
            BCRYPT_COST=4); scripts/bench.sh does all of it. Results print as a table; --json appends them to a file.
            """,
        subcommands: [Throughput.self, Fanout.self, Offline.self, Connections.self, Broadcast.self, Cluster.self, DBCeiling.self, Search.self, Uploads.self]
    )

    struct Common: ParsableArguments {
        @Option(help: "The server's base URL.") var url = "http://127.0.0.1:8080"
        @Option(help: "Append the result to this JSON file.") var json: String?
        @Option(help: "Characters of padding in each message text.") var padding = 100
        @Option(help: "Which server this run measures (e.g. parley, peer), kept in the result's parameters.") var label: String?
    }

    static func finish(_ result: BenchResult, _ common: Common) throws {
        var result = result
        if let label = common.label { result.parameters["server"] = label }
        result.print()
        if let path = common.json { try result.append(to: path) }
    }

    struct Throughput: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "S senders across R rooms: messages stored, deliveries, latency.")
        @OptionGroup var common: Common
        @Option var senders = 20
        @Option var rooms = 4
        @Option(help: "Messages per second per sender; 0 for the maximum (a window of sends in flight).") var rate: Double = 0
        @Option(help: "Sends in flight per sender at the maximum rate.") var window = 32
        @Option var seconds: Double = 10
        @Option(help: "Another node's base URL (repeatable): the senders are spread over every node.") var node: [String] = []
        @Option(help: "A server process id (repeatable, summed): its CPU per stored message, from /proc.") var serverPid: [Int32] = []
        @Option(help: "MongoDB URI of the servers' database: its work per stored message (serverStatus, and its CPU from /proc).")
        var mongodbUri: String?
        func run() async throws {
            ProcessLimits.raiseOpenFiles()
            let probe = try mongodbUri.map { try DatabaseProbe(uri: $0) }
            let r = try await Scenarios.throughput(
                BenchTarget(url: common.url), senders: senders, rooms: rooms, rate: rate, window: window, seconds: seconds, padding: common.padding,
                nodes: node.map { BenchTarget(url: $0).wsURL }, serverPIDs: serverPid, database: probe)
            await probe?.shutdown()
            try ParleyBench.finish(r, common)
        }
    }

    struct Cluster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Two nodes of a cluster: latency to a receiver on the sending node and on the other node, and typing across them.")
        @OptionGroup var common: Common
        @Option(help: "The other node's base URL.") var node: String
        @Option var senders = 20
        @Option var rooms = 4
        @Option(help: "Messages per second per sender; 0 for the maximum.") var rate: Double = 5
        @Option var window = 32
        @Option var seconds: Double = 10
        @Option(help: "Typing events timed across the nodes.") var typingProbes = 200
        func run() async throws {
            ProcessLimits.raiseOpenFiles()
            let r = try await Scenarios.cluster(
                BenchTarget(url: common.url), BenchTarget(url: node), senders: senders, rooms: rooms, rate: rate, window: window, seconds: seconds,
                padding: common.padding, typingProbes: typingProbes)
            try ParleyBench.finish(r, common)
        }
    }

    struct Fanout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One room of M members; deliveries per second.")
        @OptionGroup var common: Common
        @Option var members = 1000
        @Option(help: "Sends in flight. At 64 the run was bound by the round trip, with neither the server nor the generator busy.")
        var window = 256
        @Option var seconds: Double = 10
        @Option(help: "The server's process id: its CPU per delivery, from /proc.") var serverPid: [Int32] = []
        func run() async throws {
            ProcessLimits.raiseOpenFiles()
            try ParleyBench.finish(
                try await Scenarios.fanout(
                    BenchTarget(url: common.url), members: members, window: window, seconds: seconds, padding: common.padding, serverPIDs: serverPid),
                common)
        }
    }

    struct Offline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A user returns to Q queued messages: time to sync:done.")
        @OptionGroup var common: Common
        @Option var queued = 10_000
        @Option(help: "Rooms the returning user is in; the queued messages are spread over them in turn.") var rooms = 1
        @Option(help: "MongoDB URI of the server's database, for the ceiling probe (with --database).") var mongodbUri =
            ProcessInfo.processInfo.environment["MONGODB_URI"] ?? "mongodb://127.0.0.1:27017"
        @Option(help: "The server's database: the same documents are read from here through one cursor per room, as the ceiling.")
        var database: String?
        @Option(help: "The server's process id: its CPU per flushed message, from /proc.") var serverPid: Int32?
        func run() async throws {
            let result = try await Scenarios.offline(
                BenchTarget(url: common.url), queued: queued, rooms: max(1, rooms), padding: common.padding, database: database.map { (mongodbUri, $0) },
                serverPID: serverPid)
            try ParleyBench.finish(result, common)
        }
    }

    struct Connections: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hold N idle authenticated connections; server memory per connection.",
            discussion: """
                A process can hold only as many sockets as its descriptor limit allows (ulimit -Hn); --processes splits \
                the connections over child processes of this tool, and --node adds server nodes (sharing one database) \
                that the children take in turn. With several --server-pid, their resident memory is summed.
                """)
        @OptionGroup var common: Common
        @Option var count = 1000
        @Option var users = 50
        @Option(help: "Connections opened per second.") var rate = 1000
        @Option(help: "A server process id, to read its resident memory (repeatable).") var serverPid: [Int32] = []
        @Option(help: "Seconds to hold the connections before measuring.") var hold: Double = 3
        @Option(help: "Child processes holding the connections (0: this process).") var processes = 0
        @Option(help: "Another server node's base URL (repeatable).") var node: [String] = []
        @ArgumentParser.Flag(help: "Open Socket.IO WebSocket connections (/socket.io/) instead of native ones (/ws).") var socketIo = false
        @ArgumentParser.Flag(help: .hidden) var child = false
        func run() async throws {
            ProcessLimits.raiseOpenFiles()
            if child {
                try await Scenarios.connectionsChild(BenchTarget(url: common.url), count: count, users: users, ratePerSecond: rate, socketIO: socketIo)
                return
            }
            guard processes > 0 || node.isEmpty else { throw ValidationError("--node needs --processes") }
            guard processes > 0 || serverPid.count <= 1 else { throw ValidationError("several --server-pid need --processes") }
            let result =
                processes > 0
                ? try await Scenarios.connectionsAcrossProcesses(
                    urls: [common.url] + node, processes: processes, count: count, users: users, ratePerSecond: rate,
                    serverPIDs: serverPid, hold: hold, socketIO: socketIo)
                : try await Scenarios.connections(
                    BenchTarget(url: common.url), count: count, users: users, ratePerSecond: rate, serverPID: serverPid.first,
                    hold: hold, socketIO: socketIo)
            try ParleyBench.finish(result, common)
        }
    }

    struct Broadcast: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "N connections over several nodes in one event room, and one message to all: memory summed, time for the last to receive it.",
            discussion: """
                The connections are held by --processes child processes of this tool (a process may hold only ulimit -Hn \
                descriptors), child i on the i-th node in turn (--url, then each --node).
                """)
        @OptionGroup var common: Common
        @Option var count = 10_000
        @Option var users = 200
        @Option(help: "Connections opened per second, over all processes.") var rate = 2000
        @Option(help: "Child processes holding the connections.") var processes = 2
        @Option(help: "Another server node's base URL (repeatable).") var node: [String] = []
        @Option(help: "A server process id (repeatable, summed): resident memory.") var serverPid: [Int32] = []
        @Option(help: "Seconds to hold the connections before measuring and sending.") var hold: Double = 3
        @ArgumentParser.Flag(help: .hidden) var child = false
        @Option(help: .hidden) var tokensFile: String?
        func run() async throws {
            ProcessLimits.raiseOpenFiles()
            if child, let tokensFile {
                try await Scenarios.broadcastChild(BenchTarget(url: common.url), count: count, tokensFile: tokensFile, ratePerSecond: rate)
                return
            }
            guard processes > 0 else { throw ValidationError("--processes must be at least 1") }
            try ParleyBench.finish(
                try await Scenarios.broadcast(
                    urls: [common.url] + node, processes: processes, count: count, users: users, ratePerSecond: rate, serverPIDs: serverPid,
                    hold: hold, padding: common.padding),
                common)
        }
    }

    struct DBCeiling: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "db-ceiling", abstract: "The database's bulk-insert rate for message-shaped documents.")
        @OptionGroup var common: Common
        @Option(help: "MongoDB URI.") var mongodbUri = ProcessInfo.processInfo.environment["MONGODB_URI"] ?? "mongodb://127.0.0.1:27017"
        @Option var documents = 100_000
        @Option var batch = 500
        @Option var concurrency = 2
        @Option(help: "Shape the probe's collection and documents as these migrations make `messages` (empty: bare).")
        var migrations = "migrations"
        func run() async throws {
            try ParleyBench.finish(
                try await Scenarios.dbCeiling(
                    uri: mongodbUri, documents: documents, batch: batch, concurrency: concurrency, padding: common.padding,
                    shape: try Scenarios.MessagesShape.load(migrations: migrations)), common)
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Message search query time (p50, p99) over rooms holding many stored messages, written straight to the server's database.")
        @OptionGroup var common: Common
        @Option(help: "MongoDB URI of the server's database.") var mongodbUri = ProcessInfo.processInfo.environment["MONGODB_URI"] ?? "mongodb://127.0.0.1:27017"
        @Option(help: "The server's database name.") var database = ProcessInfo.processInfo.environment["MONGODB_DATABASE"] ?? "parley"
        @Option var messages = 1_000_000
        @Option var rooms = 100
        @Option var vocabulary = 50_000
        @Option var queries = 400
        @Option var batch = 1_000
        @ArgumentParser.Flag(help: "Query the messages an earlier run stored in this database, without storing any.") var reuse = false
        func run() async throws {
            try ParleyBench.finish(
                try await SearchScenario.run(
                    BenchTarget(url: common.url), uri: mongodbUri, database: database, messages: messages, rooms: rooms, vocabulary: vocabulary,
                    queries: queries, batch: batch, reuse: reuse), common)
        }
    }

    struct Uploads: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload and download MiB/s through the server against the database's own GridFS rate, in the same run.")
        @OptionGroup var common: Common
        @Option(help: "MongoDB URI of the server's database.") var mongodbUri = ProcessInfo.processInfo.environment["MONGODB_URI"] ?? "mongodb://127.0.0.1:27017"
        @Option(help: "The server's database name.") var database = ProcessInfo.processInfo.environment["MONGODB_DATABASE"] ?? "parley"
        @Option var files = 24
        @Option(help: "MiB per file.") var mib = 4
        @Option var concurrency = 4
        func run() async throws {
            try ParleyBench.finish(
                try await UploadScenario.run(BenchTarget(url: common.url), uri: mongodbUri, database: database, files: files, mib: mib, concurrency: concurrency),
                common)
        }
    }
}
