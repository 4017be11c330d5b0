import Foundation
import Mongo

/// Settles what a send carries besides its text, before it is queued: the quote of
/// the message it replies to, its thread, the members its `@username`s name, and
/// its search words. A plain send (no reply, no thread, no `@`) reads nothing.
public struct SendExtras: Sendable {
    public let repos: ParleyRepositories

    public init(repos: ParleyRepositories) { self.repos = repos }

    /// - Parameters: `replyTo` and `threadId` are message ids of the same room
    ///   (`not_found` otherwise); a thread's root is the root of the message named,
    ///   so threads are one level deep.
    public func resolve(roomId: ObjectId, text: String, replyTo: String?, threadId: String?) async throws -> MessageExtras {
        var extras = MessageExtras(words: SearchWords.index(text))
        if let replyTo {
            extras.replyTo = ReplyRef(try await message(replyTo, in: roomId, what: "the message replied to"))
        }
        if let threadId {
            let named = try await message(threadId, in: roomId, what: "the thread")
            extras.threadId = named.threadId ?? named.id
        }
        let names = Mentions.usernames(in: text)
        if !names.isEmpty {
            var ids: [ObjectId] = []
            for name in names {
                guard let u = try await repos.users.find(username: name), !u.disabled else { continue }
                if try await repos.memberships.find(roomId: roomId, userId: u.id) != nil { ids.append(u.id) }
            }
            extras.mentions = ids
        }
        return extras
    }

    private func message(_ id: String, in roomId: ObjectId, what: String) async throws -> MessageRecord {
        guard let oid = ObjectId(id), let m = try await repos.messages.find(id: oid), m.roomId == roomId else {
            throw ParleyError(.notFound, "no such message: \(what)")
        }
        return m
    }
}
