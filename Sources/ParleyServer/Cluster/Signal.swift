import Foundation
import Mongo
import ParleyCore

/// One thing a node tells the others, besides the messages they read from `messages`:
/// a push for the connections of a room, a subscription change, a presence change.
/// Pushes carry their `data` as the JSON the clients get, so the receiving node makes
/// the frame without encoding anything.
struct Signal: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable {
        /// `type`/`json` to the connections of `room`, but `user`'s.
        case push
        /// `type`/`json` to the connections of any of `rooms`, once each, but `user`'s.
        case rooms
        /// `user`'s connections get `room`'s pushes from now on.
        case subscribe
        /// `user`'s connections get nothing more from `room`.
        case unsubscribe
        /// `type`/`json` to `user`'s connections (`room:added`, `room:removed`).
        case user
        /// `room` was deleted: no connection gets anything more from it.
        case drop
        /// What `SendGate` knows of `room` (of `user` in it, when set) is stale.
        case gate
        /// `user` has a connection on the sending node (`online`) or no longer has one.
        case presence
        /// `messages` were stored by the sending node (one room's, in seq order). They
        /// ride in the batch so the others watch one collection with one event per
        /// batch, not every insert into `messages` (docs/ARCHITECTURE.md, "Cluster").
        case messages
    }

    var kind: Kind
    var room: ObjectId?
    var rooms: [ObjectId]?
    var user: ObjectId?
    var type: String?
    var json: String?
    var online: Bool?
    var messages: [MessageRecord]?

    static func push(_ frame: PushFrame, to room: ObjectId, except user: ObjectId?) -> Signal {
        Signal(kind: .push, room: room, user: user, type: frame.type, json: String(decoding: frame.data, as: UTF8.self))
    }

    static func push(_ frame: PushFrame, toRooms rooms: [ObjectId], except user: ObjectId?) -> Signal {
        Signal(kind: .rooms, rooms: rooms, user: user, type: frame.type, json: String(decoding: frame.data, as: UTF8.self))
    }

    static func subscribe(_ user: ObjectId, to room: ObjectId) -> Signal { Signal(kind: .subscribe, room: room, user: user) }
    static func unsubscribe(_ user: ObjectId, from room: ObjectId) -> Signal { Signal(kind: .unsubscribe, room: room, user: user) }
    static func push(_ frame: PushFrame, toUser user: ObjectId) -> Signal {
        Signal(kind: .user, user: user, type: frame.type, json: String(decoding: frame.data, as: UTF8.self))
    }
    static func drop(_ room: ObjectId) -> Signal { Signal(kind: .drop, room: room) }
    static func gate(_ room: ObjectId, user: ObjectId?) -> Signal { Signal(kind: .gate, room: room, user: user) }
    static func presence(_ user: ObjectId, online: Bool) -> Signal { Signal(kind: .presence, user: user, online: online) }
    static func messages(_ records: [MessageRecord]) -> Signal { Signal(kind: .messages, messages: records) }

    /// The push this signal carries, as a frame.
    var frame: PushFrame? {
        guard let type, let json else { return nil }
        return PushFrame(type: type, json: Array(json.utf8))
    }
}

/// What a node writes to `signals`: everything it signalled since its last write, as
/// one document (one insert, and one change event for each other node, however many
/// signals it carries). Each node numbers its batches (`n`, from 1 at its start), so
/// a receiver sees a lost batch as a gap; a batch with no signals is a heartbeat.
struct SignalBatch: Codable, Sendable {
    var id: ObjectId = ObjectId()
    var node: String
    var n: Int
    var at: Date
    var signals: [Signal]

    enum CodingKeys: String, CodingKey { case id = "_id", node, n, at, signals }
}
