import Foundation
import Mongo
import ParleyCore

/// A client event of the wire contract, typed: one case per event, its payload
/// decoded once, with the frame (`ClientFrame`), whatever the transport.
enum ClientEvent: Sendable {
    case auth
    case ping
    case roomsList
    case roomCreate(CreateRoomInput)
    case roomJoin(JoinBody)
    case roomLeave(RoomRef)
    case messageSend(SendBody)
    case messagePrivate(PrivateBody)
    case messageDelivered(CursorBody)
    case messageRead(CursorBody)
    case history(HistoryBody)
    case typing(TypingBody)
    case roomActivity(ActivityBody)
    case presenceSet(PresenceBody)
    case roomUpdate(RoomPatchInput)
    case roomDelete(RoomRef)
    case roomMembers(MembersQuery)
    case roomMembersAdd(MembersAddInput)
    case roomMembersRemove(MemberRemoveInput)
    case roomRole(RoleInput)
    case roomBan(BanInput)
    case roomUnban(MemberRef)
    case roomMute(MuteInput)
    case roomUnmute(MemberRef)
    case roomInvite(InviteInput)
    case inviteAccept(InviteCode)
    case messageEdit(EditBody)
    case messageDelete(MessageRef)
    case reactionAdd(ReactionBody)
    case reactionRemove(ReactionBody)
    case messagePin(PinBody)

    /// The events that store a message: their acks keep the order of the sends.
    static func isSend(_ type: String) -> Bool { type == "message:send" || type == "message:private" }

    /// Decodes the event named `type` with its `data` from a frame's container.
    /// `bad_request` for an unknown event, a missing `data`, or a field of the wrong
    /// type (`{"$gt": ""}` where a string belongs), naming the field.
    init(type: String, in frame: KeyedDecodingContainer<ClientFrame.Keys>) throws {
        func data<T: Decodable>(_: T.Type = T.self) throws -> T {
            guard let d = try frame.decodeIfPresent(T.self, forKey: .data) else { throw ParleyError(.badRequest, "data is required") }
            return d
        }
        do {
            switch type {
            case "auth": self = .auth
            case "ping": self = .ping
            case "rooms:list": self = .roomsList
            case "room:create": self = .roomCreate(try data())
            case "room:join": self = .roomJoin(try data())
            case "room:leave": self = .roomLeave(try data())
            case "message:send": self = .messageSend(try data())
            case "message:private": self = .messagePrivate(try data())
            case "message:delivered": self = .messageDelivered(try data())
            case "message:read": self = .messageRead(try data())
            case "history": self = .history(try data())
            case "typing": self = .typing(try data())
            case "room:activity": self = .roomActivity(try data())
            case "presence:set": self = .presenceSet(try data())
            case "room:update": self = .roomUpdate(try data())
            case "room:delete": self = .roomDelete(try data())
            case "room:members": self = .roomMembers(try data())
            case "room:members:add": self = .roomMembersAdd(try data())
            case "room:members:remove": self = .roomMembersRemove(try data())
            case "room:role": self = .roomRole(try data())
            case "room:ban": self = .roomBan(try data())
            case "room:unban": self = .roomUnban(try data())
            case "room:mute": self = .roomMute(try data())
            case "room:unmute": self = .roomUnmute(try data())
            case "room:invite": self = .roomInvite(try data())
            case "invite:accept": self = .inviteAccept(try data())
            case "message:edit": self = .messageEdit(try data())
            case "message:delete": self = .messageDelete(try data())
            case "reaction:add": self = .reactionAdd(try data())
            case "reaction:remove": self = .reactionRemove(try data())
            case "message:pin": self = .messagePin(try data())
            default: throw ParleyError(.badRequest, "unknown event \"\(type.prefix(64))\"")
            }
        } catch let e as ParleyError {
            throw e
        } catch let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c), let DecodingError.dataCorrupted(c) {
            throw ParleyError(.badRequest, "invalid \(c.codingPath.dropFirst().map(\.stringValue).joined(separator: ".")): \(c.debugDescription)")
        } catch let DecodingError.keyNotFound(key, _) {
            throw ParleyError(.badRequest, "missing field \(key.stringValue)")
        } catch {
            throw ParleyError(.badRequest, "malformed data")
        }
    }
}

/// A client frame `{"type": EVENT, "id": ..., "data": {...}}`, decoded in one pass:
/// the envelope, and the event or why it was refused. A frame whose envelope does not
/// decode fails as a whole (`ClientFrame.id(of:)` still finds a usable `id`).
struct ClientFrame: Decodable, Sendable {
    enum Keys: String, CodingKey { case type, id, data }

