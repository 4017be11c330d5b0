import Foundation
import Mongo
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `parley-bench uploads`: MiB/s of `POST /api/uploads` and `GET /api/uploads/:id`
/// against the database's own GridFS rate, measured in the same run by this process
/// writing and reading the same files straight through libmongoc's bucket (the
/// ceiling: what GridFS on this database takes, with no HTTP and no server between).
enum UploadScenario {
    static func run(_ target: BenchTarget, uri: String, database: String, files: Int, mib: Int, concurrency: Int) async throws -> BenchResult {
        let size = mib * 1024 * 1024
        let payload = [UInt8]((0..<size).map { UInt8(0x20 + $0 % 95) })  // printable ASCII: text, allowed everywhere
        let total = Double(files * size) / 1024 / 1024

        // The ceiling: the same files through the bucket, from here.
        let client = try MongoClient(configuration: MongoConfiguration(uri: uri, threadCount: 4, extraClients: concurrency + 2, operationTimeoutMS: 120_000))
        // The server's own bucket, whose indexes migration 0006 made (the probe's files
        // are deleted after): a new bucket's first upload makes libmongoc build them,
        // which the embedded database did not finish (seen: no chunk after 10 minutes).
        let bucket = GridFSBucket(database: client.database(database))
        var ids: [ObjectId] = []
        let upStart = ContinuousClock.now
        try await forEach(0..<files, concurrency) { _ in
            let id = ObjectId()
            let up = try await bucket.openUpload(id: id, filename: "probe.txt")
            for start in stride(from: 0, to: size, by: 256 * 1024) { try await up.write(Array(payload[start..<min(start + 256 * 1024, size)])) }
            try await up.finish()
            return id
        }.forEach { ids.append($0) }
        let dbUp = total / SearchScenario.seconds(ContinuousClock.now - upStart)
        let downStart = ContinuousClock.now
        let chunks = (size + GridFSBucket.chunkSize - 1) / GridFSBucket.chunkSize
        _ = try await forEach(ids, concurrency) { id -> Int in
            var n = 0, read = 0
            while n < chunks {
                read += try await bucket.chunks(of: id, n...min(chunks - 1, n + 3)).reduce(0) { $0 + $1.count }
                n += 4
            }
            precondition(read == size, "the probe read \(read) of \(size) bytes")
            return read
        }
        let dbDown = total / SearchScenario.seconds(ContinuousClock.now - downStart)
        for id in ids { try await bucket.delete(id: id) }
        try await client.shutdown()

        // The server: the same files over HTTP.
        let user = try await target.rest.user("bench_uploads_\(UUID().uuidString.prefix(6))")
        let body = Data(payload)
        let base = target.rest.base
        let parleyStart = ContinuousClock.now
        let urls = try await forEach(0..<files, concurrency) { i -> String in
            var request = URLRequest(url: URL(string: "\(base)/api/uploads?name=bench\(i).txt")!)
            request.httpMethod = "POST"
            request.setValue("text/plain", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(user.token)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.upload(for: request, from: body)
            guard (response as? HTTPURLResponse)?.statusCode == 201,
                let upload = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["upload"] as? [String: Any], let url = upload["url"] as? String
            else { throw RestClient.Failure(description: "upload: \(String(decoding: data.prefix(300), as: UTF8.self))") }
            return url
        }
        let parleyUp = total / SearchScenario.seconds(ContinuousClock.now - parleyStart)
        let getStart = ContinuousClock.now
        _ = try await forEach(urls, concurrency) { url -> Int in
            var request = URLRequest(url: URL(string: base + url)!)
            request.setValue("Bearer \(user.token)", forHTTPHeaderField: "Authorization")
            let (data, _) = try await URLSession.shared.data(for: request)
            guard data.count == size else { throw RestClient.Failure(description: "download: \(data.count) of \(size) bytes") }
            return data.count
        }
        let parleyDown = total / SearchScenario.seconds(ContinuousClock.now - getStart)
        return BenchResult(
            scenario: "uploads",
            parameters: ["files": "\(files)", "size": "\(mib) MiB", "concurrency": "\(concurrency)"],
            figures: [
                "upload MiB/s": parleyUp, "download MiB/s": parleyDown, "db gridfs write MiB/s": dbUp, "db gridfs read MiB/s": dbDown,
                "upload / db": parleyUp / dbUp, "download / db": parleyDown / dbDown,
            ])
    }

    /// `body` over `items`, `concurrency` at a time; the results in order.
    static func forEach<S: Sequence, R: Sendable>(_ items: S, _ concurrency: Int, _ body: @escaping @Sendable (S.Element) async throws -> R) async throws -> [R]
    where S.Element: Sendable {
        let all = Array(items)
        return try await withThrowingTaskGroup(of: (Int, R).self) { group in
            var next = 0
            var out = [R?](repeating: nil, count: all.count)
            func add() {
                let i = next
                next += 1
                group.addTask { (i, try await body(all[i])) }
            }
            while next < min(concurrency, all.count) { add() }
            for try await (i, r) in group {
                out[i] = r
                if next < all.count { add() }
            }
            return out.map { $0! }
        }
    }
}
