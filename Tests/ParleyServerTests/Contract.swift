import Foundation

/// The wire contract's shapes as a client reads them, written from `docs/PROTOCOL.md`
/// and not from the server's types: a field the server renames or drops fails the
/// decode here, where a cast to `[String: Any]` would quietly yield nil.
/// Timestamps stay strings (ISO 8601 with milliseconds) so tests compare them exactly.
enum Wire {
    struct Message: Decodable, Equatable {
        let id: String
        let roomId: String
        let seq: Int
        let senderId: String
        let senderName: String
        let text: String
        let clientId: String
        let createdAt: String
    }

    struct Room: Decodable, Equatable {
        let id: String
        let name: String
        let kind: String
        let topic: String?
        let `private`: Bool
        let createdBy: String
        let createdAt: String
        let memberCount: Int
        let lastSeq: Int
        let startsAt: String?
        let endsAt: String?
        let readSeq: Int?
        let deliveredSeq: Int?
        let unread: Int?
        // v2
        let archived: Bool
        let guestAccess: Bool?
        let role: String?
        let mutedUntil: String?
    }

    /// v2: a room member.
    struct Member: Decodable, Equatable {
        let user: User
        let role: String
        let joinedAt: String
        let mutedUntil: String?
    }
    struct Members: Decodable {
        let members: [Member]
        let hasMore: Bool
    }
    struct MemberData: Decodable { let member: Member }
    struct Added: Decodable {
        let room: Room
        let added: [String]
    }
    struct Removed: Decodable {
        let roomId: String
        let by: String?
        let reason: String?
    }
    struct RoleChanged: Decodable {
        let roomId: String
        let userId: String
        let role: String
    }
    struct RoomId: Decodable { let roomId: String }
    struct Invite: Decodable {
        let code: String
        let roomId: String
        let expiresAt: String
        let maxUses: Int?
        let uses: Int
    }
    struct InviteData: Decodable { let invite: Invite }
    struct Ban: Decodable {
        let userId: String
        let by: String
        let until: String?
        let reason: String?
    }
    struct Bans: Decodable { let bans: [Ban] }
    struct AuditEntry: Decodable {
        let id: String
        let roomId: String
        let actorId: String?
        let action: String
        let targetId: String?
        let reason: String?
        let at: String
    }
    struct Audit: Decodable {
        let entries: [AuditEntry]
        let hasMore: Bool
    }

    struct User: Decodable, Equatable {
        let id: String
        let username: String
        let displayName: String
        let status: String
        let online: Bool
        let lastSeenAt: String?
        let createdAt: String
    }

    struct Error: Decodable, Equatable {
        let code: String
        let message: String
        let retryAfterMs: Int?
        let mutedUntil: String?
    }

    /// `data` of `message:send`'s ack and of `message:new`.
    struct MessageData: Decodable { let message: Message }
    /// `data` of `ready`.
    struct Ready: Decodable {
        let user: User
        let rooms: [Room]
    }
    /// `data` of `sync:done`.
    struct SyncDone: Decodable {
        let rooms: Int
        let messages: Int
    }
    /// `data` of `message:status`.
    struct Status: Decodable {
        let roomId: String
        let userId: String
        let deliveredSeq: Int
        let readSeq: Int
    }
    /// `data` of `history`'s ack, and the body of `GET /api/messages/room/:id`.
    struct History: Decodable {
        let messages: [Message]
        let hasMore: Bool
    }
    /// `data` of `room:join`'s ack.
    struct Joined: Decodable {
        let room: Room
        let participants: [User]
        let history: [Message]
    }
    /// `data` of `rooms:list`'s ack, and the body of `GET /api/rooms`.
    struct Rooms: Decodable { let rooms: [Room] }
    /// `data` of `room:create`'s ack.
    struct RoomData: Decodable { let room: Room }
    /// The body of `GET /api/users/:id`.
    struct UserData: Decodable { let user: User }
    /// The body of `GET /api/users/online`.
    struct Users: Decodable { let users: [User] }
    /// `data` of `room:user:joined`.
    struct UserJoined: Decodable {
        let roomId: String
        let user: User
        let by: String?
    }
    /// `data` of `room:user:left`.
    struct UserLeft: Decodable {
        let roomId: String
        let userId: String
        let by: String?
        let reason: String?
    }
    /// `data` of `presence`.
    struct Presence: Decodable {
        let userId: String
        let status: String
        let lastSeenAt: String?
    }
    /// `data` of `typing`.
    struct Typing: Decodable {
        let roomId: String
        let userId: String
        let username: String
        let isTyping: Bool
    }
    /// The body of `GET /api/messages/conversation/:a/:b`: `roomId` null before the
    /// first message.
    struct Conversation: Decodable {
        let roomId: String?
        let messages: [Message]
        let hasMore: Bool
    }
    /// The body of `PUT /api/messages/read/:roomId`.
    struct ReadCursor: Decodable { let readSeq: Int }
    /// The body of `GET /api/messages/:id/status`.
    struct MessageStatus: Decodable {
        let messageId: String
        let seq: Int
        let deliveredTo: [String]
        let readBy: [String]
    }
    /// The body of `GET /api/rooms/:id`.
    struct RoomDetails: Decodable {
        let room: Room
        let participants: [User]
    }
    /// The body of `POST /api/events` and `GET /api/events/:id`.
    struct EventData: Decodable {
        let event: Room
        let participants: [User]?
    }
    /// The body of `GET /api/events`.
    struct Events: Decodable { let events: [Room] }
    /// The body of `POST /api/auth/register` and `/login`.
    struct Session: Decodable {
        let token: String
        let user: User
    }
}

/// One frame the server sent over `/ws`: its envelope read as the contract types it,
/// its `data` decoded into a contract shape on demand. The untyped accessors stay for
/// tests that look at fields outside the shapes above.
struct Frame {
    let raw: String
    let json: [String: Any]

    private struct Envelope: Decodable {
        let type: String
        let id: String?
        let ok: Bool?
        let error: Wire.Error?
    }

    private struct Payload<T: Decodable>: Decodable { let data: T }

    init(_ raw: String) throws {
        self.raw = raw
        guard let json = try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any] else { throw WSTestError("not a JSON object: \(raw)") }
        self.json = json
    }

    private var envelope: Envelope? { try? JSONDecoder().decode(Envelope.self, from: Data(raw.utf8)) }

    var type: String? { envelope?.type }
    /// The request id an ack answers (tests send string ids).
    var id: String? { envelope?.id }
    var ok: Bool { envelope?.ok ?? false }
    var error: Wire.Error? { envelope?.error }
    var errorCode: String? { error?.code }

    /// `data`, decoded as the contract shape `T`; a mismatch throws, naming the field.
    func data<T: Decodable>(_: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(Payload<T>.self, from: Data(raw.utf8)).data
        } catch {
            throw WSTestError("frame data is not a \(T.self): \(error); frame: \(raw.prefix(300))")
        }
    }

    /// The message of a `message:new` push or of a send's ack.
    func message() throws -> Wire.Message { try data(Wire.MessageData.self).message }

    subscript(key: String) -> Any? { json[key] }
    /// `data`, untyped.
    var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
}
