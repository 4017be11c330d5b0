/// BSON's binary form (bsonspec.org), written and read in Swift so that building a
/// document costs no C calls; libbson only sees the finished bytes.
extension BSONDocument {
    /// The document's BSON bytes. Throws `MongoError.invalidDocument` for a key
    /// containing a NUL byte, which BSON cannot represent.
    public func bsonBytes() throws -> [UInt8] {
        var w = BSONWriter()
        w.bytes.reserveCapacity(64 + elements.count * 24)
        try w.writeDocument(self)
        return w.bytes
    }

    /// Parses BSON bytes, checking every length against the buffer.
    public init(bsonBytes bytes: UnsafeRawBufferPointer) throws {
        var r = BSONReader(buffer: bytes)
        self = try r.readDocument(depth: 0)
        guard r.offset == bytes.count else { throw MongoError.invalidDocument("trailing bytes after document") }
    }

    /// Parses BSON bytes from an array.
    public init(bsonBytes bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try BSONDocument(bsonBytes: $0) }
    }
}

struct BSONWriter {
    var bytes: [UInt8] = []

    mutating func writeDocument(_ doc: BSONDocument) throws {
        let start = bytes.count
        appendInt32(0)
        for e in doc.elements { try writeElement(e.key, e.value) }
        bytes.append(0)
        patchLength(at: start)
    }

    mutating func writeArray(_ values: [BSONValue]) throws {
        let start = bytes.count
        appendInt32(0)
        for (i, v) in values.enumerated() { try writeElement(String(i), v) }
        bytes.append(0)
        patchLength(at: start)
    }

    private mutating func patchLength(at start: Int) {
        let len = UInt32(bytes.count - start)
        bytes[start] = UInt8(len & 0xFF)
        bytes[start + 1] = UInt8((len >> 8) & 0xFF)
        bytes[start + 2] = UInt8((len >> 16) & 0xFF)
        bytes[start + 3] = UInt8(len >> 24)
    }

    private mutating func writeCString(_ s: String) throws {
        let start = bytes.count
        bytes.append(contentsOf: s.utf8)
        if bytes[start...].contains(0) { throw MongoError.invalidDocument("key or regex contains a NUL byte") }
        bytes.append(0)
    }

