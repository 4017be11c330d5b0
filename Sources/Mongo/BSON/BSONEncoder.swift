import Foundation

/// Encodes `Encodable` values to BSON. Types that are `BSONValueConvertible`
/// (ObjectId, Date, Data, UUID, numbers, documents) are stored natively; `nil`
/// optionals are omitted, as synthesized `Codable` asks.
public struct BSONEncoder: Sendable {
    public init() {}

    /// Encodes a value that must come out as a document (a struct, class or dictionary).
    public func encode<T: Encodable>(_ value: T) throws -> BSONDocument {
        if let own = value as? any BSONDocumentEncodable { return try own.bsonDocument() }
        guard case .document(let doc) = try encodeValue(value) else {
            throw MongoError.invalidDocument("\(T.self) does not encode to a document")
        }
        return doc
    }

    /// Encodes any value, top-level scalars included.
    public func encodeValue<T: Encodable>(_ value: T) throws -> BSONValue {
        try BSONEncodingNode.encode(value, codingPath: [])
    }
}

/// A type that builds its own document, for a hot path where the Codable encoder's
/// node per field costs more than the rest of the insert's encoding (a stored
/// message, hundreds per insert). `BSONEncoder.encode` takes it at the top level.
/// Its document must be the one `encode(to:)` gives, field for field in the same
/// order: a test compares the two for each conforming type.
public protocol BSONDocumentEncodable: Encodable {
    func bsonDocument() throws -> BSONDocument
}

/// The tree built while encoding: containers hand out nodes that are filled later,
/// as `Encoder` allows nested containers to be written after they are created.
final class BSONEncodingNode {
    enum Content {
        case empty
        case value(BSONValue)
        case keyed([(String, BSONEncodingNode)])
        case unkeyed([BSONEncodingNode])
    }

    var content: Content = .empty

    init() {}
    init(_ value: BSONValue) { content = .value(value) }

    static func encode<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> BSONValue {
        if let direct = value as? any BSONValueConvertible { return try direct.bsonValue() }
        let node = BSONEncodingNode()
        try value.encode(to: BSONEncoderImpl(node: node, codingPath: codingPath))
        return node.materialize()
    }

    static func node<T: Encodable>(for value: T, codingPath: [any CodingKey]) throws -> BSONEncodingNode {
        if let direct = value as? any BSONValueConvertible { return BSONEncodingNode(try direct.bsonValue()) }
        let node = BSONEncodingNode()
        try value.encode(to: BSONEncoderImpl(node: node, codingPath: codingPath))
        return node
    }

    func materialize() -> BSONValue {
        switch content {
        case .empty: return .document(BSONDocument())
        case .value(let v): return v
        case .keyed(let pairs):
            var doc = BSONDocument()
            for (k, n) in pairs { doc[k] = n.materialize() }
            return .document(doc)
        case .unkeyed(let nodes): return .array(nodes.map { $0.materialize() })
        }
    }

    func set(_ key: String, _ node: BSONEncodingNode) {
        if case .keyed(var pairs) = content {
            content = .empty
            if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = node } else { pairs.append((key, node)) }
            content = .keyed(pairs)
        }
    }

    func append(_ node: BSONEncodingNode) {
        if case .unkeyed(var nodes) = content {
            content = .empty
            nodes.append(node)
            content = .unkeyed(nodes)
        }
    }
}

struct BSONEncoderImpl: Encoder {
    let node: BSONEncodingNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .keyed = node.content {} else { node.content = .keyed([]) }
        return KeyedEncodingContainer(BSONKeyedEncoding<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .unkeyed = node.content {} else { node.content = .unkeyed([]) }
        return BSONUnkeyedEncoding(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        BSONSingleValueEncoding(node: node, codingPath: codingPath)
    }
}

struct BSONKeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: BSONEncodingNode
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.set(key.stringValue, BSONEncodingNode(.null)) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        node.set(key.stringValue, try BSONEncodingNode.node(for: value, codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = BSONEncodingNode()
        child.content = .keyed([])
        node.set(key.stringValue, child)
        return KeyedEncodingContainer(BSONKeyedEncoding<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = BSONEncodingNode()
        child.content = .unkeyed([])
        node.set(key.stringValue, child)
        return BSONUnkeyedEncoding(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let child = BSONEncodingNode()
        node.set(key.stringValue, child)
        return BSONEncoderImpl(node: child, codingPath: codingPath + [key])
    }
}

struct BSONIndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ i: Int) { stringValue = String(i); intValue = i }
    init?(stringValue: String) { self.stringValue = stringValue; intValue = Int(stringValue) }
    init?(intValue: Int) { self.init(intValue) }
}

struct BSONUnkeyedEncoding: UnkeyedEncodingContainer {
    let node: BSONEncodingNode
    let codingPath: [any CodingKey]
    var count: Int {
        if case .unkeyed(let n) = node.content { return n.count }
        return 0
    }

    mutating func encodeNil() throws { node.append(BSONEncodingNode(.null)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        node.append(try BSONEncodingNode.node(for: value, codingPath: codingPath + [BSONIndexKey(count)]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = BSONEncodingNode()
        child.content = .keyed([])
        let path = codingPath + [BSONIndexKey(count)]
        node.append(child)
        return KeyedEncodingContainer(BSONKeyedEncoding<NestedKey>(node: child, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = BSONEncodingNode()
        child.content = .unkeyed([])
        let path = codingPath + [BSONIndexKey(count)]
        node.append(child)
        return BSONUnkeyedEncoding(node: child, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let child = BSONEncodingNode()
        let path = codingPath + [BSONIndexKey(count)]
        node.append(child)
        return BSONEncoderImpl(node: child, codingPath: path)
    }
}

struct BSONSingleValueEncoding: SingleValueEncodingContainer {
    let node: BSONEncodingNode
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.content = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        node.content = try BSONEncodingNode.node(for: value, codingPath: codingPath).content
    }
}
