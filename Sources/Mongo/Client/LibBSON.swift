import CMongoC

/// The boundary between Swift documents and libbson's `bson_t`. Pointers never
/// leave the closures that borrow them; results are copied into Swift values.
extension BSONDocument {
    /// Lends libmongoc a `bson_t` holding this document for the duration of `body`.
    func withBSON<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
        let bytes = try bsonBytes()
        guard let b = bytes.withUnsafeBufferPointer({ bson_new_from_data($0.baseAddress, $0.count) }) else {
            throw MongoError.invalidDocument("libbson refused the document")
        }
        defer { bson_destroy(b) }
        return try body(b)
    }

    /// Copies a document out of a `bson_t` that libmongoc owns.
    init(copying b: OpaquePointer) throws {
        // bson_t is over-aligned and opaque to Swift; the data's own header gives its length.
        let data = bson_get_data(b)!
        var len: Int32 = 0
        withUnsafeMutableBytes(of: &len) { $0.copyMemory(from: UnsafeRawBufferPointer(start: data, count: 4)) }
        self = try BSONDocument(bsonBytes: UnsafeRawBufferPointer(start: data, count: Int(Int32(littleEndian: len))))
    }

    /// Parses MongoDB Extended JSON (canonical or relaxed), as migration files are written.
    public init(extendedJSON json: String) throws {
        var error = bson_error_t()
        let utf8 = Array(json.utf8)
        guard let b = utf8.withUnsafeBufferPointer({ buf in
            buf.withMemoryRebound(to: UInt8.self) { bson_new_from_json($0.baseAddress, $0.count, &error) }
        }) else {
            throw MongoError.invalidDocument("invalid extended JSON: \(error.messageText)")
        }
        defer { bson_destroy(b) }
        self = try BSONDocument(copying: b)
    }

    /// The document as relaxed Extended JSON, for logs and command-line output.
    public var extendedJSON: String {
        (try? withBSON { b -> String in
            var len = 0
            guard let s = bson_as_relaxed_extended_json(b, &len) else { return "{}" }
            defer { bson_free(s) }
            return String(cString: s)
        }) ?? "{}"
    }
}

/// Allocates an initialized, empty `bson_t` for libmongoc to fill, and frees it after.
/// libmongoc re-initializes out-parameters as stack (static) documents, so the struct
/// itself must be our allocation: 128 bytes, 128-aligned, as libbson declares it.
func withReplyBSON<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 128)
    let reply = OpaquePointer(raw)
    bson_init(reply)
    defer {
        bson_destroy(reply)
        raw.deallocate()
    }
    return try body(reply)
}

extension bson_error_t {
    /// The NUL-terminated message as a Swift string.
    var messageText: String {
        var copy = message
        return withUnsafeBytes(of: &copy) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
