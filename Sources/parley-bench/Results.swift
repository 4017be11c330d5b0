import Foundation
import Histogram
import Synchronization

/// One scenario's outcome: its parameters and its figures, printed as a table and
/// appended to a JSON file when asked.
struct BenchResult: Codable {
    var scenario: String
    var parameters: [String: String]
    var figures: [String: Double]
    var notes: [String] = []

    func print() {
        Swift.print("\n== \(scenario) ==")
        for (k, v) in parameters.sorted(by: { $0.key < $1.key }) { Swift.print("  \(k.padding(toLength: 28, withPad: " ", startingAt: 0)) \(v)") }
        Swift.print("  " + String(repeating: "-", count: 44))
        for (k, v) in figures.sorted(by: { $0.key < $1.key }) {
            let value = v >= 100 ? String(format: "%.0f", v) : String(format: "%.2f", v)
            Swift.print("  \(k.padding(toLength: 28, withPad: " ", startingAt: 0)) \(value)")
        }
        for n in notes { Swift.print("  note: \(n)") }
    }

    /// Appends to a JSON array file (created when missing).
    func append(to path: String) throws {
        var all: [BenchResult] = []
        if let data = FileManager.default.contents(atPath: path) { all = (try? JSONDecoder().decode([BenchResult].self, from: data)) ?? [] }
        all.append(self)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(all).write(to: URL(fileURLWithPath: path))
    }
}

/// Counters and a latency histogram shared by the bench's sockets.
final class Tally: Sendable {
    private struct State {
        var acks = 0
        /// The acks' rate through their bursts (`RateFit`), since the last reset.
        var ackRate = RateFit(origin: Stamp.now())
        var deliveries = 0
        var errors = 0
        var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    }

    private let state = Mutex(State())

    func ack() {
        let now = Stamp.now()
        state.withLock { s in
            s.acks += 1
            s.ackRate.add(at: now)
        }
    }
    func error() { state.withLock { $0.errors += 1 } }

    /// A delivery, with its send-to-receive latency when the frame carries a stamp.
    func delivery(_ frame: BenchFrame) {
        let now = Stamp.now()
        let sent = Stamp.read(frame)
        state.withLock { s in
            s.deliveries += 1
            if let sent, now > sent { _ = s.latency.record((now - sent) / 1000) }
        }
    }

    /// A latency measured by the caller (typing probes).
    func record(nanoseconds: UInt64) { state.withLock { _ = $0.latency.record(nanoseconds / 1000) } }

    var counts: (acks: Int, deliveries: Int, errors: Int) { state.withLock { ($0.acks, $0.deliveries, $0.errors) } }

    /// Acks per second since the last reset, fitted through their bursts (`RateFit`).
    var ackRate: Double? { state.withLock { $0.ackRate.perSecond } }

    /// Latency percentiles in milliseconds.
    func latencyMs(_ p: Double) -> Double { state.withLock { Double($0.latency.valueAtPercentile(p)) / 1000 } }

    func reset() {
        state.withLock { s in
            s.acks = 0
            s.ackRate = RateFit(origin: Stamp.now())
            s.deliveries = 0
            s.errors = 0
            s.latency.reset()
        }
    }
}

/// A line of progress on stderr, so stdout stays the results.
func progress(_ text: String) { FileHandle.standardError.write(Data("[bench] \(text)\n".utf8)) }
