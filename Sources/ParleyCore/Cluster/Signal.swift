import Foundation
import Mongo

/// One thing a node tells the others, besides the messages they read from `messages`:
/// a push for the connections of a room, a subscription change, a presence change.
/// Pushes carry their `data` as the JSON the clients get, so the receiving node makes
/// the frame without encoding anything. In ParleyCore so that `parleyctl` can tell the
/// nodes of the changes it makes (`SignalBatch.oneShot`).
public struct Signal: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
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
        /// `type`/`json` to every connection that hears of new public rooms (`room:created`).
        case everyone
        /// `room` was deleted: no connection gets anything more from it.
        case drop
        /// What a node's send gate knows of `room` (of `user` in it, when set) is stale.
        case gate
        /// `user` has a connection on the sending node (`online`) or no longer has one.
        case presence
        /// A send forwarded to `to`, the node that writes `room` (`SendRouter`): `send`
        /// holds it, `request` numbers it at the sending node.
        case send
        /// The answer to a forwarded send, to `to`: `message` stored, or `error`.
        case sent
        /// `messages` were stored by the sending node (one room's, in seq order). They
        /// ride in the batch so the others watch one collection with one event per
        /// batch, not every insert into `messages` (docs/ARCHITECTURE.md, "Cluster").
        case messages
    }

    public var kind: Kind
    public var room: ObjectId?
    public var rooms: [ObjectId]?
    public var user: ObjectId?
    public var type: String?
    public var json: String?
    public var online: Bool?
    public var messages: [MessageRecord]?
    /// With `messages`: where each came from (`SendRouter.remoteOrigin`; 0: none), so
    /// the node a forwarded send came from skips its sending connection.
    public var origins: [UInt64]?
    /// The node a `send` or `sent` is for.
    public var to: String?
    public var request: Int?
    public var send: ForwardedSend?
    public var message: MessageRecord?
    public var error: SignalError?

    public init(
        kind: Kind, room: ObjectId? = nil, rooms: [ObjectId]? = nil, user: ObjectId? = nil, type: String? = nil, json: String? = nil,
        online: Bool? = nil, messages: [MessageRecord]? = nil
    ) {
        self.kind = kind
        self.room = room
        self.rooms = rooms
        self.user = user
        self.type = type
        self.json = json
        self.online = online
        self.messages = messages
    }

    public static func subscribe(_ user: ObjectId, to room: ObjectId) -> Signal { Signal(kind: .subscribe, room: room, user: user) }
    public static func unsubscribe(_ user: ObjectId, from room: ObjectId) -> Signal { Signal(kind: .unsubscribe, room: room, user: user) }
    public static func drop(_ room: ObjectId) -> Signal { Signal(kind: .drop, room: room) }
    public static func gate(_ room: ObjectId, user: ObjectId?) -> Signal { Signal(kind: .gate, room: room, user: user) }
    public static func presence(_ user: ObjectId, online: Bool) -> Signal { Signal(kind: .presence, user: user, online: online) }
    public static func messages(_ records: [MessageRecord], origins: [UInt64]? = nil) -> Signal {
        var s = Signal(kind: .messages, messages: records)
        s.origins = origins
        return s
    }

    /// A push of `data` (encoded with the wire format) to a room's connections.
    public static func push(_ type: String, _ data: some Encodable, to room: ObjectId, except user: ObjectId? = nil) throws -> Signal {
        Signal(kind: .push, room: room, user: user, type: type, json: try Signal.json(data))
    }

    /// A push of `data` to one user's connections.
    public static func push(_ type: String, _ data: some Encodable, toUser user: ObjectId) throws -> Signal {
        Signal(kind: .user, user: user, type: type, json: try Signal.json(data))
    }

    private static let encoder = WireFormat.makeEncoder()
    static func json(_ data: some Encodable) throws -> String { String(decoding: try encoder.encode(data), as: UTF8.self) }
}

/// A send another node validated and forwards to the room's writer.
public struct ForwardedSend: Codable, Sendable, Equatable {
    public var senderId: ObjectId
    public var senderName: String
    public var text: String
    public var clientId: String
    public var replyTo: ReplyRef?
    public var threadId: ObjectId?
    public var mentions: [ObjectId]?
    /// The sending connection, as `SendRouter.remoteOrigin` encodes it.
    public var origin: UInt64?
    public var attachments: [Attachment]?

    public init(
        senderId: ObjectId, senderName: String, text: String, clientId: String, replyTo: ReplyRef?, threadId: ObjectId?, mentions: [ObjectId]?,
        origin: UInt64?, attachments: [Attachment]? = nil
    ) {
        self.senderId = senderId
        self.senderName = senderName
        self.text = text
        self.clientId = clientId
        self.replyTo = replyTo
        self.threadId = threadId
        self.mentions = mentions
        self.origin = origin
        self.attachments = attachments
    }
}

/// A refusal carried back to the node a send came from.
public struct SignalError: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
    public var retryAfterMs: Int?
    public var mutedUntil: Date?

    public init(_ e: ParleyError) {
        code = e.code.rawValue
        message = e.message
        retryAfterMs = e.retryAfterMs
        mutedUntil = e.mutedUntil
    }

    public var error: ParleyError {
        ParleyError(ParleyError.Code(rawValue: code), message, retryAfterMs: retryAfterMs, mutedUntil: mutedUntil)
    }
}

/// What a node writes to `signals`: everything it signalled since its last write, as
/// one document (one insert, and one change event for each other node, however many
/// signals it carries). Each node numbers its batches (`n`, from 1 at its start), so
/// a receiver sees a lost batch as a gap; a batch with no signals is a heartbeat.
public struct SignalBatch: Codable, Sendable {
    public var id: ObjectId = ObjectId()
    public var node: String
    public var n: Int
    public var at: Date
    public var signals: [Signal]

    enum CodingKeys: String, CodingKey { case id = "_id", node, n, at, signals }

    public init(node: String, n: Int, at: Date, signals: [Signal]) {
        self.node = node
        self.n = n
        self.at = at
        self.signals = signals
    }

    /// The node name prefix of a writer that is not a node (`parleyctl`): its one
    /// batch is applied, and it is never counted, awaited or buried as a peer.
    public static let oneShotPrefix = "ctl-"

    public var isOneShot: Bool { node.hasPrefix(SignalBatch.oneShotPrefix) }

    /// Writes `signals` as one batch from a one-shot writer; every node applies it.
    public static func oneShot(_ signals: [Signal], to database: MongoDatabase) async throws {
        guard !signals.isEmpty else { return }
        let batch = SignalBatch(node: oneShotPrefix + ObjectId().hex, n: 1, at: Date(), signals: signals)
        try await database.collection("signals", withType: SignalBatch.self).insertOne(batch)
    }
}
