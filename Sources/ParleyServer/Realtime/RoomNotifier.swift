import Foundation
import Logging
import Mongo
import ParleyCore

/// The server pushes that follow from changes, whichever transport or REST call made
/// them, to the connections that should see each one: this node's, and in a cluster
/// the other nodes' too (each push is also a `Signal` in the `outbox`). Stored
/// messages come through `MessageFanout`; subscriptions are `MembershipEffects`' to
/// change.
struct RoomNotifier: Sendable {
    let hub: ConnectionHub
    let presence: PresenceRegistry
    let metrics: ParleyMetrics
    /// The other nodes' way in; nil outside a cluster.
    let outbox: SignalOutbox?
    let logger: Logger


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
    func announceJoined(_ roomId: ObjectId, user: UserRecord, by: ObjectId?) {
        push(
            "room:user:joined", RoomPushes.Joined(roomId: roomId.hex, user: User(user, online: presence.isOnline(user.id)), by: by?.hex), to: roomId,
            exceptUser: user.id)
    }

    /// A user left: `room:user:left` to the room, the leaver's devices included;
    /// `then` (the unsubscribe) goes to the other nodes in the same batch, after it.
    func announceLeft(_ roomId: ObjectId, userId: ObjectId, then: [Signal] = []) {
        push("room:user:left", RoomPushes.Left(roomId: roomId.hex, userId: userId.hex), to: roomId, then: then)
    }

    /// A member's cursors moved: `message:status` to the room.
    func cursorMoved(_ m: MembershipRecord) {
        push("message:status", Status(roomId: m.roomId.hex, userId: m.userId.hex, deliveredSeq: m.deliveredSeq, readSeq: m.readSeq), to: m.roomId)
    }

    /// A room's messages, in seq order: `message:new` to this node's connections in
    /// the room but the one each came from (`MessageFanout` orders them).
    func deliver(_ batch: [StoredMessage], in roomId: ObjectId) {
        guard !batch.isEmpty else { return }
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

    /// A user's presence changed: tell everyone sharing a room with them, on every
    /// node (the others get the user's rooms with it: they may not know them).
    func presenceChanged(userId: ObjectId, status: PresenceStatus, lastSeenAt: Date?) {
        guard let frame = presenceFrame(userId, status, lastSeenAt) else { return }
        let rooms = hub.rooms(of: userId)
        hub.broadcast(frame, toRooms: rooms, exceptUser: userId)
        outbox?.publish(.push(frame, toRooms: rooms, except: userId))
    }

    /// A user went offline everywhere because the node they were on died: this node's
    /// connections in `rooms` hear of it (every node does the same for its own).
    func presenceLost(userId: ObjectId, rooms: [ObjectId], lastSeenAt: Date) {
        guard let frame = presenceFrame(userId, .offline, lastSeenAt) else { return }
        hub.broadcast(frame, toRooms: rooms, exceptUser: userId)
    }

    private func presenceFrame(_ userId: ObjectId, _ status: PresenceStatus, _ lastSeenAt: Date?) -> PushFrame? {
        try? PushFrame(type: "presence", data: Presence(userId: userId.hex, status: status, lastSeenAt: lastSeenAt))
    }

    /// An ephemeral push (typing, room activity) to the room's other users.
    func ephemeral(_ type: String, _ data: some Encodable, to roomId: ObjectId, from userId: ObjectId) {
        push(type, data, to: roomId, exceptUser: userId)
    }

    /// A push to every member's connections, on every node; `first` and `then` are
    /// signals the other nodes apply just before and just after it.
    func toRoom(_ type: String, _ data: some Encodable, _ roomId: ObjectId, first: [Signal] = [], then: [Signal] = []) {
        push(type, data, to: roomId, first: first, then: then)
    }

    /// A new public room: `room:created` to the connections that hear of every one
    /// (`ConnectionHub.announceNewRoom`), on every node.
    func roomCreated(_ room: Room) {
        guard let frame = frame("room:created", RoomPushes.RoomData(room: room)) else { return }
        hub.announceNewRoom(frame)
        outbox?.publish(.pushToEveryone(frame))
    }

    /// A push to one user's connections, on every node.
    func toUser(_ type: String, _ data: some Encodable, _ userId: ObjectId) {
        guard let frame = frame(type, data) else { return }
        hub.send(frame, toUser: userId)
        outbox?.publish(.push(frame, toUser: userId))
    }

    /// The frame of a push; nil (logged) when its data cannot be encoded.
    func frame(_ type: String, _ data: some Encodable) -> PushFrame? {
        do {
            return try PushFrame(type: type, data: data)
        } catch {
            logger.error("cannot encode \(type): \(error)")
            return nil
        }
    }

    private func push(
        _ type: String, _ data: some Encodable, to roomId: ObjectId, exceptUser: ObjectId? = nil, first: [Signal] = [], then: [Signal] = []
    ) {
        guard let frame = frame(type, data) else { return }
        hub.broadcast(frame, to: roomId, exceptUser: exceptUser)
        outbox?.publish(first + [.push(frame, to: roomId, except: exceptUser)] + then)
    }
}
