import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The servers' `parley_send_stage_seconds` histograms (queue wait, insert, fan-out,
/// socket write), read from `/metrics` before and after a measured window, so a
/// latency figure comes with where its time went. Summed over the nodes given; a
/// server without the metric (the Node.js peer) gives none.
struct SendStageHistogram: Sendable {
    /// Per stage, per bucket's upper bound in seconds, the cumulative count.
    private(set) var buckets: [String: [Double: Double]] = [:]

    /// The stages in the order a message passes them.
    static let stages = ["queue_wait", "insert", "fanout", "write"]

    /// Read from each `http://host:port` base and summed; nil when none answers.
    static func read(_ bases: [String]) async -> SendStageHistogram? {
        var sum = SendStageHistogram()
        var answered = false
        for base in bases {
            guard let url = URL(string: base + "/metrics"), let (data, response) = try? await URLSession.shared.data(from: url),
                (response as? HTTPURLResponse)?.statusCode == 200
            else { continue }
            answered = true
            sum.add(parse(String(decoding: data, as: UTF8.self)))
        }
        return answered ? sum : nil
    }

    /// The `_bucket` lines of the exposition text.
    static func parse(_ text: String) -> SendStageHistogram {
        var h = SendStageHistogram()
        for line in text.split(separator: "\n") where line.hasPrefix("parley_send_stage_seconds_bucket{") {
            guard let stage = label("stage", in: line), let le = label("le", in: line), let count = line.split(separator: " ").last.flatMap({ Double($0) })
            else { continue }
            let bound = le == "+Inf" ? Double.infinity : Double(le) ?? .infinity
            h.buckets[stage, default: [:]][bound, default: 0] += count
        }
        return h
    }

    private static func label(_ name: String, in line: Substring) -> String? {
        guard let start = line.range(of: name + "=\"") else { return nil }
        let rest = line[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    private mutating func add(_ other: SendStageHistogram) {
        for (stage, counts) in other.buckets {
            for (bound, n) in counts { buckets[stage, default: [:]][bound, default: 0] += n }
        }
    }

    /// What was recorded after `earlier`.
    func since(_ earlier: SendStageHistogram) -> SendStageHistogram {
        var d = self
        for (stage, counts) in earlier.buckets {
            for (bound, n) in counts { d.buckets[stage]?[bound]? -= n }
        }
        return d
    }

    /// The upper bound, in ms, of the bucket holding the `percentile`-th observation of
    /// `stage` (so an upper estimate); the last finite bound when it is beyond it.
    func ms(_ stage: String, _ percentile: Double) -> Double? {
        guard let counts = buckets[stage], let total = counts[.infinity], total > 0 else { return nil }
        let bounds = counts.keys.sorted()
        let wanted = total * percentile / 100
        let hit = bounds.first { (counts[$0] ?? 0) >= wanted } ?? .infinity
        return (hit.isFinite ? hit : bounds.last { $0.isFinite } ?? 0) * 1_000
    }

    /// Observations of `stage` (batches, or sampled socket writes).
    func count(_ stage: String) -> Double { buckets[stage]?[.infinity] ?? 0 }

    /// "stage insert p99 ms" and the like, and each stage's count.
    var figures: [String: Double] {
        var f: [String: Double] = [:]
        for stage in Self.stages where count(stage) > 0 {
            let name = stage.replacingOccurrences(of: "_", with: " ")
            f["stage \(name) p50 ms"] = ms(stage, 50)
            f["stage \(name) p99 ms"] = ms(stage, 99)
            f["stage \(name) count"] = count(stage)
        }
        return f
    }
}