    let type: String
    let id: RequestID?
    let event: Result<ClientEvent, ParleyError>

    init(type: String, id: RequestID?, event: Result<ClientEvent, ParleyError>) {
        self.type = type
        self.id = id
        self.event = event
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let type = try c.decode(String.self, forKey: .type)
        self.type = type
        id = try c.decodeIfPresent(RequestID.self, forKey: .id)
        event = Result { try ClientEvent(type: type, in: c) }.mapError { ParleyError.from($0) }
    }

    /// A native frame.
    static func decode(_ frame: Data) throws -> ClientFrame { try WireFrames.decoder.decode(ClientFrame.self, from: frame) }

    /// A Socket.IO EVENT: its name, and its first argument's raw JSON (empty: none).
    static func decode(name: String, data: Substring) throws -> ClientFrame {
        var frame = Data(#"{"type":"#.utf8)
        frame.append(contentsOf: try WireFrames.json(name))
        frame.append(contentsOf: #","data":"#.utf8)
        frame.append(contentsOf: (data.isEmpty ? "null" : data).utf8)
        frame.append(UInt8(ascii: "}"))
        return try decode(frame)
    }

    /// Only the `id` of a frame whose envelope is unusable (a `type` that is not a
    /// string, say), so its failure can still be answered as an ack.
    static func id(of frame: Data) -> RequestID? { (try? WireFrames.decoder.decode(OnlyID.self, from: frame))?.id }

    private struct OnlyID: Decodable { let id: RequestID? }
}

// MARK: Payloads of the events

/// A payload naming a room by its id string.
protocol RoomPayload {
    var roomId: String { get }
}

extension RoomPayload {
    /// The room id; a string that is not an id names no room.
    func room() throws -> ObjectId {
        guard let id = ObjectId(roomId) else { throw ParleyError(.notFound, "no such room") }
        return id
    }
}

struct RoomRef: Decodable, Sendable, RoomPayload { let roomId: String }

struct JoinBody: Decodable, Sendable, RoomPayload {
    let roomId: String
    let historyLimit: Int?
}

struct SendBody: Decodable, Sendable, RoomPayload {
    let roomId: String
    let text: String
    let clientId: String
    let replyTo: String?
    let threadId: String?
    let attachments: [String]?

    var request: MessageSender.Request {
        MessageSender.Request(text: text, clientId: clientId, replyTo: replyTo, threadId: threadId, attachments: attachments)
    }
}

struct PrivateBody: Decodable, Sendable {
    let toUserId: String
    let text: String
    let clientId: String
    let replyTo: String?
    let attachments: [String]?

    var request: MessageSender.Request {
        MessageSender.Request(text: text, clientId: clientId, replyTo: replyTo, threadId: nil, attachments: attachments)
    }
}

struct CursorBody: Decodable, Sendable, RoomPayload {
    let roomId: String
    let seq: Int
    /// The room's update sequence of the latest `message:updated` the client has
    /// (what it saw of the changes; optional).
    let updateSeq: Int?
}

/// `message:edit`.
struct EditBody: Decodable, Sendable {
    let roomId: String?
    let messageId: String
    let text: String
}

/// `message:delete`.
struct MessageRef: Decodable, Sendable {
    let roomId: String?
    let messageId: String
}

/// `reaction:add`, `reaction:remove`.
struct ReactionBody: Decodable, Sendable {
    let roomId: String?
    let messageId: String
    let emoji: String
}

/// `message:pin`.
struct PinBody: Decodable, Sendable {
    let roomId: String?
    let messageId: String
    let pinned: Bool
}

struct HistoryBody: Decodable, Sendable, RoomPayload {
    let roomId: String
    let beforeSeq: Int?
    let afterSeq: Int?
    let limit: Int?
}

struct TypingBody: Decodable, Sendable, RoomPayload {
    let roomId: String
    let isTyping: Bool
}

struct ActivityBody: Decodable, Sendable, RoomPayload {
    let roomId: String
    let kind: String
    let data: BSONValue?
}

struct PresenceBody: Decodable, Sendable { let status: PresenceStatus }

/// A member of a room, by the two ids (`room:unban`, `room:unmute`).
struct MemberRef: Decodable, Sendable, RoomPayload {
    let roomId: String
    let userId: String
}

/// `room:members`: a page of members.
struct MembersQuery: Decodable, Sendable, RoomPayload {
    let roomId: String
    let after: String?
    let limit: Int?
}

/// `invite:accept`.
struct InviteCode: Decodable, Sendable { let code: String }
