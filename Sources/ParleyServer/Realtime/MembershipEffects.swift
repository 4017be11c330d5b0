import Mongo
import ParleyCore

/// What a membership change does to live connections, whichever way it came (REST,
/// `/ws`, Socket.IO): the only code that changes the hub's room subscriptions, and the
/// pushes that go with each change. Call it after the change is stored.
struct MembershipEffects: Sendable {
    let hub: ConnectionHub
    let notifier: RoomNotifier

    /// The creator of a room is its first member.
    func created(_ roomId: ObjectId, by userId: ObjectId) { hub.subscribe(userId, to: roomId) }

    /// A user joined (or joined again, harmlessly): their connections get the room's
    /// pushes from now on; the other members hear of a new member.
    func joined(_ roomId: ObjectId, user: UserRecord, isNew: Bool) {
        hub.subscribe(user.id, to: roomId)
        if isNew { notifier.announceJoined(roomId, user: user) }
    }

    /// A user left: the remaining members (and the leaver's other devices) hear of it,
    /// then the leaver's connections stop getting the room's pushes.
    func left(_ roomId: ObjectId, userId: ObjectId) {
        notifier.announceLeft(roomId, userId: userId)
        hub.unsubscribe(userId, from: roomId)
    }

    /// A direct room was opened or used: both users' connections get it.
    func opened(direct roomId: ObjectId, between a: ObjectId, and b: ObjectId) {
        hub.subscribe(a, to: roomId)
        hub.subscribe(b, to: roomId)
    }

    /// The database confirmed a membership the hub did not know (a room joined on
    /// another node, or before this connection opened).
    func confirmed(_ userId: ObjectId, in roomId: ObjectId) { hub.subscribe(userId, to: roomId) }
}
