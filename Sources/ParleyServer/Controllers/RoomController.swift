import Foundation
import Hummingbird
import Mongo
import ParleyCore

/// `/api/rooms` and `/api/events` (rooms of kind `event`, under their own names):
/// rooms, their settings and deletion, members, roles, bans, mutes, invites and the
/// audit trail; `/api/invites/:code` to accept or revoke an invite.
struct RoomController {
    let services: ParleyServices
    private var actions: RoomActions { RoomActions(services: services) }

    func addRoutes(to group: RouterGroup<ParleyRequestContext>) {
        group.get("rooms") { _, context in
            let rooms = try await services.rooms.rooms(for: try context.requireUser())
            return try JSONResponse.make(["rooms": rooms])
        }
        group.post("rooms") { request, context in
            let room = try await create(request, context: context, forcing: nil)
            return try JSONResponse.make(["room": room], status: .created)
        }
        group.get("rooms/:roomId") { _, context in
            let (room, participants) = try await details(context, eventsOnly: false)
            return try JSONResponse.make(RoomDetails(room: room, participants: participants))
        }
        group.post("rooms/:roomId/join") { _, context in
            let room = try await actions.join(try roomId(context), user: try context.requireUser())
            return try JSONResponse.make(["room": room])
        }
        group.post("rooms/:roomId/leave") { _, context in
            try await actions.leave(try roomId(context), user: try context.requireUser())
            return try JSONResponse.make(EmptyObject())
        }
        group.patch("rooms/:roomId") { request, context in
            let body = try await request.decodeJSON(RoomPatchInput.self, limit: services.config.maxBodyBytes)
            return try JSONResponse.make(try await actions.update(try roomId(context), body.patch, user: try context.requireUser()))
        }
        group.delete("rooms/:roomId") { _, context in
            try await actions.delete(try roomId(context), user: try context.requireUser())
            return Response(status: .noContent)
        }
        addMemberRoutes(to: group)
        addModerationRoutes(to: group)

        group.get("events") { _, context in
            let events = try await services.rooms.rooms(for: try context.requireUser(), kind: .event)
            return try JSONResponse.make(["events": events])
        }
        group.get("events/:roomId") { _, context in
            let (event, participants) = try await details(context, eventsOnly: true)
            return try JSONResponse.make(EventDetails(event: event, participants: participants))
        }
        group.post("events") { request, context in
            let event = try await create(request, context: context, forcing: .event)
            return try JSONResponse.make(["event": event], status: .created)
        }
    }

    private func addMemberRoutes(to group: RouterGroup<ParleyRequestContext>) {
        group.get("rooms/:roomId/members") { request, context in
            let page = try await actions.members(
                try roomId(context), after: request.uri.queryParameters.get("after"), limit: try request.queryInt("limit"),
                user: try context.requireUser())
            return try JSONResponse.make(page)
        }
        group.post("rooms/:roomId/members") { request, context in
            let body = try await request.decodeJSON(MembersAddInput.self, limit: services.config.maxBodyBytes)
            return try JSONResponse.make(try await actions.addMembers(try roomId(context), body, user: try context.requireUser()))
        }
        group.delete("rooms/:roomId/members/:userId") { request, context in
            let body = try await request.decodeJSON(MemberRemoveInput.self, limit: services.config.maxBodyBytes, allowEmpty: true)
            let reason = body.reason ?? request.uri.queryParameters.get("reason")
            try await actions.removeMember(try roomId(context), userId: try userId(context), reason: reason, user: try context.requireUser())
            return try JSONResponse.make(EmptyObject())
        }
        group.put("rooms/:roomId/members/:userId/role") { request, context in
            let body = try await request.decodeJSON(RoleInput.self, limit: services.config.maxBodyBytes)
            return try JSONResponse.make(
                try await actions.setRole(try roomId(context), userId: try userId(context), role: body.role, user: try context.requireUser()))
        }
    }

    private func addModerationRoutes(to group: RouterGroup<ParleyRequestContext>) {
        group.get("rooms/:roomId/bans") { _, context in
            try JSONResponse.make(try await actions.bans(try roomId(context), user: try context.requireUser()))
        }
        group.post("rooms/:roomId/bans") { request, context in
            let body = try await request.decodeJSON(BanInput.self, limit: services.config.maxBodyBytes)
            try await actions.ban(try roomId(context), body, user: try context.requireUser())
            return try JSONResponse.make(EmptyObject())
        }
        group.delete("rooms/:roomId/bans/:userId") { _, context in
            try await actions.unban(try roomId(context), userId: try userId(context), user: try context.requireUser())
            return try JSONResponse.make(EmptyObject())
        }
        group.post("rooms/:roomId/mutes") { request, context in
            let body = try await request.decodeJSON(MuteInput.self, limit: services.config.maxBodyBytes)
            _ = try await actions.mute(try roomId(context), body, user: try context.requireUser())
            return try JSONResponse.make(EmptyObject())
        }
        group.delete("rooms/:roomId/mutes/:userId") { _, context in
            _ = try await actions.unmute(try roomId(context), userId: try userId(context), user: try context.requireUser())
            return try JSONResponse.make(EmptyObject())
        }
        group.get("rooms/:roomId/invites") { _, context in
            try JSONResponse.make(try await actions.invites(try roomId(context), user: try context.requireUser()))
        }
        group.post("rooms/:roomId/invites") { request, context in
            let body = try await request.decodeJSON(InviteInput.self, limit: services.config.maxBodyBytes, allowEmpty: true)
            return try JSONResponse.make(try await actions.createInvite(try roomId(context), body, user: try context.requireUser()), status: .created)
        }
        group.post("invites/:code/accept") { _, context in
            try JSONResponse.make(try await actions.acceptInvite(context.parameters.get("code") ?? "", user: try context.requireUser()))
        }
        group.delete("invites/:code") { _, context in
            try await actions.revokeInvite(context.parameters.get("code") ?? "", user: try context.requireUser())
            return Response(status: .noContent)
        }
        group.get("rooms/:roomId/audit") { request, context in
            let page = try await actions.audit(
                try roomId(context), before: request.uri.queryParameters.get("before"), limit: try request.queryInt("limit"),
                user: try context.requireUser())
            return try JSONResponse.make(page)
        }
    }

    private func roomId(_ context: ParleyRequestContext) throws -> ObjectId { try context.objectIdParameter("roomId", what: "room") }

    private func userId(_ context: ParleyRequestContext) throws -> String {
        guard let raw = context.parameters.get("userId") else { throw ParleyError(.notFound, "no such member") }
        return raw
    }

    struct RoomDetails: Encodable {
        let room: Room
        let participants: [User]
    }

    struct EventDetails: Encodable {
        let event: Room
        let participants: [User]
    }

    private func create(_ request: Request, context: ParleyRequestContext, forcing kind: RoomKind?) async throws -> Room {
        let body = try await request.decodeJSON(CreateRoomInput.self, limit: services.config.maxBodyBytes)
        return try await actions.create(body, forcing: kind, user: try context.requireUser())
    }

    private func details(_ context: ParleyRequestContext, eventsOnly: Bool) async throws -> (Room, [User]) {
        let id = try context.objectIdParameter("roomId", what: eventsOnly ? "event" : "room")
        let (room, membership) = try await services.rooms.visibleRoom(id, for: try context.requireUser())
        if eventsOnly && room.kind != .event { throw ParleyError(.notFound, "no such event") }
        return (try await services.rooms.view(room, membership: membership), try await services.rooms.participants(of: id))
    }
}
