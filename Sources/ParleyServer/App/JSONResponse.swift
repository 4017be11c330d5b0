import Foundation
import Hummingbird
import ParleyCore

/// JSON responses in the wire format, with an explicit status.
enum JSONResponse {
    /// An `EncodedJSON` (a stored message's bytes) goes out as it is.
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        let data = try WireFrames.json(value)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// An empty JSON object, `{}`.
struct EmptyObject: Codable {}
