import Foundation
import Hummingbird
import Mongo
import ParleyCore

/// `/api/rooms` and `/api/events` (rooms of kind `event`, under their own names).
struct RoomController {
    let services: ParleyServices

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
            let id = try context.objectIdParameter("roomId", what: "room")
            let user = try context.requireUser()
            let joined = try await services.rooms.join(id, user: user)
            services.membershipEffects.joined(id, user: user, isNew: joined.newlyJoined)
            return try JSONResponse.make(["room": joined.room])
        }
        group.post("rooms/:roomId/leave") { _, context in
            let id = try context.objectIdParameter("roomId", what: "room")
            let user = try context.requireUser()
            if try await services.rooms.leave(id, user: user) { services.membershipEffects.left(id, userId: user.id) }
            return try JSONResponse.make(EmptyObject())
        }

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
        let user = try context.requireUser()
        let room = try await services.rooms.create(try body.newRoom(forcing: kind), by: user)
        if let id = ObjectId(room.id) { services.membershipEffects.created(id, by: user.id) }
        return room
    }

    private func details(_ context: ParleyRequestContext, eventsOnly: Bool) async throws -> (Room, [User]) {
        let id = try context.objectIdParameter("roomId", what: eventsOnly ? "event" : "room")
        let (room, membership) = try await services.rooms.visibleRoom(id, for: try context.requireUser())
        if eventsOnly && room.kind != .event { throw ParleyError(.notFound, "no such event") }
        return (try await services.rooms.view(room, membership: membership), try await services.rooms.participants(of: id))
    }
}

/// What `POST /api/rooms`, `POST /api/events` and `room:create` accept.
struct CreateRoomInput: Decodable {
    let name: String
    let kind: RoomKind?
    let topic: String?
    let `private`: Bool?
    let startsAt: Date?
    let endsAt: Date?

    /// The room to create; `forcing` a kind refuses a different one asked for.
    func newRoom(forcing forced: RoomKind?) throws -> RoomService.NewRoom {
        if let forced, let kind, kind != forced { throw ParleyError(.badRequest, "events are rooms of kind event") }
        return RoomService.NewRoom(
            name: name, kind: forced ?? kind ?? .group, topic: topic, isPrivate: self.private ?? false, startsAt: startsAt, endsAt: endsAt)
    }
}
