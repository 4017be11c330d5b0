import HTTPTypes
import Hummingbird
import ParleyCore

/// A known path asked with a method it does not serve is 405 `method_not_allowed`
/// with an `Allow` header (RFC 9110), not 404: the client learns the resource exists
/// and what it accepts. Other misses stay 404 (and reach the web page's files).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    private struct Pattern {
        let path: RouterPath
        var methods: [HTTPRequest.Method]

        /// Segment by segment, as the router matches (our routes use literals and captures).
        func matches(_ segments: [Substring]) -> Bool {
            segments.count == path.components.count && zip(path.components, segments).allSatisfy { $0 ~= $1 }
        }

        /// Where this path has literals, by position: the router takes a literal over
        /// a capture at each segment (`messages/search` before `messages/:messageId`).
        var literals: [Bool] { path.components.map { "\($0)".first != ":" && "\($0)".first != "{" } }
    }

    private let patterns: [Pattern]

    /// `routes` are the router's own (`Router.routes`), read once all are added.
    init(routes: [Router<ParleyRequestContext>.RouteDescription]) {
        var byPath: [String: Pattern] = [:]
        for route in routes {
            byPath[route.path.description, default: Pattern(path: route.path, methods: [])].methods.append(route.method)
        }
        patterns = Array(byPath.values)
    }

    /// True when `a` has a literal at the first position where the two differ.
    static func moreLiteral(_ a: [Bool], than b: [Bool]) -> Bool {
        guard let i = a.indices.first(where: { $0 < b.count && a[$0] != b[$0] }) else { return false }
        return a[i]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path.split(separator: "/")
            let matching = patterns.filter { $0.matches(path) }
            // Only the paths the router would have taken: the most literal at the first
            // segment where they differ.
            let chosen = matching.filter { p in !matching.contains { q in Self.moreLiteral(q.literals, than: p.literals) } }
            let allowed = Set(chosen.flatMap(\.methods))
            guard !allowed.isEmpty, !allowed.contains(request.method) else { throw error }
            let allow = allowed.map(\.rawValue).sorted().joined(separator: ", ")
            return try ErrorMiddleware<Context>.response(
                for: ParleyError(.methodNotAllowed, "\(request.method.rawValue) is not allowed here; use \(allow)"), headers: [.allow: allow])
        }
    }
}
