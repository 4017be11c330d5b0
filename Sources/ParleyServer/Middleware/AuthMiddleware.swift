import Hummingbird
import ParleyCore

/// Requires `Authorization: Bearer <jwt>` and puts the user in the context. Every
/// request re-reads the user, so a disabled account or a changed password locks out
/// existing tokens at once.
struct AuthMiddleware: RouterMiddleware {
    let auth: AuthService

    func handle(
        _ request: Request, context: ParleyRequestContext,
        next: (Request, ParleyRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization] else { throw ParleyError(.unauthorized, "missing Authorization: Bearer token") }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw ParleyError(.unauthorized, "Authorization must be Bearer <token>")
        }
        var context = context
        context.user = try await auth.authenticate(token: String(parts[1]).trimmingCharacters(in: .whitespaces))
        return try await next(request, context)
    }
}