    private mutating func writeString(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            appendInt32(Int32(utf8.count + 1))
            bytes.append(contentsOf: utf8)
        }
        bytes.append(0)
    }

    mutating func appendInt32(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func appendInt64(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    private mutating func writeElement(_ key: String, _ value: BSONValue) throws {
        bytes.append(value.typeByte)
        try writeCString(key)
        switch value {
        case .double(let d): appendInt64(Int64(bitPattern: d.bitPattern))
        case .string(let s), .javascript(let s): writeString(s)
        case .document(let d): try writeDocument(d)
        case .array(let a): try writeArray(a)
        case .binary(let subtype, let data):
            appendInt32(Int32(data.count))
            bytes.append(subtype)
            bytes.append(contentsOf: data)
        case .objectId(let o): withUnsafeBytes(of: o.bytes) { bytes.append(contentsOf: $0) }
        case .bool(let b): bytes.append(b ? 1 : 0)
        case .datetime(let ms): appendInt64(ms)
        case .null, .minKey, .maxKey: break
        case .regex(let pattern, let options):
            try writeCString(pattern)
            try writeCString(String(options.sorted()))
        case .int32(let v): appendInt32(v)
        case .timestamp(let t, let i):
            appendInt32(Int32(bitPattern: i))
            appendInt32(Int32(bitPattern: t))
        case .int64(let v): appendInt64(v)
        case .decimal128(let raw):
            guard raw.count == 16 else { throw MongoError.invalidDocument("decimal128 needs 16 bytes") }
            bytes.append(contentsOf: raw)
        }
    }
}

struct BSONReader {
    let buffer: UnsafeRawBufferPointer
    var offset = 0
    /// Deeper nesting than this is refused rather than risking the stack.
    static let maxDepth = 100

    init(buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    private func need(_ n: Int) throws {
        guard n >= 0, offset + n <= buffer.count else { throw MongoError.invalidDocument("truncated BSON") }
    }

    mutating func readByte() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return buffer[offset]
    }

    mutating func readInt32() throws -> Int32 {
        try need(4)
        var v: Int32 = 0
        withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + 4])) }
        offset += 4
        return Int32(littleEndian: v)
    }

    mutating func readInt64() throws -> Int64 {
        try need(8)
        var v: Int64 = 0
        withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + 8])) }
        offset += 8
        return Int64(littleEndian: v)
    }

    mutating func readBytes(_ n: Int) throws -> [UInt8] {
        try need(n)
        defer { offset += n }
        return Array(buffer[offset..<offset + n])
    }

    mutating func readCString() throws -> String {
        guard let end = buffer[offset...].firstIndex(of: 0) else { throw MongoError.invalidDocument("unterminated cstring") }
        let s = try Self.utf8(UnsafeRawBufferPointer(rebasing: buffer[offset..<end]))
        offset = end + 1
        return s
    }

    mutating func readString() throws -> String {
        let len = Int(try readInt32())
        guard len >= 1 else { throw MongoError.invalidDocument("bad string length") }
        try need(len)
        guard buffer[offset + len - 1] == 0 else { throw MongoError.invalidDocument("string not NUL-terminated") }
        let s = try Self.utf8(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + len - 1]))
        offset += len
        return s
    }

    private static func utf8(_ raw: UnsafeRawBufferPointer) throws -> String {
        guard let s = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw MongoError.invalidDocument("invalid UTF-8 in BSON string")
        }
        return s
    }

    /// Reads a document's (or array's) length and checks it: where it ends.
    private mutating func readDocumentStart(depth: Int) throws -> (end: Int, length: Int) {
        guard depth < Self.maxDepth else { throw MongoError.invalidDocument("document nested too deeply") }
        let start = offset
        let len = Int(try readInt32())
        guard len >= 5 else { throw MongoError.invalidDocument("bad document length") }
        try need(len - 4)
        return (start + len, len)
    }

    mutating func readDocument(depth: Int) throws -> BSONDocument {
        let (end, len) = try readDocumentStart(depth: depth)
        var doc = BSONDocument()
        // About one field per 16 bytes (a message document: 15 fields in some 300).
        doc.reserveCapacity(min(64, len / 16))
        while true {
            let type = try readByte()
            if type == 0 { break }
            let key = try readCString()
            doc.append(key, try readValue(type: type, depth: depth))
            guard offset < end else { throw MongoError.invalidDocument("document overruns its length") }
        }
        guard offset == end else { throw MongoError.invalidDocument("document length mismatch") }
        return doc
    }

    /// An array's values, its keys ("0", "1", ...) checked for their NUL and skipped.
    mutating func readArray(depth: Int) throws -> [BSONValue] {
        let (end, len) = try readDocumentStart(depth: depth)
        var values: [BSONValue] = []
        values.reserveCapacity(min(64, len / 8))
        while true {
            let type = try readByte()
            if type == 0 { break }
            guard let nul = buffer[offset..<end].firstIndex(of: 0) else { throw MongoError.invalidDocument("unterminated cstring") }
            offset = nul + 1
            values.append(try readValue(type: type, depth: depth))
            guard offset < end else { throw MongoError.invalidDocument("document overruns its length") }
        }
        guard offset == end else { throw MongoError.invalidDocument("document length mismatch") }
        return values
    }

    mutating func readValue(type: UInt8, depth: Int) throws -> BSONValue {
        switch type {
        case 0x01: return .double(Double(bitPattern: UInt64(bitPattern: try readInt64())))
        case 0x02: return .string(try readString())
        case 0x03: return .document(try readDocument(depth: depth + 1))
        case 0x04: return .array(try readArray(depth: depth + 1))
        case 0x05:
            let len = Int(try readInt32())
            let subtype = try readByte()
            return .binary(subtype: subtype, data: try readBytes(len))
        case 0x07:
            try need(12)
            defer { offset += 12 }
            return .objectId(ObjectId(raw: UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + 12])))
        case 0x08:
            let b = try readByte()
            guard b <= 1 else { throw MongoError.invalidDocument("bad boolean") }
            return .bool(b == 1)
        case 0x09: return .datetime(try readInt64())
        case 0x0A: return .null
        case 0x0B: return .regex(pattern: try readCString(), options: try readCString())
        case 0x0D: return .javascript(try readString())
        case 0x10: return .int32(try readInt32())
        case 0x11:
            let i = UInt32(bitPattern: try readInt32())
            let t = UInt32(bitPattern: try readInt32())
            return .timestamp(t: t, i: i)
        case 0x12: return .int64(try readInt64())
        case 0x13: return .decimal128(try readBytes(16))
        case 0xFF: return .minKey
        case 0x7F: return .maxKey
        default: throw MongoError.invalidDocument("unsupported BSON type 0x\(String(type, radix: 16))")
        }
    }
}
