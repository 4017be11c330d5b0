import Foundation

/// A Swift type with a direct BSON form. The Codable coders store these natively
/// instead of going through `encode(to:)`, which is how ObjectId becomes a BSON
/// ObjectId and Date a BSON datetime rather than a string or a number.
public protocol BSONValueConvertible {
    /// The BSON form of the value.
    func bsonValue() throws -> BSONValue
    /// Reads the value back; throws `MongoError.invalidDocument` for the wrong type.
    init(bsonValue: BSONValue) throws
}

private func mismatch(_ type: Any.Type, _ v: BSONValue) -> MongoError {
    .invalidDocument("expected \(type), found BSON type 0x\(String(v.typeByte, radix: 16))")
}

extension String: BSONValueConvertible {
    public func bsonValue() -> BSONValue { .string(self) }
    public init(bsonValue v: BSONValue) throws {
        guard case .string(let s) = v else { throw mismatch(String.self, v) }
        self = s
    }
}

extension Bool: BSONValueConvertible {
    public func bsonValue() -> BSONValue { .bool(self) }
    public init(bsonValue v: BSONValue) throws {
        guard case .bool(let b) = v else { throw mismatch(Bool.self, v) }
        self = b
    }
}

extension Double: BSONValueConvertible {
    public func bsonValue() -> BSONValue { .double(self) }
    public init(bsonValue v: BSONValue) throws {
        guard let d = v.doubleValue else { throw mismatch(Double.self, v) }
        self = d
    }
}

extension Float: BSONValueConvertible {
    public func bsonValue() -> BSONValue { .double(Double(self)) }
    public init(bsonValue v: BSONValue) throws {
        guard let d = v.doubleValue else { throw mismatch(Float.self, v) }
        self = Float(d)
    }
}

/// Integers: up to 32 bits are stored as int32, wider ones as int64. Any numeric BSON
/// value that fits exactly is accepted when reading, since the shell and other
/// drivers write numbers in whichever width they like.
private protocol BSONInteger: FixedWidthInteger {}
extension BSONInteger {
    fileprivate func integerBSON() throws -> BSONValue {
        if Self.bitWidth <= 32 || Self.self == UInt32.self {
            if let v = Int32(exactly: self) { return .int32(v) }
        }
        guard let v = Int64(exactly: self) else { throw MongoError.invalidDocument("\(self) does not fit in int64") }
        return .int64(v)
    }
    fileprivate init(integerBSON v: BSONValue) throws {
        guard let wide = v.int64Value, let n = Self(exactly: wide) else { throw mismatch(Self.self, v) }
        self = n
    }
}

extension Int: BSONValueConvertible, BSONInteger {
    /// `Int` is always int64, so a field keeps one width whatever its value.
    public func bsonValue() -> BSONValue { .int64(Int64(self)) }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}
extension Int64: BSONValueConvertible, BSONInteger {
    public func bsonValue() -> BSONValue { .int64(self) }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}
extension Int32: BSONValueConvertible, BSONInteger {
    public func bsonValue() -> BSONValue { .int32(self) }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}
extension Int16: BSONValueConvertible, BSONInteger {
    public func bsonValue() throws -> BSONValue { try integerBSON() }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}
extension Int8: BSONValueConvertible, BSONInteger {
    public func bsonValue() throws -> BSONValue { try integerBSON() }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}
extension UInt: BSONValueConvertible, BSONInteger {
    public func bsonValue() throws -> BSONValue { try integerBSON() }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}
extension UInt64: BSONValueConvertible, BSONInteger {
    public func bsonValue() throws -> BSONValue { try integerBSON() }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}
extension UInt32: BSONValueConvertible, BSONInteger {
    public func bsonValue() throws -> BSONValue { try integerBSON() }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}
extension UInt16: BSONValueConvertible, BSONInteger {
    public func bsonValue() throws -> BSONValue { try integerBSON() }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}
extension UInt8: BSONValueConvertible, BSONInteger {
    public func bsonValue() throws -> BSONValue { try integerBSON() }
    public init(bsonValue v: BSONValue) throws { try self.init(integerBSON: v) }
}

extension ObjectId: BSONValueConvertible {
    public func bsonValue() -> BSONValue { .objectId(self) }
    public init(bsonValue v: BSONValue) throws {
        guard case .objectId(let o) = v else { throw mismatch(ObjectId.self, v) }
        self = o
    }
}

extension Date: BSONValueConvertible {
    /// Dates are BSON datetimes: milliseconds, so sub-millisecond precision is dropped.
    public func bsonValue() -> BSONValue { .date(self) }
    public init(bsonValue v: BSONValue) throws {
        guard let d = v.dateValue else { throw mismatch(Date.self, v) }
        self = d
    }
}

extension Data: BSONValueConvertible {
    public func bsonValue() -> BSONValue { .binary(subtype: 0, data: Array(self)) }
    public init(bsonValue v: BSONValue) throws {
        guard case .binary(_, let data) = v else { throw mismatch(Data.self, v) }
        self = Data(data)
    }
}

extension UUID: BSONValueConvertible {
    /// UUIDs use binary subtype 4, the standard representation.
    public func bsonValue() -> BSONValue { .binary(subtype: 4, data: withUnsafeBytes(of: uuid) { Array($0) }) }
    public init(bsonValue v: BSONValue) throws {
        guard case .binary(4, let d) = v, d.count == 16 else { throw mismatch(UUID.self, v) }
        self = UUID(uuid: (d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]))
    }
}

extension BSONDocument: BSONValueConvertible {
    public func bsonValue() -> BSONValue { .document(self) }
    public init(bsonValue v: BSONValue) throws {
        guard case .document(let d) = v else { throw mismatch(BSONDocument.self, v) }
        self = d
    }
}

extension BSONValue: BSONValueConvertible {
    public func bsonValue() -> BSONValue { self }
    public init(bsonValue v: BSONValue) { self = v }
}
