import Foundation
import Mongo
import ParleyCore

/// The one way a message is sent, for `/ws`, Socket.IO and REST alike: the rate
/// limit, the text's rules, membership (from the hub when it knows, otherwise the
/// database), the send gate (archived, muted), the reply, thread and mentions
/// settled, then the send pipeline. Returns the pipeline's promise; the caller
/// awaits it off its read loop (sockets) or at once (REST).
struct MessageSender: Sendable {
    let services: ParleyServices

    /// A send as a client asked for it (also the body of `POST /api/rooms/:roomId/messages`).
    struct Request: Decodable, Sendable {
        var text: String
        var clientId: String
        var replyTo: String?
        var threadId: String?
        var attachments: [String]?
    }

    func submit(_ r: Request, to roomId: ObjectId, from user: UserRecord, origin: UInt64?) async throws -> Deferred<SendPipeline.Outcome> {
        try check(r, from: user)
        try await requireMember(roomId, user: user)
        return try await enqueue(r, to: roomId, from: user, origin: origin)
    }

    /// A private message: the direct room with `toUserId`, opened on first use.
    func submit(_ r: Request, toUser toUserId: String, from user: UserRecord, origin: UInt64?) async throws -> Deferred<SendPipeline.Outcome> {
        try check(r, from: user)
        let (room, other, created) = try await services.rooms.directRoom(from: user, to: toUserId)
        services.membershipEffects.opened(direct: room, between: user.id, and: other.id, isNew: created)
        return try await enqueue(r, to: room.id, from: user, origin: origin)
    }

    private func check(_ r: Request, from user: UserRecord) throws {
        try (user.isGuest ? services.guestMessageLimiter : services.messageLimiter).consume(user.id.hex)
        try SendPipeline.validate(
            text: r.text, clientId: r.clientId, maxChars: services.config.messageMaxChars, withAttachments: !(r.attachments ?? []).isEmpty)
    }

    private func enqueue(_ r: Request, to roomId: ObjectId, from user: UserRecord, origin: UInt64?) async throws -> Deferred<SendPipeline.Outcome> {
        try await services.gate.check(roomId, user: user.id)
        // During a graceful shutdown nothing new is taken: the client retries the same
        // clientId after reconnecting, so nothing is lost and nothing stored twice.
        guard !services.hub.isDraining else { throw ParleyError(.unavailable, "the server is restarting; send again after reconnecting") }
        var extras = try await SendExtras(repos: services.repos).resolve(roomId: roomId, text: r.text, replyTo: r.replyTo, threadId: r.threadId)
        extras.attachments = try await services.uploads.attachments(r.attachments ?? [], by: user)
        let submission = SendPipeline.Submission(roomId: roomId, sender: user, text: r.text, clientId: r.clientId, origin: origin, extras: extras)
        // In a cluster the room's one writer stores it (`SendRouter`).
        let stored = services.router?.submit(submission) ?? services.pipeline.enqueue(submission)
        // Counted for search's plan (coalesced, off this path: `WordCounts`).
        if let words = extras.words { services.vocabulary.note(words) }
        let newWords = extras.words.flatMap { services.vocabulary.hasNew($0) ? $0 : nil }
        guard newWords != nil || !extras.attachments.isEmpty else { return stored }
        // Off the connection's read loop (a database that does not answer must not
        // hold the frames behind this one), and before the ack: the search vocabulary
        // learns the new words beside the store (a message acknowledged is found by
        // the prefixes of its words; one not written only costs prefix matches,
        // logged), and the uploads learn the message that carries them (a member
        // who sees it can read its files).
        let answer = Deferred<SendPipeline.Outcome>()
        let vocabulary = services.vocabulary, uploads = services.uploads, logger = services.logger
        Task {
            if let newWords {
                do {
                    try await vocabulary.learn(newWords)
                } catch {
                    logger.warning("search vocabulary not written for a message's new words: \(error)")
                }
            }
            do {
                let outcome = try await stored.value()
                try await uploads.attached(outcome.message)
                answer.complete(.success(outcome))
            } catch {
                answer.complete(.failure(error))
            }
        }
        return answer
    }

    /// Membership, from the hub when the user's connections know the room, otherwise
    /// from the database (then the hub learns it). `not_found` for rooms the user
    /// cannot see, `forbidden` for visible rooms they are not in.
    func requireMember(_ roomId: ObjectId, user: UserRecord) async throws {
        if services.hub.isSubscribed(user.id, to: roomId) { return }
        _ = try await services.rooms.memberRoom(roomId, for: user)
        services.membershipEffects.confirmed(user.id, in: roomId)
    }
}
