import Hummingbird
import ParleyCore

/// Refuses a request whose declared body is over the limit before reading it (413).
/// Bodies without a length are capped where they are read (`decodeJSON`). Uploads
/// (`POST /api/uploads`) have their own limit, kept as they stream
/// (`MAX_UPLOAD_BYTES`).
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .post, request.uri.path == "/api/uploads" { return try await next(request, context) }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw ParleyError(.tooLarge, "request body larger than \(limit) bytes")
        }
        return try await next(request, context)
    }
}
