import Foundation

/// One BSON value. The cases mirror the BSON types Parley reads and writes; the
/// deprecated types (undefined, DBPointer, symbol, code with scope) are rejected
/// when read, since nothing in Parley stores them.
public enum BSONValue: Sendable, Hashable {
    case double(Double)
    case string(String)
    case document(BSONDocument)
    case array([BSONValue])
    case binary(subtype: UInt8, data: [UInt8])
    case objectId(ObjectId)
    case bool(Bool)
    /// Milliseconds since the Unix epoch, as BSON stores dates.
    case datetime(Int64)
    case null
    case regex(pattern: String, options: String)
    case javascript(String)
    case int32(Int32)
    /// A replication timestamp: `(t, i)` as the server writes them.
    case timestamp(t: UInt32, i: UInt32)
    case int64(Int64)
    /// The 16 raw little-endian bytes of an IEEE 754-2008 decimal128.
    case decimal128([UInt8])
    case minKey
    case maxKey

    /// The value as a `Date`, when it is a BSON datetime.
    public var dateValue: Date? {
        if case .datetime(let ms) = self { return Date(timeIntervalSince1970: Double(ms) / 1000) }
        return nil
    }

    /// Any numeric value as an `Int64`, when it is one exactly.
    public var int64Value: Int64? {
        switch self {
        case .int32(let v): return Int64(v)
        case .int64(let v): return v
        case .double(let d): return Int64(exactly: d)
        default: return nil
        }
    }

    /// Any numeric value as a `Double`.
    public var doubleValue: Double? {
        switch self {
        case .int32(let v): return Double(v)
        case .int64(let v): return Double(v)
        case .double(let d): return d
        default: return nil
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var documentValue: BSONDocument? { if case .document(let d) = self { return d }; return nil }
    public var arrayValue: [BSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var objectIdValue: ObjectId? { if case .objectId(let o) = self { return o }; return nil }

    /// A datetime from a `Date`, truncated to the millisecond as BSON keeps it.
    public static func date(_ date: Date) -> BSONValue {
        .datetime(Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// The BSON type byte.
    var typeByte: UInt8 {
        switch self {
        case .double: 0x01
        case .string: 0x02
        case .document: 0x03
        case .array: 0x04
        case .binary: 0x05
        case .objectId: 0x07
        case .bool: 0x08
        case .datetime: 0x09
        case .null: 0x0A
        case .regex: 0x0B
        case .javascript: 0x0D
        case .int32: 0x10
        case .timestamp: 0x11
        case .int64: 0x12
        case .decimal128: 0x13
        case .minKey: 0xFF
        case .maxKey: 0x7F
        }
    }
}

extension BSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    /// Integer literals are 64-bit, as the encoder writes every Swift `Int`.
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: BSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, BSONValue)...) { self = .document(BSONDocument(elements)) }
    public init(nilLiteral: ()) { self = .null }
}

extension Date {
    /// This instant as BSON stores it: truncated to the millisecond. Records made in
    /// memory use it, so what a caller is told equals what is read back later.
    public var bsonPrecision: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000) }
}
