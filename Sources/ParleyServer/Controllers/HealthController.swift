import Foundation
import Hummingbird
import Mongo

/// `GET /healthz`: `{"status":"ok","database":"ok","node":ID,"nodes":N}`, or 503 with
/// the database marked `unreachable` when a ping fails or does not answer within
/// `timeout`, so load balancers take the node out of rotation, and never wait on a
/// hung database. In a cluster it is also 503 (`"cluster":"unavailable"`) while the
/// node's change stream is not open (it would not see the other nodes) and for two
/// heartbeats after the start (until the others have heard it: `Cluster.isReady`).
struct HealthController {
    let database: MongoDatabase
    let cluster: Cluster?
    let timeout: Duration

    struct Health: Encodable {
        let status: String
        let database: String
        /// This node's id and how many nodes are alive (this one included); absent
        /// outside a cluster.
        let node: String?
        let nodes: Int?
        /// `ok`, or `unavailable` while the change stream is not open.
        let cluster: String?
    }

    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/healthz") { _, context -> Response in
            let node = cluster?.settings.node, nodes = cluster?.nodeCount
            do {
                try await database.ping(timeout: timeout)
            } catch {
                context.logger.warning("health check: database unreachable: \(error)")
                return try JSONResponse.make(
                    Health(status: "unavailable", database: "unreachable", node: node, nodes: nodes, cluster: cluster.map { _ in "unavailable" }),
                    status: .serviceUnavailable)
            }
            if let cluster, !cluster.isReady {
                return try JSONResponse.make(
                    Health(status: "unavailable", database: "ok", node: node, nodes: nodes, cluster: "unavailable"), status: .serviceUnavailable)
            }
            return try JSONResponse.make(Health(status: "ok", database: "ok", node: node, nodes: nodes, cluster: cluster.map { _ in "ok" }))
        }
    }
}
