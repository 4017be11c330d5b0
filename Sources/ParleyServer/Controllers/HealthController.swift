import Foundation
import Hummingbird
import Mongo

/// `GET /healthz`: `{"status":"ok","database":"ok"}`, or 503 with the database marked
/// `unreachable` when a ping fails, so load balancers take the node out of rotation.
struct HealthController {
    let database: MongoDatabase

    struct Health: Encodable {
        let status: String
        let database: String
    }

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/healthz") { _, context -> Response in
            do {
                try await database.ping()
                return try JSONResponse.make(Health(status: "ok", database: "ok"))
            } catch {
                context.logger.warning("health check: database unreachable: \(error)")
                return try JSONResponse.make(Health(status: "unavailable", database: "unreachable"), status: .serviceUnavailable)
            }
        }
    }
}

/// Builds JSON responses with an explicit status; dates as ISO-8601 UTC with
/// milliseconds, as the wire contract writes them.
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)))
        }
        return e
    }()

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
