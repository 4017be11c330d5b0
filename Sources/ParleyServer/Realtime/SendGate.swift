import Foundation
import Mongo
import ParleyCore
import Synchronization

/// Whether a member may post in a room right now: refused while the room is
/// archived or the member muted (`forbidden`, with `mutedUntil`). Checked on every
/// send, typing and activity event, so it answers from memory: each room's archived
/// flag and each member's mute are read once and kept `ttl`, dropped at once when
/// this node changes them and when another node signals a change (`Signal.gate`).
/// The expiry bounds how long a lost signal can leave a node wrong. An expired entry
/// still answers while it is read again in the background, so a database that stops
/// answering does not hold typing and activity up (they are never stored); an
/// ephemeral event that finds no entry at all and cannot read one passes.
final class SendGate: Sendable {
    private struct Entry {
        var archived: Bool
        var mutedUntil: Date?
        var readAt: ContinuousClock.Instant
        var refreshing = false
    }

    private struct Key: Hashable {
        let room: ObjectId
        let user: ObjectId
    }

    private let entries = Mutex<[Key: Entry]>([:])
    /// Bumped by every invalidation: a read that began before one does not keep
    /// what it read (it may predate the change).
    private let generation = Atomic<Int>(0)
    private let repos: ParleyRepositories
    private let ttl: Duration
    /// Beyond this many entries the oldest half is dropped (a bound, not an LRU).
    private let maxEntries = 100_000

    init(repos: ParleyRepositories, ttl: Duration = .seconds(30)) {
        self.repos = repos
        self.ttl = ttl
    }

    /// `forbidden` when the user may not post in the room now. `ephemeral` (typing,
    /// activity): a database that cannot be read does not refuse it.
    func check(_ roomId: ObjectId, user userId: ObjectId, ephemeral: Bool = false, now: Date = Date()) async throws {
        let key = Key(room: roomId, user: userId)
        let (cached, stale) = entries.withLock { e -> (Entry?, Bool) in
            guard var hit = e[key] else { return (nil, false) }
            let stale = hit.readAt.duration(to: .now) >= ttl
            if stale && !hit.refreshing {
                hit.refreshing = true
                e[key] = hit
                return (hit, true)
            }
            return (hit, false)
        }
        let entry: Entry
        if let cached {
            entry = cached
            if stale { Task { _ = try? await self.read(key) } }
        } else {
            do {
                entry = try await read(key)
            } catch where ephemeral {
                return
            }
        }
        if entry.archived { throw ParleyError(.forbidden, "the room is archived (read-only)") }
        if let until = entry.mutedUntil, until > now { throw ParleyError(.forbidden, "you are muted in this room", mutedUntil: until) }
    }

    /// Reads one entry and keeps it.
    private func read(_ key: Key) async throws -> Entry {
        let began = generation.load(ordering: .sequentiallyConsistent)
        do {
            async let room = repos.rooms.find(id: key.room)
            async let membership = repos.memberships.find(roomId: key.room, userId: key.user)
            let (r, m) = try await (room, membership)
            let entry = Entry(archived: r?.isArchived ?? false, mutedUntil: m?.mutedUntil, readAt: .now)
            entries.withLock { e in
                guard generation.load(ordering: .sequentiallyConsistent) == began else {
                    e[key] = nil
                    return
                }
                if e.count >= maxEntries { e = e.filter { $0.value.readAt.duration(to: .now) < ttl / 2 } }
                e[key] = entry
            }
            return entry
        } catch {
            entries.withLock { e in e[key]?.refreshing = false }
            throw error
        }
    }

    /// Forgets what it knows of a room (every member, `user` nil) or of one member.
    func invalidate(_ roomId: ObjectId, user: ObjectId? = nil) {
        entries.withLock { e in
            generation.add(1, ordering: .sequentiallyConsistent)
            if let user {
                e[Key(room: roomId, user: user)] = nil
            } else {
                e = e.filter { $0.key.room != roomId }
            }
        }
    }
}
