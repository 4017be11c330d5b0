import Mongo
import ParleyCore

/// What a membership change does to live connections, whichever way it came (REST,
/// `/ws`, Socket.IO, another node): the only code that changes the hub's room
/// subscriptions, and the pushes that go with each change. Call it after the change
/// is stored. In a cluster each change is also a `Signal` to the other nodes, whose
/// buses hand it back here (`apply`).
struct MembershipEffects: Sendable {
    let hub: ConnectionHub
    let notifier: RoomNotifier
    /// The other nodes' way in; nil outside a cluster.
    let outbox: SignalOutbox?

    /// The creator of a room is its first member.
    func created(_ roomId: ObjectId, by userId: ObjectId) { subscribe(userId, to: roomId) }

    /// A user joined (or joined again, harmlessly): their connections get the room's
    /// pushes from now on; the other members hear of a new member.
    func joined(_ roomId: ObjectId, user: UserRecord, isNew: Bool) {
        subscribe(user.id, to: roomId)
        if isNew { notifier.announceJoined(roomId, user: user) }
    }

    /// A user left: the remaining members (and the leaver's other devices) hear of it,
    /// then the leaver's connections stop getting the room's pushes, on every node.
    func left(_ roomId: ObjectId, userId: ObjectId) {
        notifier.announceLeft(roomId, userId: userId, then: [.unsubscribe(userId, from: roomId)])
        hub.unsubscribe(userId, from: roomId)
    }

    /// A direct room was opened or used: both users' connections get it.
    func opened(direct roomId: ObjectId, between a: ObjectId, and b: ObjectId) {
        subscribe(a, to: roomId)
        subscribe(b, to: roomId)
    }

    /// The database confirmed a membership the hub did not know (a room joined on
    /// another node, or before this connection opened). Only this node's view changes.
    func confirmed(_ userId: ObjectId, in roomId: ObjectId) { hub.subscribe(userId, to: roomId) }

    /// A user's subscriptions as the database has them (a repair after the cluster
    /// bus may have missed changes).
    func resync(_ userId: ObjectId, rooms: Set<ObjectId>) { hub.resubscribe(userId, to: rooms) }

    /// Another node's subscription change, for this node's connections of that user.
    func apply(_ signal: Signal) {
        guard let user = signal.user, let room = signal.room else { return }
        switch signal.kind {
        case .subscribe: hub.subscribe(user, to: room)
        case .unsubscribe: hub.unsubscribe(user, from: room)
        case .push, .rooms, .presence, .messages: return
        }
    }

    private func subscribe(_ userId: ObjectId, to roomId: ObjectId) {
        hub.subscribe(userId, to: roomId)
        outbox?.publish(.subscribe(userId, to: roomId))
    }
}
