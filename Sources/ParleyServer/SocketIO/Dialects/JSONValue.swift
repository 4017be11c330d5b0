import Foundation
import ParleyCore

/// Any JSON value: how a dialect reads the payloads its clients send, whatever
/// their shape (a bare id, `{user, text}`), and builds the ones they expect.
enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d):
            if let i = Int64(exactly: d) { try c.encode(i) } else { try c.encode(d) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Parses JSON text; nil when it is not JSON.
    static func parse(_ bytes: some Collection<UInt8>) -> JSONValue? {
        try? WireFrames.decoder.decode(JSONValue.self, from: Data(bytes))
    }

    /// An encodable value (a reply, a room) as JSON, to reshape.
    init(encoding value: some Encodable) throws {
        guard let v = JSONValue.parse(try WireFrames.json(value)) else { throw ParleyError(.internal, "reply is not JSON") }
        self = v
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    var int: Int? {
        if case .number(let d) = self, let i = Int(exactly: d) { return i }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var object: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// This object with `extra`'s keys added (or replaced).
    func merging(_ extra: [String: JSONValue]) -> JSONValue {
        .object((object ?? [:]).merging(extra) { _, new in new })
    }

    /// The first of `keys` holding a string: dialects name the same thing differently
    /// (`text` or `message`, `roomId` or `room`).
    func string(_ keys: String...) -> String? {
        for k in keys { if let s = self[k]?.string { return s } }
        return nil
    }
}
