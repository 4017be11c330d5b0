import Foundation
import Hummingbird
import Mongo
import ParleyCore

/// `/api/users`: who is online, search, lookup, and admin-only creation.
struct UserController {
    let services: ParleyServices

    struct UsersReply: Encodable { let users: [User] }
    struct UserReply: Encodable { let user: User }

    struct NewUser: Decodable {
        let username: String
        let password: String
        let displayName: String?
        let role: UserRole?
    }

    func addRoutes(to group: RouterGroup<ParleyRequestContext>) {
        group.get("users/online") { _, _ in
            let users = try await services.repos.users.find(ids: services.presence.onlineUserIds)
            return try JSONResponse.make(UsersReply(users: users.filter { !$0.disabled }.sorted { $0.usernameLower < $1.usernameLower }.map(services.wire)))
        }
        group.get("users/search") { request, _ in
            try await search(request.uri.queryParameters.get("q"), request: request)
        }
        group.get("users/search/:query") { request, context in
            try await search(context.parameters.get("query"), request: request)
        }
        group.get("users/:userId") { _, context in
            let id = try context.objectIdParameter("userId", what: "user")
            guard let user = try await services.repos.users.find(id: id) else { throw ParleyError(.notFound, "no such user") }
            return try JSONResponse.make(UserReply(user: services.wire(user)))
        }
        group.post("users") { request, context in
            guard try context.requireUser().role == .admin else { throw ParleyError(.forbidden, "only admins may create users") }
            let body = try await request.decodeJSON(NewUser.self, limit: services.config.maxBodyBytes)
            let user = try await services.accounts.createUser(
                username: body.username, password: body.password, displayName: body.displayName, role: body.role ?? .user)
            return try JSONResponse.make(UserReply(user: services.wire(user)), status: .created)
        }
    }

    /// Case-insensitive search: username prefix matches first, then substring matches
    /// of username or display name. The query is text, never a pattern or operator.
    private func search(_ query: String?, request: Request) async throws -> Response {
        let q = (query ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...64).contains(q.unicodeScalars.count) else { throw ParleyError(.badRequest, "the search query must be 1 to 64 characters") }
        let limit = try request.queryInt("limit") ?? 20
        guard (1...50).contains(limit) else { throw ParleyError(.badRequest, "limit must be 1 to 50") }
        let users = try await services.repos.users.search(q, limit: limit)
        return try JSONResponse.make(UsersReply(users: users.map(services.wire)))
    }
}
