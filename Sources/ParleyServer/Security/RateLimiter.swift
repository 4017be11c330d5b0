import Foundation
import ParleyCore
import Synchronization

/// A token bucket per key: `rate` tokens a second, holding at most `burst`. Used for
/// per-user message rates and per-IP and per-username auth attempts. Idle buckets
/// are dropped, so memory stays bounded by the keys active recently.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private let rate: Double
    private let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])
    private let now: @Sendable () -> Double

    public init(ratePerSecond: Double, burst: Int, clock: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        rate = ratePerSecond
        self.burst = Double(max(1, burst))
        now = clock
    }

    /// Takes one token for `key`; throws `rate_limited` with the wait until the next one.
    public func consume(_ key: String) throws {
        let t = now()
        let wait: Double? = buckets.withLock { b in
            if b.count > 50_000 { b = b.filter { t - $0.value.updated < burst / rate } }
            var bucket = b[key] ?? Bucket(tokens: burst, updated: t)
            bucket.tokens = min(burst, bucket.tokens + (t - bucket.updated) * rate)
            bucket.updated = t
            defer { b[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return (1 - bucket.tokens) / rate
        }
        if let wait {
            throw ParleyError(.rateLimited, "too many requests; try again shortly", retryAfterMs: Int((wait * 1000).rounded(.up)))
        }
    }
}
