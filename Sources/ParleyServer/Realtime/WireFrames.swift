import Foundation
import NIOCore
import ParleyCore
import Synchronization

/// A request id as the client sent it (a string or a number), echoed back verbatim.
enum RequestID: Codable, Sendable, Equatable {
    case string(String)
    case number(Double)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            guard s.utf8.count <= 128 else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "id too long") }
            self = .string(s)
        } else {
            self = .number(try c.decode(Double.self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .number(let d):
            if let i = Int64(exactly: d) { try c.encode(i) } else { try c.encode(d) }
        }
    }
}

/// Builds the server's frames. JSON for `data` is encoded once; the envelope is
/// assembled around those bytes.
enum WireFrames {
    static let encoder = WireFormat.makeEncoder()
    static let decoder = WireFormat.makeDecoder()

    /// The JSON of `value`; an `EncodedJSON` is its own bytes, not encoded again.
    static func json(_ value: some Encodable) throws -> [UInt8] {
        if let encoded = value as? EncodedJSON { return encoded.bytes }
        return Array(try encoder.encode(value))
    }

    /// The `{"message":...}` of a stored message, the same bytes for its push and its
    /// ack: made by whichever goes first (`WireBytes`).
    static func message(_ record: MessageRecord, in slot: WireBytes) throws -> EncodedJSON {
        EncodedJSON(bytes: try slot.get { try MessageJSON.reply(record) })
    }

    /// `{"type":"ack","id":ID,"ok":true,"data":{...}}`
    static func ack(id: RequestID, data: some Encodable) throws -> ByteBuffer {
        var b = ByteBuffer()
        b.writeString(#"{"type":"ack","id":"#)
        b.writeBytes(try json(id))
        b.writeString(#","ok":true,"data":"#)
        b.writeBytes(try json(data))
        b.writeString("}")
        return b
    }

    /// `{"type":"ack","id":ID,"ok":false,"error":{...}}`
    static func ackError(id: RequestID, _ error: ParleyError) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeString(#"{"type":"ack","id":"#)
        b.writeBytes((try? json(id)) ?? Array("null".utf8))
        b.writeString(#","ok":false,"error":"#)
        b.writeBytes(errorBody(error))
        b.writeString("}")
        return b
    }

    /// `{"type":"error","error":{...}}`, for an error not tied to a request.
    static func error(_ error: ParleyError) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeString(#"{"type":"error","error":"#)
        b.writeBytes(errorBody(error))
        b.writeString("}")
        return b
    }

    struct ErrorBody: Encodable {
        let code: String
        let message: String
        let retryAfterMs: Int?
        let mutedUntil: Date?
    }

    static func errorBody(_ e: ParleyError) -> [UInt8] {
        (try? json(ErrorBody(code: e.code.rawValue, message: e.message, retryAfterMs: e.retryAfterMs, mutedUntil: e.mutedUntil))) ?? Array(#"{"code":"internal","message":"internal error"}"#.utf8)
    }
}

/// JSON already encoded, placed as it is where a frame's `data` goes
/// (`WireFrames.json`). It cannot sit inside another encoded value.
struct EncodedJSON: Encodable, Sendable {
    let bytes: [UInt8]

    func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(bytes, .init(codingPath: encoder.codingPath, debugDescription: "pre-encoded JSON is a frame's whole data, never nested"))
    }
}

/// A server push, encoded once and shared by every recipient: the `data` JSON is
/// made once, and each transport's envelope around it once (Socket.IO's on first use).
final class PushFrame: Sendable {
    let type: String
    let data: [UInt8]
    /// `{"type":TYPE,"data":DATA}`: the native `/ws` frame.
    let native: ByteBuffer
    private let cache = Mutex(Cache())

    private struct Cache {
        var socketIO: ByteBuffer?
        var parsed: JSONValue?
    }

    /// `data` parsed, once for every dialect connection that reshapes it.
    var parsed: JSONValue {
        if let p = cache.withLock({ $0.parsed }) { return p }
        let p = JSONValue.parse(data) ?? .null
        cache.withLock { $0.parsed = p }
        return p
    }

    /// `42["TYPE",DATA]`: an Engine.IO message carrying a Socket.IO EVENT.
    var socketIO: ByteBuffer {
        cache.withLock { c in
            if let cached = c.socketIO { return cached }
            var b = ByteBuffer()
            b.reserveCapacity(data.count + type.utf8.count + 8)
            b.writeString(#"42[""#)
            b.writeString(type)
            b.writeString(#"","#)
            b.writeBytes(data)
            b.writeString("]")
            c.socketIO = b
            return b
        }
    }

    convenience init(type: String, data: some Encodable) throws {
        self.init(type: type, json: try WireFrames.json(data))
    }

    init(type: String, json data: [UInt8]) {
        self.type = type
        self.data = data
        var b = ByteBuffer()
        b.reserveCapacity(self.data.count + type.utf8.count + 20)
        b.writeString(#"{"type":""#)
        b.writeString(type)
        b.writeString(#"","data":"#)
        b.writeBytes(self.data)
        b.writeString("}")
        native = b
    }
}

/// How a transport frames what the session sends: acks, errors and pushes.
protocol WireDialect: Sendable {
    /// Dialects hold nothing: a session makes its dialect when it frames a reply.
    init()
    func ack(id: RequestID, data: some Encodable) throws -> ByteBuffer
    func ackError(id: RequestID, _ error: ParleyError) -> ByteBuffer
    func error(_ error: ParleyError) -> ByteBuffer
}

/// The native `/ws` framing of the contract.
struct NativeDialect: WireDialect {
    func ack(id: RequestID, data: some Encodable) throws -> ByteBuffer { try WireFrames.ack(id: id, data: data) }
    func ackError(id: RequestID, _ error: ParleyError) -> ByteBuffer { WireFrames.ackError(id: id, error) }
    func error(_ error: ParleyError) -> ByteBuffer { WireFrames.error(error) }
}
