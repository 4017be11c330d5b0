import Foundation

/// Outside the BSON coders (for example in a JSON reply) a BSON value becomes its
/// plain JSON counterpart: ObjectIds as hex strings, datetimes as ISO-8601 strings,
/// binary as base64. Reading JSON back gives strings, numbers, booleans, arrays and
/// documents; a JSON number without a fraction becomes int64.
extension BSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        if let c = try? decoder.container(keyedBy: BSONIndexKey.self) {
            var doc = BSONDocument()
            for k in c.allKeys { doc.append(k.stringValue, try c.decode(BSONValue.self, forKey: k)) }
            self = .document(doc)
            return
        }
        if var c = try? decoder.unkeyedContainer() {
            var values: [BSONValue] = []
            while !c.isAtEnd { values.append(try c.decode(BSONValue.self)) }
            self = .array(values)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int64(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .document(let d):
            var c = encoder.container(keyedBy: BSONIndexKey.self)
            for e in d.elements { try c.encode(e.value, forKey: BSONIndexKey(stringValue: e.key)!) }
        case .array(let a):
            var c = encoder.unkeyedContainer()
            for v in a { try c.encode(v) }
        default:
            var c = encoder.singleValueContainer()
            switch self {
            case .double(let d): try c.encode(d)
            case .string(let s), .javascript(let s): try c.encode(s)
            case .binary(_, let data): try c.encode(Data(data).base64EncodedString())
            case .objectId(let o): try c.encode(o.hex)
            case .bool(let b): try c.encode(b)
            case .datetime: try c.encode(dateValue!.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)))
            case .null, .minKey, .maxKey: try c.encodeNil()
            case .regex(let p, let o): try c.encode("/\(p)/\(o)")
            case .int32(let v): try c.encode(v)
            case .timestamp(let t, let i): try c.encode(UInt64(t) << 32 | UInt64(i))
            case .int64(let v): try c.encode(v)
            case .decimal128(let raw): try c.encode(raw.map { String(format: "%02x", $0) }.joined())
            case .document, .array: break
            }
        }
    }
}

extension BSONDocument: Codable {
    public init(from decoder: any Decoder) throws {
        guard case .document(let d) = try BSONValue(from: decoder) else {
            throw DecodingError.typeMismatch(BSONDocument.self, .init(codingPath: decoder.codingPath, debugDescription: "expected an object"))
        }
        self = d
    }

    public func encode(to encoder: any Encoder) throws { try BSONValue.document(self).encode(to: encoder) }
}
