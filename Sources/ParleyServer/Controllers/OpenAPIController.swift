import Foundation
import Hummingbird
import Logging
import ParleyCore

/// `GET /openapi.yaml`: the OpenAPI 3.1 document of the REST API (`docs/openapi.yaml`),
/// read once at start. Without the file the route answers 404 and a warning is logged.
struct OpenAPIController {
    let file: String
    let logger: Logger

    func addRoutes(to router: Router<ParleyRequestContext>) {
        let document = FileManager.default.contents(atPath: file)
        if document == nil { logger.warning("OpenAPI document \(file) not found; /openapi.yaml answers 404") }
        router.get("/openapi.yaml") { _, _ -> Response in
            guard let document else { throw ParleyError(.notFound, "no OpenAPI document on this server") }
            return Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
    }
}
