import Foundation
import Mongo
import ParleyCore

/// What a membership or room change does to live connections, whichever way it came
/// (REST, `/ws`, Socket.IO, another node): the only code that changes the hub's room
/// subscriptions, and the pushes that go with each change. Call it after the change
/// is stored. In a cluster each change is also a `Signal` to the other nodes, whose
/// buses hand it back here (`apply`), in the order it was made: a removed member is
/// unsubscribed on every node before anything else of that change is pushed.
struct MembershipEffects: Sendable {
    let hub: ConnectionHub
    let notifier: RoomNotifier
    let gate: SendGate
    /// The other nodes' way in; nil outside a cluster.
    let outbox: SignalOutbox?

    typealias P = RoomPushes

    /// The creator of a room is its first member; a group conversation's other
    /// members are added with it (`room:added` to each).
    func created(_ created: RoomService.Created, by user: UserRecord) {
        subscribe(user.id, to: created.record.id)
        for (member, membership) in created.members {
            added(Room(created.record, membership: membership), user: member, by: user.id)
        }
    }

    /// A user joined (or joined again, harmlessly): their connections get the room's
    /// pushes from now on; the other members hear of a new member.
    func joined(_ roomId: ObjectId, user: UserRecord, isNew: Bool) {
        subscribe(user.id, to: roomId)
        if isNew { notifier.announceJoined(roomId, user: user, by: nil) }
    }

    /// Someone added the user (or they accepted an invite, `by` nil): their
    /// connections get the room (`room:added`) and its pushes; the members hear of it.
    func added(_ room: Room, user: UserRecord, by: ObjectId?) {
        guard let roomId = ObjectId(room.id) else { return }
        subscribe(user.id, to: roomId)
        notifier.toUser("room:added", P.RoomData(room: room), user.id)
        notifier.announceJoined(roomId, user: user, by: by)
    }

    /// A user left: the remaining members (and the leaver's other devices) hear of it,
    /// then the leaver's connections stop getting the room's pushes, on every node.
    func left(_ roomId: ObjectId, userId: ObjectId) {
        gate.invalidate(roomId, user: userId)
        notifier.announceLeft(roomId, userId: userId, then: [.unsubscribe(userId, from: roomId), .gate(roomId, user: userId)])
        hub.unsubscribe(userId, from: roomId)
    }

    /// A member was removed (kicked or banned): from this moment their connections get
    /// nothing more from the room, on any node; they get `room:removed`, the others
    /// `room:user:left` with who did it and why.
    func removed(_ roomId: ObjectId, userId: ObjectId, by: ObjectId, reason: String?, banned: Bool) {
        hub.unsubscribe(userId, from: roomId)
        gate.invalidate(roomId, user: userId)
        var signals: [Signal] = [.unsubscribe(userId, from: roomId), .gate(roomId, user: userId)]
        if let left = notifier.frame(
            "room:user:left", P.Left(roomId: roomId.hex, userId: userId.hex, by: by.hex, reason: reason))
        {
            hub.broadcast(left, to: roomId)
            signals.append(.push(left, to: roomId, except: nil))
        }
        if let gone = notifier.frame("room:removed", P.Removed(roomId: roomId.hex, by: by.hex, reason: reason, banned: banned)) {
            hub.send(gone, toUser: userId)
            signals.append(.push(gone, toUser: userId))
        }
        outbox?.publish(signals)
    }

    /// A member's role changed: `room:role` to the room.
    func roleChanged(_ m: MembershipRecord) {
        notifier.toRoom("room:role", P.RoleChanged(roomId: m.roomId.hex, userId: m.userId.hex, role: m.roomRole), m.roomId)
    }

    /// A member was muted or unmuted: sends are refused (or allowed again) at once on
    /// every node; the room hears of it (`room:muted`, `room:unmuted`).
    func muteChanged(_ m: MembershipRecord) {
        gate.invalidate(m.roomId, user: m.userId)
        let until = m.muted()
        let push = P.Muted(roomId: m.roomId.hex, userId: m.userId.hex, mutedUntil: until)
        notifier.toRoom(until == nil ? "room:unmuted" : "room:muted", push, m.roomId, first: [.gate(m.roomId, user: m.userId)])
    }

    /// The room's settings changed: `room:updated` to its members (without anyone's
    /// own fields), and sends see an archiving at once.
    func updated(_ room: Room) {
        guard let roomId = ObjectId(room.id) else { return }
        gate.invalidate(roomId)
        notifier.toRoom("room:updated", P.RoomData(room: room.shared), roomId, first: [.gate(roomId, user: nil)])
    }

    /// The room was deleted: `room:deleted` to its members, then no connection on any
    /// node gets anything more from it.
    func deleted(_ roomId: ObjectId) {
        notifier.toRoom("room:deleted", P.Deleted(roomId: roomId.hex), roomId, then: [.drop(roomId), .gate(roomId, user: nil)])
        hub.drop(roomId)
        gate.invalidate(roomId)
    }

    /// A direct room was opened or used: both users' connections get it.
    /// A direct room was used: both users' connections get its pushes; when it is
    /// new, both get it (`room:added`), so a conversation appears before its first message.
    func opened(direct room: RoomRecord, between a: ObjectId, and b: ObjectId, isNew: Bool) {
        subscribe(a, to: room.id)
        subscribe(b, to: room.id)
        guard isNew else { return }
        for user in [a, b] { notifier.toUser("room:added", P.RoomData(room: Room(room)), user) }
    }

    /// The database confirmed a membership the hub did not know (a room joined on
    /// another node, or before this connection opened). Only this node's view changes.
    func confirmed(_ userId: ObjectId, in roomId: ObjectId) { hub.subscribe(userId, to: roomId) }

    /// A user's subscriptions as the database has them (a repair after the cluster
    /// bus may have missed changes).
    func resync(_ userId: ObjectId, rooms: Set<ObjectId>) { hub.resubscribe(userId, to: rooms) }

    /// Another node's change, for this node's connections.
    func apply(_ signal: Signal) {
        switch signal.kind {
        case .subscribe:
            guard let user = signal.user, let room = signal.room else { return }
            hub.subscribe(user, to: room)
        case .unsubscribe:
            guard let user = signal.user, let room = signal.room else { return }
            hub.unsubscribe(user, from: room)
        case .user:
            guard let user = signal.user, let frame = signal.frame else { return }
            hub.send(frame, toUser: user)
        case .drop:
            guard let room = signal.room else { return }
            hub.drop(room)
        case .gate:
            guard let room = signal.room else { return }
            gate.invalidate(room, user: signal.user)
        case .push, .rooms, .everyone, .presence, .messages, .send, .sent: return
        }
    }

    private func subscribe(_ userId: ObjectId, to roomId: ObjectId) {
        hub.subscribe(userId, to: roomId)
        outbox?.publish(.subscribe(userId, to: roomId))
    }
}
