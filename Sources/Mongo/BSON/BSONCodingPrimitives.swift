// The per-type overloads Codable's container protocols require; every primitive is
// `BSONValueConvertible`, so each one stores or reads its native BSON form.

extension BSONKeyedEncoding {
    mutating func encode(_ value: Bool, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: String, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Double, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Float, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(try value.bsonValue())) }
}

extension BSONUnkeyedEncoding {
    mutating func encode(_ value: Bool) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: String) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Double) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Float) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int8) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int16) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int32) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: Int64) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt8) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt16) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt32) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
    mutating func encode(_ value: UInt64) throws { node.append(BSONEncodingNode(try value.bsonValue())) }
}

extension BSONSingleValueEncoding {
    mutating func encode(_ value: Bool) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: String) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: Double) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: Float) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: Int) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: Int8) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: Int16) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: Int32) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: Int64) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: UInt) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: UInt8) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: UInt16) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: UInt32) throws { node.content = .value(try value.bsonValue()) }
    mutating func encode(_ value: UInt64) throws { node.content = .value(try value.bsonValue()) }
}

extension BSONKeyedDecoding {
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decodePrimitive(type, forKey: key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decodePrimitive(type, forKey: key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decodePrimitive(type, forKey: key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decodePrimitive(type, forKey: key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decodePrimitive(type, forKey: key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decodePrimitive(type, forKey: key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decodePrimitive(type, forKey: key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decodePrimitive(type, forKey: key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decodePrimitive(type, forKey: key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decodePrimitive(type, forKey: key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decodePrimitive(type, forKey: key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decodePrimitive(type, forKey: key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decodePrimitive(type, forKey: key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decodePrimitive(type, forKey: key) }
}

extension BSONUnkeyedDecoding {
    mutating func decode(_ type: Bool.Type) throws -> Bool { try decodePrimitive(type) }
    mutating func decode(_ type: String.Type) throws -> String { try decodePrimitive(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try decodePrimitive(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try decodePrimitive(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try decodePrimitive(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try decodePrimitive(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try decodePrimitive(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try decodePrimitive(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decodePrimitive(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try decodePrimitive(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try decodePrimitive(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try decodePrimitive(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try decodePrimitive(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try decodePrimitive(type) }
}

extension BSONSingleValueDecoding {
    func decode(_ type: Bool.Type) throws -> Bool { try decodePrimitive(type) }
    func decode(_ type: String.Type) throws -> String { try decodePrimitive(type) }
    func decode(_ type: Double.Type) throws -> Double { try decodePrimitive(type) }
    func decode(_ type: Float.Type) throws -> Float { try decodePrimitive(type) }
    func decode(_ type: Int.Type) throws -> Int { try decodePrimitive(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodePrimitive(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodePrimitive(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodePrimitive(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodePrimitive(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decodePrimitive(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodePrimitive(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodePrimitive(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodePrimitive(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodePrimitive(type) }
}
