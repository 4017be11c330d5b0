import Testing

@testable import parley_bench

/// `RateFit`, the throughput figure's rate: acks that come back a whole window at a
/// time must not make the figure step with how many bursts fall in the interval.
@Suite("parley-bench: the fitted ack rate")
struct RateFitTests {
    static let second: UInt64 = 1_000_000_000

    @Test("events spread evenly: the fit is their count over the interval")
    func even() throws {
        var fit = RateFit(origin: 5 * Self.second)
        for k in 0..<2_000 { fit.add(at: 5 * Self.second + UInt64(k) * Self.second / 1_000) }
        let rate = try #require(fit.perSecond)
        #expect(abs(rate - 1_000) < 1)
    }

    @Test("bursts of 1,280 every 0.7 s: the fit is 1,829/s wherever the interval starts; counting gives 1,792 or 2,048")
    func bursts() throws {
        let period = 7 * Self.second / 10, seconds: UInt64 = 5
        var counted: Set<Int> = []
        for step in 0..<10 {
            let phase = UInt64(step) * period / 10
            var fit = RateFit(origin: 0)
            var count = 0
            var t = phase
            while t < seconds * Self.second {
                // A burst takes 4 ms to read.
                for k in 0..<1_280 { fit.add(at: t + UInt64(k) * 4_000_000 / 1_280) }
                count += 1_280
                t += period
            }
            counted.insert(count / Int(seconds))
            let rate = try #require(fit.perSecond)
            #expect(abs(rate - 1_280 / 0.7) / (1_280 / 0.7) < 0.02, "phase \(phase): \(rate)")
        }
        #expect(counted == [1_792, 2_048])
    }

    @Test("no rate from fewer than two events, or from events all at one instant")
    func tooFew() {
        var fit = RateFit(origin: 0)
        #expect(fit.perSecond == nil)
        fit.add(at: Self.second)
        #expect(fit.perSecond == nil)
        fit.add(at: Self.second)
        #expect(fit.perSecond == nil)
        fit.add(at: 2 * Self.second)
        #expect(fit.perSecond != nil)
    }
}
