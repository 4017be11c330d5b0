import Foundation
import Mongo
import Testing

struct Everything: Codable, Equatable, Sendable {
    struct Inner: Codable, Equatable, Sendable {
        var label: String
        var tags: [String]
    }

    var id: ObjectId
    var text: String
    var empty: String
    var emoji: String
    var i32: Int32
    var i64: Int64
    var int: Int
    var small: Int8
    var unsigned: UInt32
    var double: Double
    var flag: Bool
    var date: Date
    var data: Data
    var uuid: UUID
    var inner: Inner
    var nested: [[Int]]
    var innerList: [Inner]
    var optionalSet: String?
    var optionalNil: String?
    var dictionary: [String: Int]

    enum CodingKeys: String, CodingKey {
        case id = "_id", text, empty, emoji, i32, i64, int, small, unsigned, double, flag, date, data, uuid, inner, nested,
            innerList, optionalSet, optionalNil, dictionary
    }

    static func sample(i64: Int64 = .max, i32: Int32 = .min) -> Everything {
        Everything(
            id: ObjectId(), text: "héllo wörld", empty: "", emoji: "👩‍💻 chat ✓ 日本語 \u{0}nul", i32: i32, i64: i64, int: Int.min,
            small: -128, unsigned: .max, double: -0.5e-300, flag: true, date: Date(timeIntervalSince1970: 1_700_000_000.123),
            data: Data([0, 1, 2, 255]), uuid: UUID(), inner: Inner(label: "x", tags: []),
            nested: [[], [1, 2], [Int.max]], innerList: [Inner(label: "a", tags: ["b", "c"])],
            optionalSet: "set", optionalNil: nil, dictionary: ["k": 1, "ü": 2]
        )
    }
}

@Suite("BSON encoding and decoding")
struct BSONRoundTripTests {
    @Test("every supported type survives encode, serialize, parse, decode")
    func roundTrip() throws {
        for (a, b) in [(Int64.max, Int32.min), (Int64.min, Int32.max), (0, 0)] {
            let value = Everything.sample(i64: a, i32: b)
            let doc = try BSONEncoder().encode(value)
            let parsed = try BSONDocument(bsonBytes: try doc.bsonBytes())
            #expect(parsed == doc)
            let back = try BSONDecoder().decode(Everything.self, from: parsed)
            #expect(back == value)
        }
    }

    @Test("native BSON types are used: ObjectId, datetime, int32/int64, binary")
    func nativeTypes() throws {
        let value = Everything.sample()
        let doc = try BSONEncoder().encode(value)
        #expect(doc["_id"] == .objectId(value.id))
        #expect(doc["date"] == .datetime(1_700_000_000_123))
        #expect(doc["i32"] == .int32(Int32.min))
        #expect(doc["i64"] == .int64(Int64.max))
        #expect(doc["int"] == .int64(Int64(Int.min)))
        #expect(doc["data"] == .binary(subtype: 0, data: [0, 1, 2, 255]))
        #expect(doc["optionalNil"] == nil)
        #expect(doc.keys.first == "_id")
    }

    @Test("integers are read from any numeric width that fits exactly")
    func numericWidening() throws {
        struct N: Codable { var a: Int; var b: Int32; var c: Double }
        let n = try BSONDecoder().decode(N.self, from: ["a": .int32(5), "b": .int64(7), "c": .int32(3)])
        #expect(n.a == 5 && n.b == 7 && n.c == 3)
        #expect(throws: DecodingError.self) { try BSONDecoder().decode(N.self, from: ["a": .double(1.5), "b": 1, "c": 1]) }
        #expect(throws: DecodingError.self) { try BSONDecoder().decode(N.self, from: ["a": 1, "b": .int64(Int64.max), "c": 1]) }
        #expect(throws: DecodingError.self) { try BSONDecoder().decode(N.self, from: ["a": "1", "b": 1, "c": 1]) }
    }

    @Test("a missing required field is keyNotFound, a null one valueNotFound")
    func missingFields() throws {
        struct R: Codable { var name: String }
        #expect(throws: DecodingError.self) { try BSONDecoder().decode(R.self, from: [:]) }
        #expect(throws: DecodingError.self) { try BSONDecoder().decode(R.self, from: ["name": nil]) }
    }

