/// Runs `transform` on every element, at most `limit` at once, and returns the results
/// in the elements' order: how reads that go one query per room (a search's windows,
/// the rooms' heads) keep a few queries in flight without flooding the database.
func parallelMap<T: Sendable, R: Sendable>(
    _ items: [T], limit: Int, _ transform: @escaping @Sendable (T) async throws -> R
) async throws -> [R] {
    try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var pending = items.enumerated().makeIterator()
        var out = [R?](repeating: nil, count: items.count)
        for _ in 0..<max(1, limit) {
            guard let (i, item) = pending.next() else { break }
            group.addTask { (i, try await transform(item)) }
        }
        for try await (i, result) in group {
            out[i] = result
            if let (j, item) = pending.next() { group.addTask { (j, try await transform(item)) } }
        }
        return out.map { $0! }
    }
}
