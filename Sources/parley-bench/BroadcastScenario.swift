import Foundation
import Synchronization

/// Many connections over several nodes, all in one event room, and one message to
/// all of them: the servers' memory summed over the nodes, and the time until the
/// last connection has the message.
extension Scenarios {
    /// What a `broadcast` child reports: once its share is open, then once its
    /// connections have the broadcast (or it gave up waiting).
    struct BroadcastReport: Codable {
        var held = 0
        var failures = 0
        var openSeconds = 0.0
        var received = 0
        var latencyP50Ms = 0.0
        var latencyMaxMs = 0.0
    }

    /// `count` connections of `users` users, all members of one event room, split
    /// over `processes` child processes and the server nodes `urls` (child i uses
    /// `urls[i % urls.count]`); then one message to the room, stamped with its send
    /// time, and each child's time until its last connection received it.
    ///
    /// Each connection's 4-tuple is unique as long as no node takes more than the
    /// ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`, 28,232 here)
    /// from one client address: nodes on different ports each get a range of their own.
    static func broadcast(
        urls: [String], processes: Int, count: Int, users userCount: Int, ratePerSecond: Int, serverPIDs: [Int32], hold: Double, padding: Int
    ) async throws -> BenchResult {
        let t = BenchTarget(url: urls[0])
        progress("broadcast: \(count) connections of \(userCount) users over \(processes) processes and \(urls.count) node(s)")
        let users = try await t.users("b", userCount)
        let created = try await t.rest.call("POST", "/api/rooms", token: users[0].token, body: ["name": "broadcast \(t.runID)", "kind": "event"])
        let room = (created["room"] as! [String: Any])["id"] as! String
        try await withThrowingTaskGroup(of: Void.self) { group in
            for u in users.dropFirst() { group.addTask { try await t.rest.join(u.token, room: room) } }
            try await group.waitForAll()
        }
        let tokens = FileManager.default.temporaryDirectory.appendingPathComponent("parley-bench-\(t.runID).tokens")
        try JSONEncoder().encode(users.map(\.token)).write(to: tokens)
        defer { try? FileManager.default.removeItem(at: tokens) }

        let before = serverPIDs.map { residentBytes(pid: $0) }
        let children = try BenchChildren((0..<processes).map { i in
            [
                "broadcast", "--child", "--url", urls[i % urls.count], "--count", "\(count / processes + (i < count % processes ? 1 : 0))",
                "--rate", "\(max(10, ratePerSecond / processes))", "--tokens-file", tokens.path,
            ]
        })
        let opened = try await children.reports(BroadcastReport.self)
        let held = opened.map(\.held).reduce(0, +)
        progress("broadcast: \(held) held; holding \(hold) s, then one message to all")
        try await Task.sleep(for: .seconds(hold))
        let after = serverPIDs.map { residentBytes(pid: $0) }
        let cpuBefore = ProcessCPU.seconds(serverPIDs)
        _ = try await t.rest.call(
            "POST", "/api/rooms/\(room)/messages", token: users[0].token, body: ["text": Stamp.text(padding: padding), "clientId": "all-\(t.runID)"])
        let delivered = try await children.reports(BroadcastReport.self)
        // Read once every child has its messages: an upper bound of the servers' work for it.
        let cpuAfter = ProcessCPU.seconds(serverPIDs)
        children.finish()

        var result = connectionsResult(
            held: held, failures: opened.map(\.failures).reduce(0, +), openSeconds: opened.map(\.openSeconds).max() ?? 0,
            before: summed(before), after: summed(after),
            parameters: [
                "connections": "\(count)", "users": "\(userCount)", "open rate per s": "\(ratePerSecond)", "client processes": "\(processes)",
                "server nodes": "\(urls.count)",
            ])
        result.scenario = "broadcast"
        let received = delivered.map(\.received).reduce(0, +)
        result.figures["connections that received it"] = Double(received)
        result.figures["ms to the last receiver"] = delivered.map(\.latencyMaxMs).max() ?? 0
        let p50s = delivered.map(\.latencyP50Ms).sorted()
        result.figures["ms to p50 receiver (median)"] = p50s.isEmpty ? 0 : p50s[p50s.count / 2]
        if let cpuBefore, let cpuAfter, received > 0 {
            result.figures["server CPU ms for it"] = (cpuAfter - cpuBefore) * 1e3
            result.figures["server CPU us per delivery"] = (cpuAfter - cpuBefore) * 1e6 / Double(received)
        }
        if received < held { result.notes.append("\(held - received) connections did not receive the broadcast within 60 s of the first") }
        return result
    }

    /// The child side of `broadcast`: open, report, wait for the message on every
    /// connection (at most 60 s after the first has it), report, hold until standard
    /// input closes.
    static func broadcastChild(_ t: BenchTarget, count: Int, tokensFile: String, ratePerSecond: Int) async throws {
        let tokens = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: tokensFile)))
        let latencies = Mutex<[UInt64]>([])
        let idle = try await openIdle(t, count: count, tokens: tokens, ratePerSecond: ratePerSecond) { kind, frame in
            guard kind == .messageNew, let sent = Stamp.read(frame) else { return }
            let now = Stamp.now()
            latencies.withLock { $0.append(now > sent ? now - sent : 0) }
        }
        var report = BroadcastReport(held: idle.sockets.count, failures: idle.failures, openSeconds: idle.openSeconds)
        try BenchChildren.report(report)
        var firstAt: ContinuousClock.Instant?
        let giveUp = ContinuousClock.now + .seconds(600)
        while ContinuousClock.now < giveUp {
            let n = latencies.withLock { $0.count }
            if n >= idle.sockets.count { break }
            if n > 0, firstAt == nil { firstAt = .now }
            if let firstAt, ContinuousClock.now - firstAt > .seconds(60) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let sorted = latencies.withLock { $0 }.sorted()
        report.received = sorted.count
        report.latencyP50Ms = sorted.isEmpty ? 0 : Double(sorted[sorted.count / 2]) / 1e6
        report.latencyMaxMs = Double(sorted.last ?? 0) / 1e6
        try BenchChildren.report(report)
        await BenchChildren.waitForParent()
        for s in idle.sockets { s.close() }
    }
}
