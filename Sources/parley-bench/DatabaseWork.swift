import Foundation
import Mongo

/// What the database did over a measured interval: its own operation counters
/// (`serverStatus.opcounters`: inserts, queries, updates, getMores, other commands)
/// and, when it runs on this machine, its process's CPU from `/proc` (the pid
/// `serverStatus` names). Divided by the unit of work (a stored message, a probe's
/// document), it says what Parley asks of the database beside what the ceiling costs it.
struct DatabaseWork: Sendable {
    var operations: [String: Double] = [:]
    var cpuSeconds: Double?

    /// One reading; nil when the database does not answer `serverStatus`.
    static func read(_ client: MongoClient) async -> DatabaseWork? {
        guard let status = try? await client.database("admin").runCommand(["serverStatus": 1]) else { return nil }
        var work = DatabaseWork()
        for (name, value) in status["opcounters"]?.documentValue?.elements ?? [] {
            if let n = value.doubleValue { work.operations[name] = n }
        }
        if let pid = status["pid"]?.int64Value { work.cpuSeconds = ProcessCPU.seconds(Int32(pid)) }
        return work
    }

    func since(_ earlier: DatabaseWork) -> DatabaseWork {
        var d = DatabaseWork()
        for (name, n) in operations { d.operations[name] = n - (earlier.operations[name] ?? 0) }
        d.cpuSeconds = cpuSeconds.flatMap { now in earlier.cpuSeconds.map { now - $0 } }
        return d
    }

    /// "db CPU us per stored message", "db operations per stored message" and each
    /// counter per unit, for `units` units named `unit`. The readings' own
    /// `serverStatus` commands are counted, at most two against thousands of units.
    func figures(per units: Double, _ unit: String) -> [String: Double] {
        guard units > 0 else { return [:] }
        let n = units
        var f = ["db operations per \(unit)": operations.values.reduce(0, +) / n]
        for (name, count) in operations where count > 0 { f["db \(name) per \(unit)"] = count / n }
        if let cpuSeconds { f["db CPU us per \(unit)"] = cpuSeconds * 1e6 / n }
        return f
    }
}

/// A connection for `DatabaseWork` readings around a measured window.
struct DatabaseProbe: Sendable {
    let client: MongoClient

    init(uri: String) throws {
        client = try MongoClient(configuration: MongoConfiguration(uri: uri, threadCount: 1, extraClients: 1))
    }

    func read() async -> DatabaseWork? { await DatabaseWork.read(client) }

    func shutdown() async { try? await client.shutdown() }
}
