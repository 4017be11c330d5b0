import Foundation
import Mongo
import ParleyCore
import Synchronization

/// Whether a member may post in a room right now: refused while the room is
/// archived or the member muted (`forbidden`, with `mutedUntil`). Checked on every
/// send, typing and activity event, so it answers from memory: each room's archived
/// flag and each member's mute are read once and kept `ttl`, dropped at once when
/// this node changes them and when another node signals a change (`Signal.gate`).
/// The expiry bounds how long a lost signal can leave a node wrong.
final class SendGate: Sendable {
    private struct Entry {
        var archived: Bool
        var mutedUntil: Date?
        var readAt: ContinuousClock.Instant
    }

    private struct Key: Hashable {
        let room: ObjectId
        let user: ObjectId
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let repos: ParleyRepositories
    private let ttl: Duration
    /// Beyond this many entries the oldest half is dropped (a bound, not an LRU).
    private let maxEntries = 100_000

    init(repos: ParleyRepositories, ttl: Duration = .seconds(30)) {
        self.repos = repos
        self.ttl = ttl
    }

    /// `forbidden` when the user may not post in the room now.
    func check(_ roomId: ObjectId, user userId: ObjectId, now: Date = Date()) async throws {
        let key = Key(room: roomId, user: userId)
        let cached = entries.withLock { e -> Entry? in
            guard let hit = e[key], hit.readAt.duration(to: .now) < ttl else { return nil }
            return hit
        }
        let entry: Entry
        if let cached {
            entry = cached
        } else {
            async let room = repos.rooms.find(id: roomId)
            async let membership = repos.memberships.find(roomId: roomId, userId: userId)
            let (r, m) = try await (room, membership)
            entry = Entry(archived: r?.isArchived ?? false, mutedUntil: m?.mutedUntil, readAt: .now)
            entries.withLock { e in
                if e.count >= maxEntries { e = e.filter { $0.value.readAt.duration(to: .now) < ttl / 2 } }
                e[key] = entry
            }
        }
        if entry.archived { throw ParleyError(.forbidden, "the room is archived (read-only)") }
        if let until = entry.mutedUntil, until > now { throw ParleyError(.forbidden, "you are muted in this room", mutedUntil: until) }
    }

    /// Forgets what it knows of a room (every member, `user` nil) or of one member.
    func invalidate(_ roomId: ObjectId, user: ObjectId? = nil) {
        entries.withLock { e in
            if let user {
                e[Key(room: roomId, user: user)] = nil
            } else {
                e = e.filter { $0.key.room != roomId }
            }
        }
    }
}
