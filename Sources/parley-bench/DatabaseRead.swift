import Foundation
import Mongo

/// The database's own pace for what the offline flush reads: each room's messages
/// by seq through one libmongoc cursor, from the bench process, as raw BSON (no
/// decoding into messages, no JSON, no socket): the ceiling the flush is held to.
enum DatabaseRead {
    /// Reads these rooms' messages, one room after the other; the time and documents
    /// of all of them.
    static func rooms(_ rooms: [String], uri: String, database: String) async throws -> (seconds: Double, documents: Int) {
        let client = try MongoClient(configuration: MongoConfiguration(uri: uri, threadCount: 1, extraClients: 1, operationTimeoutMS: 120_000))
        let messages = client.database(database).collection("messages", withType: BSONDocument.self)
        var total = (seconds: 0.0, documents: 0)
        for room in rooms {
            let read = try await self.room(room, messages: messages)
            total = (total.seconds + read.seconds, total.documents + read.documents)
        }
        return total
    }

    /// Reads room `room`'s messages; the room id is matched as an ObjectId (Parley's
    /// documents), else as a string (the Node.js peer's).
    private static func room(_ room: String, messages: MongoCollection<BSONDocument>) async throws -> (seconds: Double, documents: Int) {
        let ids: [BSONValue] = (ObjectId(room).map { [.objectId($0)] } ?? []) + [.string(room)]
        for id in ids {
            let start = ContinuousClock.now
            let cursor = try await messages.find(["roomId": id, "seq": ["$gt": .int64(0)]], options: FindOptions(sort: ["seq": 1], batchSize: 1_000))
            var documents = 0
            while true {
                let batch = try await cursor.nextBatch()
                if batch.isEmpty { break }
                documents += batch.count
            }
            if documents > 0 { return (SearchScenario.seconds(ContinuousClock.now - start), documents) }
        }
        return (0, 0)
    }
}

/// User and system CPU a process has used, in seconds, from `/proc/PID/stat`: the
/// server's own cost of a measured interval, steadier than wall time on a shared
/// machine.
enum ProcessCPU {
    static func seconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)": state is field 3, utime 14 and stime 15 (1-based).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The CPU of several processes (the nodes of one run), summed; nil when none
    /// are given or one cannot be read.
    static func seconds(_ pids: [Int32]) -> Double? {
        guard !pids.isEmpty else { return nil }
        let each = pids.map { seconds($0) }
        return each.contains { $0 == nil } ? nil : each.reduce(0) { $0 + $1! }
    }
}