    @Test("a decoding error names the path to the field: keys, array indexes, nested documents")
    func errorPaths() throws {
        struct Inner: Codable { var n: Int }
        struct Outer: Codable { var items: [Inner] }
        let doc: BSONDocument = ["items": .array([.document(["n": 1]), .document(["n": "two"])])]
        do {
            _ = try BSONDecoder().decode(Outer.self, from: doc)
            Issue.record("decoded a string as an Int")
        } catch DecodingError.typeMismatch(_, let context) {
            #expect(context.codingPath.map(\.stringValue) == ["items", "1", "n"])
        }
        do {
            _ = try BSONDecoder().decode(Outer.self, from: ["items": .array([.document([:])])])
            Issue.record("decoded a missing field")
        } catch DecodingError.keyNotFound(let key, let context) {
            #expect(key.stringValue == "n" && context.codingPath.map(\.stringValue) == ["items", "0"])
        }
    }

    @Test("malformed bytes are rejected, never crash")
    func malformed() throws {
        let good = try (["a": "text", "b": ["c": 1]] as BSONDocument).bsonBytes()
        for cut in 0..<good.count {
            #expect(throws: MongoError.self) { try BSONDocument(bsonBytes: Array(good.prefix(cut))) }
        }
        var badLength = good
        badLength[0] = 0xFF
        #expect(throws: MongoError.self) { try BSONDocument(bsonBytes: badLength) }
        // A string with invalid UTF-8 inside.
        var badUTF8 = try (["s": "ab"] as BSONDocument).bsonBytes()
        badUTF8[badUTF8.count - 3] = 0xFF
        #expect(throws: MongoError.self) { try BSONDocument(bsonBytes: badUTF8) }
        // A key containing NUL cannot be written.
        #expect(throws: MongoError.self) { try (["a\u{0}b": 1] as BSONDocument).bsonBytes() }
    }

    @Test("deep nesting is refused at parse time rather than overflowing the stack")
    func deepNesting() throws {
        var v: BSONValue = 1
        for _ in 0..<150 { v = .document(["x": v]) }
        let bytes = try (["root": v] as BSONDocument).bsonBytes()
        #expect(throws: MongoError.self) { try BSONDocument(bsonBytes: bytes) }
    }

    @Test("ObjectId: hex round trip, validation, uniqueness, order")
    func objectIds() throws {
        let a = ObjectId()
        let b = ObjectId()
        #expect(a != b)
        #expect(a < b)
        #expect(ObjectId(a.hex) == a)
        #expect(ObjectId(a.hex.uppercased()) == a)
        #expect(ObjectId("zz" + String(a.hex.dropFirst(2))) == nil)
        #expect(ObjectId("abc") == nil)
        #expect(ObjectId("") == nil)
        #expect(abs(a.timestamp.timeIntervalSinceNow) < 5)
        let json = try JSONEncoder().encode(["id": a])
        #expect(String(decoding: json, as: UTF8.self) == "{\"id\":\"\(a.hex)\"}")
    }

    @Test("extended JSON parses through libbson, with $oid and $date")
    func extendedJSON() throws {
        let doc = try BSONDocument(extendedJSON: #"{"a": {"$oid": "507f1f77bcf86cd799439011"}, "n": {"$numberLong": "9007199254740993"}, "d": {"$date": "2024-01-01T00:00:00Z"}, "k": [1, "x"]}"#)
        #expect(doc["a"] == .objectId(ObjectId("507f1f77bcf86cd799439011")!))
        #expect(doc["n"] == .int64(9_007_199_254_740_993))
        #expect(doc["d"] == .datetime(1_704_067_200_000))
        #expect(doc["k"] == .array([.int32(1), .string("x")]))
        #expect(throws: MongoError.self) { try BSONDocument(extendedJSON: "{not json") }
        #expect(doc.extendedJSON.contains("507f1f77bcf86cd799439011"))
    }
}
