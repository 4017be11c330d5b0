import Foundation
import Mongo
import Synchronization

/// Moves delivery cursors (`message:delivered`, `message:read`, the REST read call)
/// with writes coalesced per membership: while one update of a user's cursor in a
/// room is in flight, later ones merge (keeping the highest seqs) into one next write.
public final class CursorService: Sendable {
    private struct Key: Hashable {
        let roomId: ObjectId
        let userId: ObjectId
    }

    private struct Slot {
        var delivered: Int?
        var read: Int?
        var updates: Int?
        var waiters: [CheckedContinuation<MembershipRecord?, any Error>] = []
        var writing = false
    }

    private let memberships: any MembershipRepository
    private let slots = Mutex<[Key: Slot]>([:])

    public init(memberships: any MembershipRepository) { self.memberships = memberships }

    /// Advances the cursors (never backwards; reading implies delivery) and returns the
    /// membership after the write that included this request; nil for a non-member.
    /// `updates`: the room's update sequence the user's device has seen (`updatesSeen`).
    public func advance(roomId: ObjectId, userId: ObjectId, delivered: Int?, read: Int?, updates: Int? = nil) async throws -> MembershipRecord? {
        let key = Key(roomId: roomId, userId: userId)
        return try await withCheckedThrowingContinuation { c in
            let start = slots.withLock { s -> Bool in
                var slot = s[key] ?? Slot()
                slot.delivered = [slot.delivered, delivered].compactMap { $0 }.max()
                slot.read = [slot.read, read].compactMap { $0 }.max()
                slot.updates = [slot.updates, updates].compactMap { $0 }.max()
                slot.waiters.append(c)
                defer { s[key] = slot }
                if slot.writing { return false }
                slot.writing = true
                return true
            }
            if start { Task { await self.drain(key) } }
        }
    }

    private func drain(_ key: Key) async {
        while true {
            let work = slots.withLock { s -> (Int?, Int?, Int?, [CheckedContinuation<MembershipRecord?, any Error>])? in
                guard var slot = s[key], !slot.waiters.isEmpty else {
                    s[key] = nil
                    return nil
                }
                let taken = (slot.delivered, slot.read, slot.updates, slot.waiters)
                slot.delivered = nil
                slot.read = nil
                slot.updates = nil
                slot.waiters = []
                s[key] = slot
                return taken
            }
            guard let (delivered, read, updates, waiters) = work else { return }
            do {
                let updated = try await memberships.advance(
                    roomId: key.roomId, userId: key.userId, deliveredSeq: delivered, readSeq: read, updatesSeen: updates)
                for w in waiters { w.resume(returning: updated) }
            } catch {
                let mapped = ParleyError.from(error)
                for w in waiters { w.resume(throwing: mapped) }
            }
        }
    }
}
