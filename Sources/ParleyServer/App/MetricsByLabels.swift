import Synchronization

/// The metrics of one family, one per set of label values, each made once.
///
/// swift-prometheus's registry builds and checks a metric's name and labels on every
/// `make…` call before it finds the one it already has; the series recorded for
/// every request and every database operation take theirs from here instead.
final class MetricsByLabels<Key: Hashable & Sendable, Metric: Sendable>: Sendable {
    private let made = Mutex<[Key: Metric]>([:])
    private let make: @Sendable (Key) -> Metric

    /// `make` registers the metric of a key the first time it is asked for.
    init(_ make: @escaping @Sendable (Key) -> Metric) { self.make = make }

    subscript(_ key: Key) -> Metric {
        made.withLock { made in
            if let m = made[key] { return m }
            let m = make(key)
            made[key] = m
            return m
        }
    }
}
