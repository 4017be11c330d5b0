import Foundation
import Logging
import Mongo
import ParleyCore

/// The server pushes that follow from changes, whichever transport or REST call made
/// them, to the connections that should see each one. Subscriptions are
/// `MembershipEffects`' to change.
struct RoomNotifier: StoredMessageSink {
    let hub: ConnectionHub
    let presence: PresenceRegistry
    let metrics: ParleyMetrics
    let logger: Logger

    struct Joined: Encodable {
        let roomId: String
        let user: User
    }

    struct Left: Encodable {
        let roomId: String
        let userId: String
    }

    struct Status: Encodable {
        let roomId: String
        let userId: String
        let deliveredSeq: Int
        let readSeq: Int
    }

    struct Presence: Encodable {
        let userId: String
        let status: PresenceStatus
        let lastSeenAt: Date?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(userId, forKey: .userId)
            try c.encode(status, forKey: .status)
            try c.encode(lastSeenAt, forKey: .lastSeenAt)
        }
        enum CodingKeys: String, CodingKey { case userId, status, lastSeenAt }
    }

    /// A user joined: `room:user:joined` to the other members (`MembershipEffects`).
    func announceJoined(_ roomId: ObjectId, user: UserRecord) {
        push("room:user:joined", Joined(roomId: roomId.hex, user: User(user, online: presence.isOnline(user.id))), to: roomId, exceptUser: user.id)
    }

    /// A user left: `room:user:left` to the room, the leaver's devices included
    /// (`MembershipEffects` unsubscribes them after).
    func announceLeft(_ roomId: ObjectId, userId: ObjectId) {
        push("room:user:left", Left(roomId: roomId.hex, userId: userId.hex), to: roomId)
    }

    /// A member's cursors moved: `message:status` to the room.
    func cursorMoved(_ m: MembershipRecord) {
        push("message:status", Status(roomId: m.roomId.hex, userId: m.userId.hex, deliveredSeq: m.deliveredSeq, readSeq: m.readSeq), to: m.roomId)
    }

    /// Messages were stored: `message:new` to every member connection but the sender's.
    func stored(_ batch: [StoredMessage], in roomId: ObjectId) {
        metrics.messagesStored.increment(by: Int64(batch.count))
        let frames = batch.compactMap { stored -> (frame: PushFrame, seq: Int, origin: UInt64?)? in
            do {
                let data = try WireFrames.message(stored.record, in: stored.encoded)
                return (PushFrame(type: "message:new", json: data.bytes), stored.record.seq, stored.origin)
            } catch {
                logger.error("cannot encode message \(stored.record.id.hex): \(error)")
                return nil
            }
        }
        hub.broadcast(messages: frames, to: roomId)
    }

    /// A user's presence changed: tell everyone sharing a room with them.
    func presenceChanged(userId: ObjectId, status: PresenceStatus, lastSeenAt: Date?) {
        guard let frame = try? PushFrame(type: "presence", data: Presence(userId: userId.hex, status: status, lastSeenAt: lastSeenAt)) else { return }
        hub.broadcastToRoommates(of: userId, frame)
    }

    /// An ephemeral push (typing, room activity) to the room's other users.
    func ephemeral(_ type: String, _ data: some Encodable, to roomId: ObjectId, from userId: ObjectId) {
        push(type, data, to: roomId, exceptUser: userId)
    }

    private func push(_ type: String, _ data: some Encodable, to roomId: ObjectId, exceptUser: ObjectId? = nil) {
        do {
            hub.broadcast(try PushFrame(type: type, data: data), to: roomId, exceptUser: exceptUser)
        } catch {
            logger.error("cannot encode \(type): \(error)")
        }
    }
}
