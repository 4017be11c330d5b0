/// The rate of events that arrive in bursts: the slope of their running count over
/// time, fitted by least squares. At the maximum rate each sender waits for its acks
/// before sending again, so a whole window's acks come back together, a few per
/// second: counted over a fixed interval, the rate could only be a multiple of one
/// window's messages per interval (1,280 in 5 s is a step of 256/s, about 12 % of
/// a 2,100/s ceiling).
/// The slope through the bursts does not step. Evenly spread events give the same as
/// counting them.
struct RateFit: Sendable {
    private let origin: UInt64
    private var n = 0.0
    private var sumT = 0.0
    private var sumI = 0.0
    private var sumTT = 0.0
    private var sumTI = 0.0

    /// Times are `Stamp.now()` nanoseconds; `origin` is the start of the interval.
    init(origin: UInt64) { self.origin = origin }

    /// One event at `time`.
    mutating func add(at time: UInt64) {
        let t = Double(time >= origin ? time - origin : 0) / 1e9
        n += 1
        sumT += t
        sumI += n
        sumTT += t * t
        sumTI += t * n
    }

    /// Events per second; nil before two events at different times.
    var perSecond: Double? {
        let spread = n * sumTT - sumT * sumT
        guard n >= 2, spread > 1e-12 * n * n else { return nil }
        return (n * sumTI - sumT * sumI) / spread
    }
}
