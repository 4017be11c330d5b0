import Foundation

/// Decodes `Decodable` values from BSON. Numbers are read from whichever numeric BSON
/// type holds them when the value fits exactly; a missing or null field decodes as
/// `nil` for optionals and as a `keyNotFound`/`valueNotFound` error otherwise.
public struct BSONDecoder: Sendable {
    public init() {}

    /// Decodes `T` from a document.
    public func decode<T: Decodable>(_ type: T.Type, from document: BSONDocument) throws -> T {
        try decode(type, fromValue: .document(document))
    }

    /// Decodes `T` from any BSON value.
    public func decode<T: Decodable>(_ type: T.Type, fromValue value: BSONValue) throws -> T {
        try BSONDecoderImpl(value: value, codingPath: []).decodeAny(type)
    }
}

struct BSONDecoderImpl: Decoder {
    let value: BSONValue
    /// The path to `value`'s container, and `value`'s key in it. The two are joined
    /// only when asked (an error, a nested container): a field decodes without
    /// allocating its path, which was most of a message document's allocations.
    private let parentPath: [any CodingKey]
    private let key: (any CodingKey)?
    var codingPath: [any CodingKey] { key.map { parentPath + [$0] } ?? parentPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(value: BSONValue, codingPath: [any CodingKey]) {
        self.value = value
        parentPath = codingPath
        key = nil
    }

    init(value: BSONValue, in parentPath: [any CodingKey], at key: any CodingKey) {
        self.value = value
        self.parentPath = parentPath
        self.key = key
    }

    func decodeAny<T: Decodable>(_ type: T.Type) throws -> T {
        if let direct = type as? any BSONValueConvertible.Type {
            do {
                return try direct.init(bsonValue: value) as! T
            } catch let e as MongoError {
                throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: e.message))
            }
        }
        return try T(from: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .document(let doc) = value else {
            throw DecodingError.typeMismatch(BSONDocument.self, .init(codingPath: codingPath, debugDescription: "expected a document"))
        }
        return KeyedDecodingContainer(BSONKeyedDecoding<Key>(document: doc, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let values) = value else {
            throw DecodingError.typeMismatch([BSONValue].self, .init(codingPath: codingPath, debugDescription: "expected an array"))
        }
        return BSONUnkeyedDecoding(values: values, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        BSONSingleValueDecoding(decoder: self)
    }
}

struct BSONKeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let document: BSONDocument
    let codingPath: [any CodingKey]

    var allKeys: [Key] { document.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { document[key.stringValue] != nil }

    private func value(for key: Key) throws -> BSONValue {
        guard let v = document[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no field \"\(key.stringValue)\""))
        }
        return v
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let v = document[key.stringValue] else { return true }
        return v == .null
    }

    func decodePrimitive<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decode(type, forKey: key)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let v = try value(for: key)
        if v == .null, !(type is BSONValue.Type) {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "field is null"))
        }
        return try BSONDecoderImpl(value: v, in: codingPath, at: key).decodeAny(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try BSONDecoderImpl(value: value(for: key), in: codingPath, at: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try BSONDecoderImpl(value: value(for: key), in: codingPath, at: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        BSONDecoderImpl(value: document["super"] ?? .null, codingPath: codingPath)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        BSONDecoderImpl(value: document[key.stringValue] ?? .null, in: codingPath, at: key)
    }
}

struct BSONUnkeyedDecoding: UnkeyedDecodingContainer {
    let values: [BSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(values: [BSONValue], codingPath: [any CodingKey]) {
        self.values = values
        self.codingPath = codingPath
    }

    var count: Int? { values.count }
    var isAtEnd: Bool { currentIndex >= values.count }

    private func next(_ type: Any.Type) throws -> BSONValue {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "array exhausted"))
        }
        return values[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard try next(Never.self) == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decodePrimitive<T: Decodable>(_ type: T.Type) throws -> T { try decode(type) }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let v = try next(type)
        let result = try BSONDecoderImpl(value: v, in: codingPath, at: BSONIndexKey(currentIndex)).decodeAny(type)
        currentIndex += 1
        return result
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let v = try next(BSONDocument.self)
        currentIndex += 1
        return try BSONDecoderImpl(value: v, in: codingPath, at: BSONIndexKey(currentIndex - 1)).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let v = try next([BSONValue].self)
        currentIndex += 1
        return try BSONDecoderImpl(value: v, in: codingPath, at: BSONIndexKey(currentIndex - 1)).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let v = try next(BSONValue.self)
        currentIndex += 1
        return BSONDecoderImpl(value: v, in: codingPath, at: BSONIndexKey(currentIndex - 1))
    }
}

struct BSONSingleValueDecoding: SingleValueDecodingContainer {
    /// The decoder it came from, whose path is joined only when asked.
    let decoder: BSONDecoderImpl
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.value == .null }

    func decodePrimitive<T: Decodable>(_ type: T.Type) throws -> T { try decode(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeAny(type) }
}
