import Foundation
import Mongo
import Synchronization

/// The clientId of a send from a dialect, whose clients give none. A Socket.IO
/// client retries an emit that got no ack in time (`retries`, `ackTimeout`) with a
/// new packet id, so the packet gives nothing to match: the same user emitting the
/// same event with the same arguments, with an ack callback, while the first is
/// less than `window` old gets the first one's clientId, and the send is stored
/// once. Emits without a callback are never retried by the library: each is new.
final class EmitIdentity: Sendable {
    private struct Recent {
        let clientId: String
        let at: ContinuousClock.Instant
    }

    private let recent = Mutex<[String: Recent]>([:])
    let window: Duration
    private let clock = ContinuousClock()

    init(window: Duration = .seconds(10)) { self.window = window }

    func clientId(user: ObjectId, event: String, payload: [UInt8], acked: Bool) -> String {
        let fresh = "sio-" + UUID().uuidString.lowercased()
        guard acked else { return fresh }
        var h = Hasher()
        h.combine(event)
        h.combine(payload)
        let key = user.hex + String(h.finalize(), radix: 36)
        let now = clock.now
        return recent.withLock { r in
            if r.count > 10_000 { r = r.filter { now - $0.value.at < window } }
            if let seen = r[key], now - seen.at < window { return seen.clientId }
            r[key] = Recent(clientId: fresh, at: now)
            return fresh
        }
    }
}
