import Foundation
import Mongo
import ParleyCore

/// Idle connections: how many one server (or several nodes) holds, how fast they
/// open, and the servers' memory per connection.
extension Scenarios {
    /// Idle authenticated sockets, opened `ratePerSecond` at a time.
    struct IdleSockets {
        var sockets: [BenchSocket] = []
        var failures = 0
        var openSeconds = 0.0
        /// The server's CPU over the opening alone (not the users' registration), when its pid is known.
        var serverCPUSeconds: Double?
    }

    /// Opens `count` idle authenticated connections of `users` users.
    static func openIdle(
        _ t: BenchTarget, count: Int, users userCount: Int, ratePerSecond: Int, socketIO: Bool = false, serverPID: Int32? = nil
    ) async throws -> IdleSockets {
        let users = try await t.users("c", userCount)
        let cpuBefore = serverPID.flatMap(ProcessCPU.seconds)
        var idle = try await openIdle(t, count: count, tokens: users.map(\.token), ratePerSecond: ratePerSecond, socketIO: socketIO)
        if let cpuBefore, let cpuAfter = serverPID.flatMap(ProcessCPU.seconds) { idle.serverCPUSeconds = cpuAfter - cpuBefore }
        return idle
    }

    /// Opens `count` connections of the users whose `tokens` are given, in turn;
    /// `onFrame` sees each one's frames after `sync:done`.
    static func openIdle(
        _ t: BenchTarget, count: Int, tokens: [String], ratePerSecond: Int, socketIO: Bool = false,
        onFrame: @escaping @Sendable (BenchSocket.FrameKind, BenchFrame) -> Void = { _, _ in }
    ) async throws -> IdleSockets {
        let url = socketIO ? BenchSocket.socketIOURL(t.wsURL) : t.wsURL
        var idle = IdleSockets()
        idle.sockets.reserveCapacity(count)
        let start = ContinuousClock.now
        var opened = 0
        var batches = 0
        while opened < count {
            // The rate is a cap: batch k starts no earlier than k tenths of a second in.
            // A batch that took longer than its tenth is followed at once: a fixed pause
            // after each would count the tool's own waiting as the server's time.
            let slot = start + .milliseconds(100 * batches)
            if slot > ContinuousClock.now { try await Task.sleep(until: slot, clock: .continuous) }
            batches += 1
            let batch = max(1, min(ratePerSecond / 10, count - opened))
            let made = await withTaskGroup(of: BenchSocket?.self) { group in
                for i in 0..<batch {
                    let token = tokens[(opened + i) % tokens.count]
                    group.addTask { try? await BenchSocket.open(url: url, token: token, socketIO: socketIO, onFrame: onFrame) }
                }
                var out: [BenchSocket?] = []
                for await s in group { out.append(s) }
                return out
            }
            idle.sockets += made.compactMap { $0 }
            idle.failures += made.filter { $0 == nil }.count
            opened += batch
            if opened % 1000 < batch { progress("connections: \(opened) opened, \(idle.failures) failed") }
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
        let first = try await openIdle(t, count: count / 2, users: userCount, ratePerSecond: ratePerSecond, socketIO: socketIO, serverPID: serverPID)
        try await Task.sleep(for: .seconds(hold))
        let middle = serverPID.flatMap(residentBytes)
        let second = try await openIdle(t, count: count - count / 2, users: userCount, ratePerSecond: ratePerSecond, socketIO: socketIO, serverPID: serverPID)
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
        let opened = first.sockets.count + second.sockets.count
        if let a = first.serverCPUSeconds, let b = second.serverCPUSeconds, opened > 0 {
            result.figures["server CPU us per connection opened"] = (a + b) * 1e6 / Double(opened)
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
        let children = try BenchChildren((0..<processes).map { i in
            let share = count / processes + (i < count % processes ? 1 : 0)
            return [
                "connections", "--url", urls[i % urls.count], "--count", "\(share)", "--users", "\(max(1, userCount / processes))",
                "--rate", "\(max(10, ratePerSecond / processes))", "--child",
            ] + (socketIO ? ["--socket-io"] : [])
        })
        // Each child reports once its share is open.
        let reports = try await children.reports(ChildReport.self)
        progress("connections: \(reports.map(\.held).reduce(0, +)) held by \(processes) processes; holding \(hold) s")
        try await Task.sleep(for: .seconds(hold))
        let after = serverPIDs.map { residentBytes(pid: $0) }
        children.finish()
        return connectionsResult(
            held: reports.map(\.held).reduce(0, +), failures: reports.map(\.failures).reduce(0, +),
            openSeconds: reports.map(\.openSeconds).max() ?? 0, before: summed(before), after: summed(after),
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
        try BenchChildren.report(ChildReport(held: idle.sockets.count, failures: idle.failures, openSeconds: idle.openSeconds))
        await BenchChildren.waitForParent()
        for s in idle.sockets { s.close() }
    }

    /// The sum of several processes' readings; nil when one is missing.
    static func summed(_ values: [Int?]) -> Int? {
        values.contains(where: { $0 == nil }) || values.isEmpty ? nil : values.map { $0! }.reduce(0, +)
    }

    static func connectionsResult(
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
}
