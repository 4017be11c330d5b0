/// An ordered BSON document. Order matters to MongoDB (command names come first,
/// sort specifications are ordered), so this keeps insertion order; lookups are
/// linear, which is the fast choice for the small documents chat traffic carries.
public struct BSONDocument: Sendable, Hashable, Sequence {
    /// The fields, in order.
    public private(set) var elements: [(key: String, value: BSONValue)]

    public init() { elements = [] }

    public init(_ pairs: [(String, BSONValue)]) {
        elements = pairs.map { (key: $0.0, value: $0.1) }
    }

    /// The value of `key`, nil when absent. Setting nil removes the field; setting an
    /// existing key replaces it in place, keeping its position.
    public subscript(key: String) -> BSONValue? {
        get { elements.first(where: { $0.key == key })?.value }
        set {
            if let i = elements.firstIndex(where: { $0.key == key }) {
                if let v = newValue { elements[i].value = v } else { elements.remove(at: i) }
            } else if let v = newValue {
                elements.append((key: key, value: v))
            }
        }
    }

    /// Appends a field without checking for an existing one (the caller knows the key is new).
    public mutating func append(_ key: String, _ value: BSONValue) { elements.append((key: key, value: value)) }

    /// Room for `n` fields, so a parsed document grows its storage once.
    mutating func reserveCapacity(_ n: Int) { elements.reserveCapacity(n) }

    public var keys: [String] { elements.map(\.key) }
    public var count: Int { elements.count }
    public var isEmpty: Bool { elements.isEmpty }

    public func makeIterator() -> IndexingIterator<[(key: String, value: BSONValue)]> { elements.makeIterator() }

    public static func == (l: BSONDocument, r: BSONDocument) -> Bool {
        l.elements.count == r.elements.count && zip(l.elements, r.elements).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into h: inout Hasher) {
        h.combine(elements.count)
        for e in elements { h.combine(e.key); h.combine(e.value) }
    }
}

extension BSONDocument: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, BSONValue)...) { self.init(elements) }
}
