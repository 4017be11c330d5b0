import Foundation
import Hummingbird
import Mongo
import ParleyCore

extension Request {
    /// Decodes a JSON object body into `T` with the wire format, reading at most
    /// `limit` bytes. Wrong types (an object where a string belongs, as in NoSQL
    /// operator injection) and malformed JSON are `bad_request`; a larger body is
    /// `too_large`.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int, allowEmpty: Bool = false) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch {
            throw ParleyError(.tooLarge, "request body larger than \(limit) bytes")
        }
        var data = Data(buffer: buffer)
        if data.isEmpty {
            guard allowEmpty else { throw ParleyError(.badRequest, "a JSON object body is required") }
            data = Data("{}".utf8)
        }
        guard data.first(where: { !$0.isWhitespace }) == UInt8(ascii: "{") else {
            throw ParleyError(.badRequest, "the body must be a JSON object")
        }
        do {
            return try RequestDecoding.decoder.decode(T.self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ParleyError(.badRequest, "wrong type for \(RequestDecoding.path(context.codingPath))")
        } catch let DecodingError.keyNotFound(key, _) {
            throw ParleyError(.badRequest, "missing field \(key.stringValue)")
        } catch let DecodingError.dataCorrupted(context) {
            throw ParleyError(.badRequest, context.codingPath.isEmpty ? "malformed JSON" : "invalid \(RequestDecoding.path(context.codingPath))")
        } catch {
            throw ParleyError(.badRequest, "malformed JSON")
        }
    }

    /// An optional integer query parameter; `bad_request` when present but not an integer.
    func queryInt(_ name: String) throws -> Int? {
        guard let raw = uri.queryParameters.get(name) else { return nil }
        guard let v = Int(raw) else { throw ParleyError(.badRequest, "\(name) must be an integer") }
        return v
    }
}

extension UInt8 {
    fileprivate var isWhitespace: Bool { self == 0x20 || self == 0x09 || self == 0x0A || self == 0x0D }
}

enum RequestDecoding {
    static let decoder = WireFormat.makeDecoder()
    static func path(_ keys: [any CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }
}

extension ParleyRequestContext {
    /// A path parameter that must be an ObjectId. Anything else names no resource,
    /// so it is `not_found` like an unknown id.
    func objectIdParameter(_ name: String, what: String) throws -> ObjectId {
        guard let raw = parameters.get(name), let id = ObjectId(raw) else { throw ParleyError(.notFound, "no such \(what)") }
        return id
    }
}
