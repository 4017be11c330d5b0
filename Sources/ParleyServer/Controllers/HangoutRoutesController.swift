import Hummingbird
import Mongo
import ParleyCore

/// The room paths of the hangout system (`shared/seeds/003`), served beside
/// Parley's own so its front end works unchanged: `POST /rooms/room` creates a
/// room (the body of `POST /api/rooms`, 201 `{room}`) and `POST /rooms/join`
/// joins one (`{roomId}`, answered `{room, participants}`). Its `/auth/*` paths
/// are `AuthController`'s, mounted at the root too.
struct HangoutRoutesController {
    let services: ParleyServices

    struct JoinBody: Decodable { let roomId: String }

    struct Joined: Encodable {
        let room: Room
        let participants: [User]
    }

    func addRoutes(to group: RouterGroup<ParleyRequestContext>) {
        let actions = RoomActions(services: services)
        group.post("rooms/room") { request, context in
            let body = try await request.decodeJSON(CreateRoomInput.self, limit: services.config.maxBodyBytes)
            let room = try await actions.create(body, forcing: nil, user: try context.requireUser())
            return try JSONResponse.make(["room": room], status: .created)
        }
        group.post("rooms/join") { request, context in
            let body = try await request.decodeJSON(JoinBody.self, limit: services.config.maxBodyBytes)
            guard let id = ObjectId(body.roomId) else { throw ParleyError(.notFound, "no such room") }
            let room = try await actions.join(id, user: try context.requireUser())
            return try JSONResponse.make(Joined(room: room, participants: try await services.rooms.participants(of: id)))
        }
    }
}
