import Synchronization

/// Bounds the realtime connections one client address holds at once (WebSocket
/// sockets on `/ws`, Engine.IO sessions on `/socket.io/`), so a flood from one
/// address cannot take the descriptors and memory everyone else needs. A slot is
/// taken before authentication, so unauthenticated sockets count too.
final class ConnectionLimiter: Sendable {
    private let perAddress: Int
    private let open = Mutex<[String: Int]>([:])

    init(perAddress: Int) { self.perAddress = perAddress }

    /// Takes a slot for `address`; false when it holds `perAddress` already.
    func acquire(_ address: String) -> Bool {
        open.withLock { o in
            let n = o[address, default: 0]
            guard n < perAddress else { return false }
            o[address] = n + 1
            return true
        }
    }

    /// Gives a slot back.
    func release(_ address: String) {
        open.withLock { o in
            let n = o[address, default: 0] - 1
            o[address] = n > 0 ? n : nil
        }
    }

    /// Slots held by `address` (for metrics and tests).
    func count(_ address: String) -> Int { open.withLock { $0[address, default: 0] } }
}
