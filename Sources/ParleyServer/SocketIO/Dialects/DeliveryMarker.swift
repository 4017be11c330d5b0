import Foundation
import Logging
import Mongo
import ParleyCore
import Synchronization

/// Marks messages delivered for a dialect's client, which never says
/// `message:delivered` itself: what the socket was sent (flush and live), per room
/// the highest seq, written at most every half second, so sent, delivered and read
/// state and the offline queue work for it as for Parley's own clients.
final class DeliveryMarker: Sendable {
    private let user: UserRecord
    private let services: ParleyServices
    private var logger: Logger { services.logger }
    private let pending = Mutex<(seqs: [ObjectId: Int], scheduled: Bool)>(([:], false))

    static let interval: Duration = .milliseconds(500)

    init(user: UserRecord, services: ParleyServices) {
        self.user = user
        self.services = services
    }

    /// The socket was sent `seq` of `room`.
    func note(_ room: ObjectId, seq: Int) {
        let schedule = pending.withLock { p -> Bool in
            p.seqs[room] = max(p.seqs[room] ?? 0, seq)
            defer { p.scheduled = true }
            return !p.scheduled
        }
        guard schedule else { return }
        Task {
            try? await Task.sleep(for: Self.interval)
            await flush()
        }
    }

    private func flush() async {
        let seqs = pending.withLock { p -> [ObjectId: Int] in
            defer { p = ([:], false) }
            return p.seqs
        }
        for (room, seq) in seqs {
            do {
                let m = try await services.history.moveCursor(roomId: room, user: user, seq: seq, read: false)
                services.notifier.cursorMoved(m)
            } catch {
                // Left; a member who left meanwhile, or a database away: the offline
                // queue sends it again (at least once).
                logger.debug("delivery of \(room.hex) up to \(seq) for \(user.username) not marked: \(error)")
            }
        }
    }
}
