import Foundation
import Mongo
import ParleyCore
import Synchronization

/// What every scenario needs: where the server is, a run id for unique names.
struct BenchTarget: Sendable {
    let rest: RestClient
    let wsURL: String
    let runID: String

    init(url: String) {
        rest = RestClient(base: url)
        wsURL = url.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(of: "https://", with: "wss://") + "/ws"
        runID = String(UUID().uuidString.prefix(6)).lowercased()
    }

    /// `count` users named for this run, made `parallel` at a time.
    func users(_ prefix: String, _ count: Int, parallel: Int = 16) async throws -> [(token: String, id: String)] {
        try await withThrowingTaskGroup(of: (Int, (String, String)).self) { group in
            var out = [(token: String, id: String)?](repeating: nil, count: count)
            var next = 0
            func add() {
                let i = next
                next += 1
                group.addTask { (i, try await rest.user("b\(runID)\(prefix)\(i)")) }
            }
            for _ in 0..<min(parallel, count) { add() }
            while let (i, u) = try await group.next() {
                out[i] = (u.0, u.1)
                if next < count { add() }
            }
            return out.map { $0! }
        }
    }

    func message(room: String, clientId: String, padding: Int) -> String {
        #"{"type":"message:send","id":"\#(clientId)","data":{"roomId":"\#(room)","text":"\#(Stamp.text(padding: padding))","clientId":"\#(clientId)"}}"#
    }
}

enum Scenarios {
    /// S senders across R rooms; every sender is also a member receiving its room.
    /// At `rate` 0 each sender keeps `window` sends in flight (maximum rate).
    /// With `nodes` (other nodes' `/ws` URLs), the senders are spread over this node
    /// and those, in turn.
    static func throughput(
        _ t: BenchTarget, senders: Int, rooms: Int, rate: Double, window: Int, seconds: Double, padding: Int, nodes: [String] = [],
        serverPIDs: [Int32] = []
    ) async throws -> BenchResult {
        progress("throughput: \(senders) senders over \(nodes.count + 1) node(s), \(rooms) rooms, rate \(rate == 0 ? "max" : String(rate)) per sender, \(seconds) s")
        let users = try await t.users("t", senders)
        var roomIds: [String] = []
        for r in 0..<rooms { roomIds.append(try await t.rest.createRoom(users[0].token, name: "bench \(t.runID) \(r)")) }
        for (i, u) in users.enumerated() where i >= rooms || i != 0 { try await t.rest.join(u.token, room: roomIds[i % rooms]) }
        let tally = Tally()
        let acked = AckRouter()
        let sockets = try await openCounting(t, users: users, tally: tally, acked: acked, urls: [t.wsURL] + nodes)
        progress("throughput: \(sockets.count) connected; warming up")
        let measured = try await drive(
            t, sockets: sockets, rooms: roomIds, rate: rate, window: window, seconds: seconds, padding: padding, tally: tally, acked: acked,
            serverPIDs: serverPIDs)
        for s in sockets { s.close() }
        var figures = measured.figures(seconds: seconds, tally: tally)
        if let cpu = measured.serverCPU, measured.acks > 0 { figures["server CPU us per stored message"] = cpu * 1e6 / Double(measured.acks) }
        return BenchResult(
            scenario: "throughput",
            parameters: ["senders": "\(senders)", "rooms": "\(rooms)", "rate per sender": rate == 0 ? "max (window \(window))" : "\(rate)/s",
                         "seconds": "\(seconds)", "text bytes": "\(padding + 22)", "nodes": "\(nodes.count + 1)"],
            figures: figures)
    }

    /// What `drive` counted in its measured window, and the servers' CPU over it.
    struct Measured: Sendable {
        var acks = 0
        var deliveries = 0
        var errors = 0
        /// User and system CPU seconds of the `serverPIDs` given to `drive`, summed.
        var serverCPU: Double?

