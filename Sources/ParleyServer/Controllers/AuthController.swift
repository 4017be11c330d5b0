import Hummingbird
import ParleyCore

/// `POST /api/auth/register`, `POST /api/auth/login`, `POST /api/auth/guest`,
/// `GET /api/auth/profile` (and the same under `/auth`, the hangout dialect's paths).
struct AuthController {
    let services: ParleyServices

    struct Credentials: Decodable {
        let username: String
        let password: String
        let displayName: String?
    }

    struct TokenReply: Encodable {
        let token: String
        let user: User
    }

    struct UserReply: Encodable { let user: User }

    struct GuestBody: Decodable { let displayName: String }

    func addRoutes(to group: RouterGroup<ParleyRequestContext>, authenticated: RouterGroup<ParleyRequestContext>) {
        group.post("auth/register") { request, context in
            let body = try await request.decodeJSON(Credentials.self, limit: services.config.maxBodyBytes)
            try limitAttempts(context: context, username: body.username)
            let (token, user) = try await services.auth.register(username: body.username, password: body.password, displayName: body.displayName)
            return try JSONResponse.make(TokenReply(token: token, user: services.wire(user)), status: .created)
        }
        group.post("auth/login") { request, context in
            let body = try await request.decodeJSON(Credentials.self, limit: services.config.maxBodyBytes)
            try limitAttempts(context: context, username: body.username)
            let (token, user) = try await services.auth.login(username: body.username, password: body.password)
            return try JSONResponse.make(TokenReply(token: token, user: services.wire(user)))
        }
        group.post("auth/guest") { request, context in
            guard services.config.guestAccess else { throw ParleyError(.forbidden, "guest access is off on this server") }
            let body = try await request.decodeJSON(GuestBody.self, limit: services.config.maxBodyBytes)
            try services.authByIP.consume(context.clientIP)
            let (token, user) = try await services.auth.guest(displayName: body.displayName, ttl: services.config.guestTTL)
            return try JSONResponse.make(TokenReply(token: token, user: services.wire(user)), status: .created)
        }
        authenticated.get("auth/profile") { _, context in
            try JSONResponse.make(UserReply(user: services.wire(try context.requireUser())))
        }
    }

    /// Counts an attempt against the client's IP and against the username, so neither
    /// one address nor a distributed guess at one account gets far.
    private func limitAttempts(context: ParleyRequestContext, username: String) throws {
        try services.authByIP.consume(context.clientIP)
        try services.authByUsername.consume(String(username.lowercased().prefix(64)))
    }
}
