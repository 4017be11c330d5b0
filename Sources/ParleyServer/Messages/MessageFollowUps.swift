import Foundation
import Logging
import Mongo
import ParleyCore

/// What follows a stored message besides its delivery, on the node that stored it:
/// the members it mentions get it among their unread mentions, and a thread reply counts on its root (`message:updated` of the root to the room). Run after the
/// store, off the send path; a failure is logged (the message itself is stored and
/// delivered either way).
struct MessageFollowUps: StoredMessageSink {
    let fanout: MessageFanout
    let repos: ParleyRepositories
    let changes: MessageChanges
    let notifier: RoomNotifier
    let logger: Logger

    func stored(_ batch: [StoredMessage], in roomId: ObjectId) {
        fanout.stored(batch, in: roomId)
        let follow = batch.map(\.record).filter { $0.mentions != nil || $0.threadId != nil }
        guard !follow.isEmpty else { return }
        Task {
            for m in follow {
                do {
                    if let mentioned = m.mentions?.filter({ $0 != m.senderId }), !mentioned.isEmpty {
                        try await repos.memberships.addMention(roomId: roomId, userIds: mentioned, seq: m.seq)
                    }
                    if let root = m.threadId, let changed = try await changes.replyAdded(to: root, at: m.createdAt) {
                        notifier.toRoom(
                            "message:updated", MessageActions.Updated(message: Message(changed.message), updateSeq: changed.updateSeq), roomId)
                    }
                } catch {
                    logger.error("follow-ups of message \(m.id.hex) (mentions, thread) failed: \(error)")
                }
            }
        }
    }
}
