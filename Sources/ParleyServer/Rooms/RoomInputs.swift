import Foundation
import Mongo
import ParleyCore

/// What `POST /api/rooms`, `POST /api/events` and `room:create` accept.
struct CreateRoomInput: Decodable, Sendable {
    let name: String
    let kind: RoomKind?
    let topic: String?
    let `private`: Bool?
    let startsAt: Date?
    let endsAt: Date?
    /// A group conversation: created with these members. Private unless `private: false`.
    let memberIds: [String]?
    let guestAccess: Bool?

    /// The room to create; `forcing` a kind refuses a different one asked for.
    func newRoom(forcing forced: RoomKind?) throws -> RoomService.NewRoom {
        if let forced, let kind, kind != forced { throw ParleyError(.badRequest, "events are rooms of kind event") }
        let members = memberIds ?? []
        return RoomService.NewRoom(
            name: name, kind: forced ?? kind ?? .group, topic: topic, isPrivate: self.private ?? !members.isEmpty, startsAt: startsAt, endsAt: endsAt,
            memberIds: members, guestAccess: guestAccess)
    }
}

/// `PATCH /api/rooms/:roomId` and `room:update`: only the fields present change;
/// `topic: null` clears the topic.
struct RoomPatchInput: Decodable, Sendable {
    let roomId: String?
    let patch: RoomSettingsService.Patch

    enum Keys: String, CodingKey { case roomId, name, topic, `private`, archived, guestAccess }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        roomId = try c.decodeIfPresent(String.self, forKey: .roomId)
        var topic: String??
        if c.contains(.topic) { topic = try c.decodeNil(forKey: .topic) ? .some(nil) : .some(try c.decode(String.self, forKey: .topic)) }
        patch = RoomSettingsService.Patch(
            name: try c.decodeIfPresent(String.self, forKey: .name), topic: topic, isPrivate: try c.decodeIfPresent(Bool.self, forKey: .private),
            archived: try c.decodeIfPresent(Bool.self, forKey: .archived), guestAccess: try c.decodeIfPresent(Bool.self, forKey: .guestAccess))
    }
}

/// `POST /api/rooms/:roomId/members`, `room:members:add`.
struct MembersAddInput: Decodable, Sendable {
    let roomId: String?
    let userIds: [String]
    let role: String?
}

/// `DELETE /api/rooms/:roomId/members/:userId`, `room:members:remove`.
struct MemberRemoveInput: Decodable, Sendable {
    let roomId: String?
    let userId: String?
    let reason: String?
}

/// `PUT /api/rooms/:roomId/members/:userId/role`, `room:role`.
struct RoleInput: Decodable, Sendable {
    let roomId: String?
    let userId: String?
    let role: String
}

/// `POST /api/rooms/:roomId/bans`, `room:ban`; `room:unban` takes only the ids.
struct BanInput: Decodable, Sendable {
    let roomId: String?
    let userId: String
    let until: Date?
    let reason: String?
}

/// `POST /api/rooms/:roomId/mutes`, `room:mute`; `room:unmute` takes only the ids.
struct MuteInput: Decodable, Sendable {
    let roomId: String?
    let userId: String
    let until: Date?
}

/// `POST /api/rooms/:roomId/invites`.
struct InviteInput: Decodable, Sendable {
    let roomId: String?
    let maxUses: Int?
    let expiresInSeconds: Int?
}

/// A room id given in a body (WebSocket events).
extension Optional where Wrapped == String {
    func roomId() throws -> ObjectId {
        guard let s = self, let id = ObjectId(s) else { throw ParleyError(.notFound, "no such room") }
        return id
    }

    func required(_ field: String) throws -> String {
        guard let s = self else { throw ParleyError(.badRequest, "missing field \(field)") }
        return s
    }
}
