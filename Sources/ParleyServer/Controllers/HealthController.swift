import Foundation
import Hummingbird
import Mongo

/// `GET /healthz`: `{"status":"ok","database":"ok"}`, or 503 with the database marked
/// `unreachable` when a ping fails or does not answer within `timeout`, so load
/// balancers take the node out of rotation, and never wait on a hung database.
struct HealthController {
    let database: MongoDatabase
    let timeout: Duration

    struct Health: Encodable {
        let status: String
        let database: String
    }

    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/healthz") { _, context -> Response in
            do {
                try await database.ping(timeout: timeout)
                return try JSONResponse.make(Health(status: "ok", database: "ok"))
            } catch {
                context.logger.warning("health check: database unreachable: \(error)")
                return try JSONResponse.make(Health(status: "unavailable", database: "unreachable"), status: .serviceUnavailable)
            }
        }
    }
}
