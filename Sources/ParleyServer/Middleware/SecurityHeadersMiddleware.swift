import HTTPTypes
import Hummingbird

/// Security headers on every response. The content security policy lets the web page
/// load only its own scripts and styles and talk only to this server (HTTP and
/// WebSocket); images may also be `blob:` URLs (attachments, fetched with the token);
/// nothing may frame it.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var contentSecurityPolicy: String {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; "
            + "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.cacheControl] = response.headers[.cacheControl] ?? "no-store"
        return response
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
}