        func figures(seconds: Double, tally: Tally) -> [String: Double] {
            var figures = [
                "messages stored per s": Double(acks) / seconds, "deliveries per s": Double(deliveries) / seconds,
                "latency p50 ms": tally.latencyMs(50), "latency p99 ms": tally.latencyMs(99), "latency p99.9 ms": tally.latencyMs(99.9),
                "errors": Double(errors),
            ]
            if let serverCPU { figures["server CPU cores"] = serverCPU / seconds }
            return figures
        }
    }

    /// Sends from every socket for `seconds` after a one-second warm-up, and returns
    /// the acks, deliveries and errors counted in the measured window, with the CPU
    /// the `serverPIDs` used over it (`ProcessCPU`).
    static func drive(
        _ t: BenchTarget, sockets: [BenchSocket], rooms: [String], rate: Double, window: Int, seconds: Double, padding: Int, tally: Tally,
        acked: AckRouter, serverPIDs: [Int32] = []
    ) async throws -> Measured {
        let stop = Flag()
        let counter = Counter()
        await withTaskGroup(of: Void.self) { group in
            for (i, socket) in sockets.enumerated() {
                let room = rooms[i % rooms.count]
                group.addTask {
                    func sendOne() {
                        let n = counter.add(1)
                        socket.send(t.message(room: room, clientId: "\(t.runID)-\(n)", padding: padding))
                    }
                    if rate == 0 {
                        let (stream, continuation) = AsyncStream<Void>.makeStream()
                        acked.register(i, continuation)
                        for _ in 0..<window { sendOne() }
                        for await _ in stream {
                            if stop.isSet { break }
                            sendOne()
                        }
                    } else {
                        // Senders are spread evenly over the interval, as independent users
                        // are: started together, every sender would send at the same instant.
                        let interval = Duration.nanoseconds(Int64(1e9 / rate))
                        var next = ContinuousClock.now + interval * (Double(i) / Double(sockets.count))
                        try? await Task.sleep(until: next)
                        while !stop.isSet {
                            sendOne()
                            next += interval
                            try? await Task.sleep(until: next)
                        }
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(1))
                tally.reset()
                let cpuBefore = ProcessCPU.seconds(serverPIDs)
                progress("measuring")
                try? await Task.sleep(for: .seconds(seconds))
                let counts = tally.counts
                let cpuAfter = ProcessCPU.seconds(serverPIDs)
                stop.set()
                acked.finishAll()
                measuredCounts.withLock {
                    $0 = Measured(acks: counts.0, deliveries: counts.1, errors: counts.2, serverCPU: cpuBefore.flatMap { b in cpuAfter.map { $0 - b } })
                }
            }
        }
        return measuredCounts.withLock { $0 }
    }

    /// Opens one socket per user that counts deliveries (with latency) and acks, and
    /// wakes the user's sender loop on each ack.
    static func openCounting(
        _ t: BenchTarget, users: [(token: String, id: String)], tally: Tally, acked: AckRouter, urls: [String]? = nil
    ) async throws -> [BenchSocket] {
        var sockets: [BenchSocket] = []
        let urls = urls ?? [t.wsURL]
        for (i, u) in users.enumerated() {
            sockets.append(try await BenchSocket.open(url: urls[i % urls.count], token: u.token) { kind, frame in
                switch kind {
                case .messageNew: tally.delivery(frame)
                case .ack:
                    if frame.contains(#""ok":true"#) { tally.ack() } else { tally.error() }
                    acked.signal(i)
                default: break
                }
            })
            if i % 200 == 199 { progress("\(i + 1) connected") }
        }
        return sockets
    }

    /// One room of `members` members; one sender keeps `window` messages in flight.
    static func fanout(_ t: BenchTarget, members: Int, window: Int, seconds: Double, padding: Int, serverPIDs: [Int32] = []) async throws -> BenchResult {
        progress("fanout: \(members) members")
        let users = try await t.users("f", members)
        let room = try await t.rest.createRoom(users[0].token, name: "fanout \(t.runID)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for u in users.dropFirst() { group.addTask { try await t.rest.join(u.token, room: room) } }
            try await group.waitForAll()
        }
        let tally = Tally()
        let acked = AckRouter()
        let sockets = try await openCounting(t, users: users, tally: tally, acked: acked)
        let measured = try await drive(
            t, sockets: [sockets[0]], rooms: [room], rate: 0, window: window, seconds: seconds, padding: padding, tally: tally, acked: acked,
            serverPIDs: serverPIDs)
        for s in sockets { s.close() }
        var figures = measured.figures(seconds: seconds, tally: tally)
        if let cpu = measured.serverCPU, measured.deliveries > 0 { figures["server CPU us per delivery"] = cpu * 1e6 / Double(measured.deliveries) }
        return BenchResult(
            scenario: "fanout",
            parameters: ["members": "\(members)", "sender window": "\(window)", "seconds": "\(seconds)"],
            figures: figures)
    }

    /// A user returns to `queued` messages: time from connecting to `sync:done`. With
    /// `database`, the ceiling in the same run: the same documents read from here
    /// through one libmongoc cursor (`DatabaseRead`). With `serverPID`, the server's
    /// CPU per flushed message (`ProcessCPU`).
    static func offline(
        _ t: BenchTarget, queued: Int, padding: Int, database: (uri: String, name: String)? = nil, serverPID: Int32? = nil
    ) async throws -> BenchResult {
        progress("offline: queueing \(queued) messages")
        let users = try await t.users("o", 2)
        let room = try await t.rest.createRoom(users[0].token, name: "offline \(t.runID)")
        try await t.rest.join(users[1].token, room: room)
        let acks = Counter()
        let (ackStream, ackContinuation) = AsyncStream<Void>.makeStream()
        let sender = try await BenchSocket.open(url: t.wsURL, token: users[0].token) { kind, _ in
            if kind == .ack {
                _ = acks.add(1)
                ackContinuation.yield()
            }
        }
        var sent = 0
        let window = 256
        for _ in 0..<min(window, queued) {
            sender.send(t.message(room: room, clientId: "\(t.runID)-o\(sent)", padding: padding))
            sent += 1
        }
        var received = 0
        for await _ in ackStream {
            received += 1
            if sent < queued {
                sender.send(t.message(room: room, clientId: "\(t.runID)-o\(sent)", padding: padding))
                sent += 1
            }
            if received == queued { break }
        }
        sender.close()
        progress("offline: \(queued) stored; connecting the returning user")
        let flushed = Counter()
        let cpuBefore = serverPID.flatMap(ProcessCPU.seconds)
        let start = ContinuousClock.now
        let receiver = try await BenchSocket.open(url: t.wsURL, token: users[1].token) { kind, _ in
            if kind == .messageNew { _ = flushed.add(1) }
        }
        let elapsed = ContinuousClock.now - start
        let cpuAfter = serverPID.flatMap(ProcessCPU.seconds)
        receiver.close()
        let seconds = SearchScenario.seconds(elapsed)
        var figures = [
            "seconds to sync:done": seconds, "messages flushed": Double(flushed.value), "messages per s": Double(flushed.value) / seconds,
        ]
        if let cpuBefore, let cpuAfter, flushed.value > 0 {
            figures["server CPU us per flushed message"] = (cpuAfter - cpuBefore) * 1e6 / Double(flushed.value)
        }
        if let database {
            progress("offline: the ceiling, the same \(queued) documents through one cursor")
            let read = try await DatabaseRead.room(room, uri: database.uri, database: database.name)
            figures["db read seconds"] = read.seconds
            figures["db read documents"] = Double(read.documents)
            figures["flush / db read"] = seconds / read.seconds
        }
        return BenchResult(scenario: "offline", parameters: ["queued messages": "\(queued)"], figures: figures)
    }

    /// Idle authenticated sockets, opened `ratePerSecond` at a time.
    struct IdleSockets {
        var sockets: [BenchSocket] = []
        var failures = 0
        var openSeconds = 0.0
    }

    /// Opens `count` idle authenticated connections of `users` users.
    static func openIdle(_ t: BenchTarget, count: Int, users userCount: Int, ratePerSecond: Int, socketIO: Bool = false) async throws -> IdleSockets {
        let url = socketIO ? BenchSocket.socketIOURL(t.wsURL) : t.wsURL
        let users = try await t.users("c", userCount)
        var idle = IdleSockets()
        idle.sockets.reserveCapacity(count)
        let start = ContinuousClock.now
        var opened = 0
        while opened < count {
            let batch = max(1, min(ratePerSecond / 10, count - opened))
            let made = await withTaskGroup(of: BenchSocket?.self) { group in
                for i in 0..<batch {
                    let u = users[(opened + i) % users.count]
                    group.addTask { try? await BenchSocket.open(url: url, token: u.token, socketIO: socketIO) { _, _ in } }
                }
                var out: [BenchSocket?] = []
                for await s in group { out.append(s) }
                return out
            }
            idle.sockets += made.compactMap { $0 }
            idle.failures += made.filter { $0 == nil }.count
            opened += batch
            if opened % 1000 < batch { progress("connections: \(opened) opened, \(idle.failures) failed") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let elapsed = ContinuousClock.now - start
        idle.openSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return idle
    }

    /// Holds `count` idle authenticated connections of `users` users, from this
    /// process, on one server; reports the server's resident memory per connection.
    static func connections(
        _ t: BenchTarget, count: Int, users userCount: Int, ratePerSecond: Int, serverPID: Int32?, hold: Double, socketIO: Bool = false
    ) async throws -> BenchResult {
        progress("connections: \(count) over \(userCount) users\(socketIO ? ", Socket.IO" : "")")
        let before = serverPID.flatMap(residentBytes)
        // Half first, then the rest: the second half's memory is the marginal cost of a
        // connection, free of what the first ones warmed up (pools, the allocator's
        // arenas) and of memory an earlier run freed for them to reuse.
        let first = try await openIdle(t, count: count / 2, users: userCount, ratePerSecond: ratePerSecond, socketIO: socketIO)
        try await Task.sleep(for: .seconds(hold))
        let middle = serverPID.flatMap(residentBytes)
        let second = try await openIdle(t, count: count - count / 2, users: userCount, ratePerSecond: ratePerSecond, socketIO: socketIO)
        try await Task.sleep(for: .seconds(hold))
        let after = serverPID.flatMap(residentBytes)
        for s in first.sockets + second.sockets { s.close() }
        var result = connectionsResult(
            held: first.sockets.count + second.sockets.count, failures: first.failures + second.failures,
            openSeconds: first.openSeconds + second.openSeconds, before: before, after: after,
            parameters: [
                "connections": "\(count)", "users": "\(userCount)", "open rate per s": "\(ratePerSecond)",
                "transport": socketIO ? "Socket.IO WebSocket" : "native /ws",
            ])
        if let middle, let after, !second.sockets.isEmpty {
            result.figures["server KiB per connection, second half"] = Double(after - middle) / 1024 / Double(second.sockets.count)
        }
        return result
    }

    /// What a child process of `connectionsAcrossProcesses` reports once its share is open.
    struct ChildReport: Codable {
        let held: Int
        let failures: Int
        let openSeconds: Double
    }

    /// `connections` split over `processes` child processes of this tool (a process
    /// may hold only so many descriptors) and over the server nodes `urls` (child i
    /// uses `urls[i % urls.count]`). Each child opens its share, reports, and holds it
    /// until its standard input closes; the servers' memory (`serverPIDs`, summed) is
    /// read once every child holds its share.
    static func connectionsAcrossProcesses(
        urls: [String], processes: Int, count: Int, users userCount: Int, ratePerSecond: Int, serverPIDs: [Int32], hold: Double,
        socketIO: Bool = false
    ) async throws -> BenchResult {
        progress("connections: \(count) over \(processes) processes and \(urls.count) server node(s)")
        let before = serverPIDs.map { residentBytes(pid: $0) }
        var children: [(process: Process, input: Pipe, output: Pipe)] = []
        for i in 0..<processes {
            let share = count / processes + (i < count % processes ? 1 : 0)
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            child.arguments = [
                "connections", "--url", urls[i % urls.count], "--count", "\(share)", "--users", "\(max(1, userCount / processes))",
                "--rate", "\(max(10, ratePerSecond / processes))", "--child",
            ] + (socketIO ? ["--socket-io"] : [])
            let input = Pipe()
            let output = Pipe()
            child.standardInput = input
            child.standardOutput = output
            try child.run()
            children.append((child, input, output))
        }
        // Each child prints one JSON line once its share is open.
        var reports: [ChildReport] = []
        for child in children {
            let handle = child.output.fileHandleForReading
            let line = await Task.detached { () -> Data in
                var data = Data()
                while !data.contains(UInt8(ascii: "\n")) {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    data.append(chunk)
                }
                return data
            }.value
            guard let report = try? JSONDecoder().decode(ChildReport.self, from: line) else {
                for c in children { c.process.terminate() }
                throw RestClient.Failure(description: "a connections child process failed: \(String(decoding: line, as: UTF8.self))")
            }
            reports.append(report)
        }
        progress("connections: \(reports.map(\.held).reduce(0, +)) held by \(processes) processes; holding \(hold) s")
        try await Task.sleep(for: .seconds(hold))
        let after = serverPIDs.map { residentBytes(pid: $0) }
        for child in children { try? child.input.fileHandleForWriting.close() }
        for child in children { child.process.waitUntilExit() }
        let sum = { (values: [Int?]) -> Int? in values.contains(where: { $0 == nil }) || values.isEmpty ? nil : values.map { $0! }.reduce(0, +) }
        return connectionsResult(
            held: reports.map(\.held).reduce(0, +), failures: reports.map(\.failures).reduce(0, +),
            openSeconds: reports.map(\.openSeconds).max() ?? 0, before: sum(before), after: sum(after),
            parameters: [
                "connections": "\(count)", "users": "\(userCount)", "open rate per s": "\(ratePerSecond)",
                "client processes": "\(processes)", "server nodes": "\(urls.count)",
                "transport": socketIO ? "Socket.IO WebSocket" : "native /ws",
            ])
    }

    /// The child side of `connectionsAcrossProcesses`: open, report, hold until
    /// standard input closes.
    static func connectionsChild(_ t: BenchTarget, count: Int, users: Int, ratePerSecond: Int, socketIO: Bool = false) async throws {
        let idle = try await openIdle(t, count: count, users: users, ratePerSecond: ratePerSecond, socketIO: socketIO)
        let report = try JSONEncoder().encode(ChildReport(held: idle.sockets.count, failures: idle.failures, openSeconds: idle.openSeconds))
        FileHandle.standardOutput.write(report + Data("\n".utf8))
        _ = await Task.detached { FileHandle.standardInput.readDataToEndOfFile() }.value
        for s in idle.sockets { s.close() }
    }

    private static func connectionsResult(
        held: Int, failures: Int, openSeconds: Double, before: Int?, after: Int?, parameters: [String: String]
    ) -> BenchResult {
        var figures: [String: Double] = ["connections held": Double(held), "failures": Double(failures), "seconds to open": openSeconds]
        var notes: [String] = []
        if let before, let after {
            figures["server RSS before MiB"] = Double(before) / 1_048_576
            figures["server RSS after MiB"] = Double(after) / 1_048_576
            figures["server KiB per connection"] = Double(after - before) / 1024 / Double(max(1, held))
        } else {
            notes.append("pass --server-pid to measure the server's memory")
        }
        return BenchResult(scenario: "connections", parameters: parameters, figures: figures, notes: notes)
    }

    /// The validator migrations give `messages`, if any: the ceiling is measured on a
    /// collection like the real one.
    static func messagesValidator(migrations directory: String) throws -> BSONDocument? {
        guard !directory.isEmpty else { return nil }
        for migration in try Migration.load(directory: directory) {
            for step in migration.steps where step["create"]?.stringValue == "messages" {
                if let validator = step["validator"]?.documentValue { return validator }
            }
        }
        return nil
    }

    /// The database's own bulk-insert rate for message-shaped documents, with the
    /// same unique indexes (and, when given, validator) as `messages`: the ceiling
    /// every figure is read against.
    static func dbCeiling(uri: String, documents: Int, batch: Int, concurrency: Int, padding: Int, validator: BSONDocument?) async throws -> BenchResult {
        progress("db-ceiling: \(documents) documents, batches of \(batch), \(concurrency) at once, \(validator == nil ? "no" : "with the") validator")
        let client = try MongoClient(configuration: MongoConfiguration(uri: uri, threadCount: max(2, concurrency), extraClients: 2))
        let db = client.database("bench_ceiling_\(UUID().uuidString.prefix(8))")
        if let validator { try await db.runCommand(["create": "messages", "validator": .document(validator)]) }
        let messages = db.collection("messages")
        try await messages.createIndexes([
            IndexModel(keys: ["roomId": 1, "seq": 1], options: ["unique": true]),
            IndexModel(keys: ["senderId": 1, "clientId": 1], options: ["unique": true]),
        ])
        let room = ObjectId(), sender = ObjectId()
        // The server's own document type, so the probe's documents encode as the server's do.
        let typed = db.collection("messages", withType: MessageRecord.self)
        let next = Counter()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let first = next.add(batch)
                        guard first < documents else { return }
                        let docs = (first..<min(documents, first + batch)).map {
                            MessageRecord(
                                roomId: room, seq: $0 + 1, senderId: sender, senderName: "bench", text: Stamp.text(padding: padding), clientId: "c\($0)")
                        }
                        try await typed.insertMany(docs)
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        try? await db.drop()
        try await client.shutdown()
        return BenchResult(
            scenario: "db-ceiling",
            parameters: ["documents": "\(documents)", "batch": "\(batch)", "concurrency": "\(concurrency)", "validator": validator == nil ? "no" : "as messages"],
            figures: ["documents inserted per s": Double(documents) / seconds])
    }
}

/// A shared counter; `add` returns the value before adding.
final class Counter: Sendable {
    private let atomic = Atomic<Int>(0)
    func add(_ n: Int) -> Int { atomic.wrappingAdd(n, ordering: .relaxed).oldValue }
    var value: Int { atomic.load(ordering: .relaxed) }
}

/// A flag set once, read by many tasks.
final class Flag: Sendable {
    private let atomic = Atomic<Bool>(false)
    func set() { atomic.store(true, ordering: .relaxed) }
    var isSet: Bool { atomic.load(ordering: .relaxed) }
}

/// Wakes a sender's loop when one of its sends is acked.
final class AckRouter: Sendable {
    private let waiting = Mutex<[Int: AsyncStream<Void>.Continuation]>([:])
    func register(_ i: Int, _ c: AsyncStream<Void>.Continuation) { waiting.withLock { $0[i] = c } }
    func signal(_ i: Int) { _ = waiting.withLock { $0[i]?.yield() } }
    func finishAll() { waiting.withLock { all in for c in all.values { c.finish() } } }
}

/// The counts `drive` measured, handed back from its timer task.
private let measuredCounts = Mutex<Scenarios.Measured>(Scenarios.Measured())
