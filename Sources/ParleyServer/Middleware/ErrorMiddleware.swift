import Foundation
import Hummingbird
import Mongo
import ParleyCore

/// Turns every error into the contract's `{"error":{"code","message"}}` with the
/// matching status. `rate_limited` also carries `retryAfterMs` and `Retry-After`.
/// Internal errors are logged in full and answered without details.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    struct Body: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
            let retryAfterMs: Int?
            let mutedUntil: Date?
        }
        let error: Detail
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let p = ErrorMiddleware.map(error)
            if p.code == .internal {
                context.logger.error("internal error on \(request.method) \(request.uri.path): \(error)")
            }
            return try ErrorMiddleware.response(for: p)
        }
    }

    /// The contract's error response for `error`, with `Retry-After` when it has a wait.
    static func response(for error: ParleyError, headers extra: HTTPFields = [:]) throws -> Response {
        var headers = extra
        if let ms = error.retryAfterMs { headers[.retryAfter] = String(max(1, (ms + 999) / 1000)) }
        return try JSONResponse.make(
            Body(error: .init(code: error.code.rawValue, message: error.message, retryAfterMs: error.retryAfterMs, mutedUntil: error.mutedUntil)),
            status: HTTPResponse.Status(code: error.code.httpStatus), headers: headers)
    }

    static func map(_ error: any Error) -> ParleyError {
        if let e = error as? HTTPError {
            switch e.status.code {
            case 400: return ParleyError(.badRequest, e.body ?? "bad request")
            case 401: return ParleyError(.unauthorized, e.body ?? "unauthorized")
            case 403: return ParleyError(.forbidden, e.body ?? "forbidden")
            case 404: return ParleyError(.notFound, e.body ?? "no such resource")
            case 405: return ParleyError(.methodNotAllowed, "this method is not allowed here")
            case 413: return ParleyError(.tooLarge, e.body ?? "request too large")
            case 429: return ParleyError(.rateLimited, e.body ?? "too many requests")
            case 503: return ParleyError(.unavailable, e.body ?? "unavailable")
            default: return ParleyError(.internal, "internal error")
            }
        }
        return ParleyError.from(error)
    }
}
