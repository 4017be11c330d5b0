import Synchronization

/// One stored message's wire bytes, made by whichever needs them first (fan-out's push
/// or the sender's ack, which carry the same `{"message":...}`) and reused by the
/// other, so each stored message is encoded once. The core never encodes: it only
/// carries the slot from the writer to both.
public final class WireBytes: Sendable {
    private let bytes = Mutex<[UInt8]?>(nil)

    public init() {}

    /// The bytes, made by `make` on the first call only. A `make` that throws leaves
    /// the slot empty for the next caller.
    public func get(orMake make: () throws -> [UInt8]) throws -> [UInt8] {
        try bytes.withLock { cached in
            if let cached { return cached }
            let made = try make()
            cached = made
            return made
        }
    }
}
