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

    /// `ws://host:port/ws` → `http://host:port`.
    static func httpBase(ofSocketURL url: String) -> String {
        url.replacingOccurrences(of: "ws://", with: "http://").replacingOccurrences(of: "wss://", with: "https://")
            .replacingOccurrences(of: "/ws", with: "")
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
        serverPIDs: [Int32] = [], database: DatabaseProbe? = nil
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
            serverPIDs: serverPIDs, stageSources: [t.rest.base] + nodes.map(BenchTarget.httpBase(ofSocketURL:)), database: database)
        for s in sockets { s.close() }
        var figures = measured.figures(seconds: seconds, tally: tally)
        let stored = measured.stored(seconds: seconds)
        if let cpu = measured.serverCPU, stored > 0 { figures["server CPU us per stored message"] = cpu * 1e6 / stored }
        if let work = measured.database { figures.merge(work.figures(per: stored, "stored message")) { a, _ in a } }
        return BenchResult(
            scenario: "throughput",
            parameters: ["senders": "\(senders)", "rooms": "\(rooms)", "rate per sender": rate == 0 ? "max (window \(window))" : "\(rate)/s",
                         "seconds": "\(seconds)", "text bytes": "\(padding + 22)", "nodes": "\(nodes.count + 1)"],
            figures: figures)
    }

    /// What `drive` counted in its measured window, and the servers' CPU over it.
    struct Measured: Sendable {
        var acks = 0
        /// The acks' rate fitted through their bursts (`RateFit`).
        var ackRate: Double?
        var deliveries = 0
        var errors = 0
        /// User and system CPU seconds of the `serverPIDs` given to `drive`, summed.
        var serverCPU: Double?
        /// This process's own CPU seconds: what the load generator took of the
        /// cores it shares with the server.
        var benchCPU: Double?
        /// Where the servers' time went over the window (`SendStageHistogram`).
        var stages: SendStageHistogram?
        /// What the database did over the window (`DatabaseWork`).
        var database: DatabaseWork?

        /// Messages stored over the window: the fitted rate's, which does not step
        /// with the bursts of acks; the acks counted when there is no fit.
        func stored(seconds: Double) -> Double { ackRate.map { $0 * seconds } ?? Double(acks) }

        func figures(seconds: Double, tally: Tally) -> [String: Double] {
            var figures = [
                "messages stored per s": stored(seconds: seconds) / seconds, "acks counted per s": Double(acks) / seconds,
                "deliveries per s": Double(deliveries) / seconds,
                "latency p50 ms": tally.latencyMs(50), "latency p99 ms": tally.latencyMs(99), "latency p99.9 ms": tally.latencyMs(99.9),
                "errors": Double(errors),
            ]
            if let serverCPU { figures["server CPU cores"] = serverCPU / seconds }
            if let benchCPU { figures["bench CPU cores"] = benchCPU / seconds }
            if let stages { figures.merge(stages.figures) { a, _ in a } }
            return figures
        }
    }

    /// Sends from every socket for `seconds` after a one-second warm-up, and returns
    /// the acks, deliveries and errors counted in the measured window, with the CPU
    /// the `serverPIDs` used over it (`ProcessCPU`) and the send stages the servers at
    /// `stageSources` (HTTP bases) recorded (`SendStageHistogram`).
    static func drive(
        _ t: BenchTarget, sockets: [BenchSocket], rooms: [String], rate: Double, window: Int, seconds: Double, padding: Int, tally: Tally,
        acked: AckRouter, serverPIDs: [Int32] = [], stageSources: [String]? = nil, database: DatabaseProbe? = nil
    ) async throws -> Measured {
        let stageSources = stageSources ?? [t.rest.base]
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
                let benchBefore = ProcessCPU.seconds(getpid())
                let stagesBefore = await SendStageHistogram.read(stageSources)
                let dbBefore = await database?.read()
                progress("measuring")
                try? await Task.sleep(for: .seconds(seconds))
                let counts = tally.counts
                let ackRate = tally.ackRate
                let cpuAfter = ProcessCPU.seconds(serverPIDs)
                let benchAfter = ProcessCPU.seconds(getpid())
                let dbAfter = await database?.read()
                let stagesAfter = await SendStageHistogram.read(stageSources)
                stop.set()
                acked.finishAll()
                measuredCounts.withLock {
                    $0 = Measured(
                        acks: counts.0, ackRate: ackRate, deliveries: counts.1, errors: counts.2, serverCPU: cpuBefore.flatMap { b in cpuAfter.map { $0 - b } },
                        benchCPU: benchBefore.flatMap { b in benchAfter.map { $0 - b } },
                        stages: stagesBefore.flatMap { b in stagesAfter.map { $0.since(b) } },
                        database: dbBefore.flatMap { b in dbAfter.map { $0.since(b) } })
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
        if let cpu = measured.benchCPU, measured.deliveries > 0 { figures["bench CPU us per delivery"] = cpu * 1e6 / Double(measured.deliveries) }
        return BenchResult(
            scenario: "fanout",
            parameters: ["members": "\(members)", "sender window": "\(window)", "seconds": "\(seconds)"],
            figures: figures)
    }

    /// A user returns to `queued` messages over `roomCount` rooms: time from connecting
    /// to `sync:done`. With `database`, the ceiling in the same run: the same documents
    /// read from here through one libmongoc cursor per room (`DatabaseRead`). With
    /// `serverPID`, the server's CPU per flushed message (`ProcessCPU`).
    static func offline(
        _ t: BenchTarget, queued: Int, rooms roomCount: Int = 1, padding: Int, database: (uri: String, name: String)? = nil, serverPID: Int32? = nil
    ) async throws -> BenchResult {
        progress("offline: queueing \(queued) messages over \(roomCount) room(s)")
        let users = try await t.users("o", 2)
        var rooms: [String] = []
        for r in 0..<roomCount {
            let room = try await t.rest.createRoom(users[0].token, name: "offline \(t.runID) \(r)")
            try await t.rest.join(users[1].token, room: room)
            rooms.append(room)
        }
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
            sender.send(t.message(room: rooms[sent % roomCount], clientId: "\(t.runID)-o\(sent)", padding: padding))
            sent += 1
        }
        var received = 0
        for await _ in ackStream {
            received += 1
            if sent < queued {
                sender.send(t.message(room: rooms[sent % roomCount], clientId: "\(t.runID)-o\(sent)", padding: padding))
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
            progress("offline: the ceiling, the same \(queued) documents through one cursor per room")
            let read = try await DatabaseRead.rooms(rooms, uri: database.uri, database: database.name)
            figures["db read seconds"] = read.seconds
            figures["db read documents"] = Double(read.documents)
            figures["flush / db read"] = seconds / read.seconds
        }
        var parameters = ["queued messages": "\(queued)"]
        if roomCount > 1 { parameters["rooms"] = "\(roomCount)" }
        return BenchResult(scenario: "offline", parameters: parameters, figures: figures)
    }

}

/// The counts `drive` measured, handed back from its timer task.
private let measuredCounts = Mutex<Scenarios.Measured>(Scenarios.Measured())
