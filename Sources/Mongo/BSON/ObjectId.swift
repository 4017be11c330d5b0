import Foundation
import Synchronization

/// A MongoDB ObjectId: 12 bytes, a 4-byte big-endian timestamp, 5 random bytes fixed
/// per process and a 3-byte counter, so ids made here sort roughly by creation time.
///
/// In BSON it is stored natively; through other coders (JSON) it is its 24-character
/// lowercase hex string, which is what the wire contract calls an id.
public struct ObjectId: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 12 raw bytes, big-endian as on the wire.
    public let bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    private static let processUnique: (UInt8, UInt8, UInt8, UInt8, UInt8) = {
        var g = SystemRandomNumberGenerator()
        let r = g.next() as UInt64
        return (UInt8(truncatingIfNeeded: r), UInt8(truncatingIfNeeded: r >> 8), UInt8(truncatingIfNeeded: r >> 16),
                UInt8(truncatingIfNeeded: r >> 24), UInt8(truncatingIfNeeded: r >> 32))
    }()
    private static let counter = Atomic<UInt32>(UInt32.random(in: 0..<0xFF_FFFF))

    /// A new, process-unique id stamped with the current time.
    public init() {
        let seconds = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        let count = ObjectId.counter.wrappingAdd(1, ordering: .relaxed).newValue & 0xFF_FFFF
        let p = ObjectId.processUnique
        bytes = (UInt8(seconds >> 24), UInt8((seconds >> 16) & 0xFF), UInt8((seconds >> 8) & 0xFF), UInt8(seconds & 0xFF),
                 p.0, p.1, p.2, p.3, p.4,
                 UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF))
    }

    /// The lowest id of the second `date` falls in (the rest zero): a bound of a time
    /// window over ids, `{_id: {$gte: ObjectId(floorOf: from), $lt: ObjectId(floorOf: to)}}`.
    public init(floorOf date: Date) {
        let seconds = UInt32(clamping: max(0, Int(date.timeIntervalSince1970.rounded(.down))))
        bytes = (UInt8(seconds >> 24), UInt8((seconds >> 16) & 0xFF), UInt8((seconds >> 8) & 0xFF), UInt8(seconds & 0xFF),
                 0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// An id from exactly 12 bytes; nil for any other length.
    public init?(bytes raw: some Collection<UInt8>) {
        guard raw.count == 12 else { return nil }
        let a = Array(raw)
        bytes = (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11])
    }

    /// An id from 12 bytes in memory (the BSON reader's), copied without an array.
    init(raw: UnsafeRawBufferPointer) {
        precondition(raw.count == 12, "an ObjectId is 12 bytes")
        var b: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &b) { $0.copyMemory(from: raw) }
        bytes = b
    }

    /// An id from its 24-character hex form (either case); nil for anything else.
    /// Callers parsing user input rely on this to reject non-ids before any query.
    public init?(_ hex: String) {
        var hex = hex
        var b: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let ok = hex.withUTF8 { utf8 -> Bool in
            guard utf8.count == 24 else { return false }
            return withUnsafeMutableBytes(of: &b) { out -> Bool in
                for i in 0..<12 {
                    guard let hi = ObjectId.nibble(utf8[2 * i]), let lo = ObjectId.nibble(utf8[2 * i + 1]) else { return false }
                    out[i] = hi << 4 | lo
                }
                return true
            }
        }
        guard ok else { return nil }
        bytes = b
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The bytes as an array, in order.
    public var byteArray: [UInt8] { withUnsafeBytes(of: bytes) { Array($0) } }

    /// The 24-character lowercase hex form.
    public var hex: String {
        String(unsafeUninitializedCapacity: 24) { out in
            withUnsafeBytes(of: bytes) { raw in
                for (i, b) in raw.enumerated() {
                    out[2 * i] = ObjectId.hexDigit(b >> 4)
                    out[2 * i + 1] = ObjectId.hexDigit(b & 0xF)
                }
            }
            return 24
        }
    }

    /// The 24 hex digits appended to `out`, without making a string: the JSON writers'
    /// path, three ids per message.
    public func appendHex(to out: inout [UInt8]) {
        withUnsafeBytes(of: bytes) { raw in
            for b in raw {
                out.append(ObjectId.hexDigit(b >> 4))
                out.append(ObjectId.hexDigit(b & 0xF))
            }
        }
    }

    private static func hexDigit(_ n: UInt8) -> UInt8 { n < 10 ? UInt8(ascii: "0") + n : UInt8(ascii: "a") + n - 10 }

    public var description: String { hex }

    /// The creation time encoded in the first four bytes.
    public var timestamp: Date {
        let a = byteArray
        let s = UInt32(a[0]) << 24 | UInt32(a[1]) << 16 | UInt32(a[2]) << 8 | UInt32(a[3])
        return Date(timeIntervalSince1970: TimeInterval(s))
    }

    public static func == (l: ObjectId, r: ObjectId) -> Bool { l.byteArray == r.byteArray }
    public func hash(into h: inout Hasher) { withUnsafeBytes(of: bytes) { h.combine(bytes: $0) } }
    public static func < (l: ObjectId, r: ObjectId) -> Bool { l.byteArray.lexicographicallyPrecedes(r.byteArray) }
}

extension ObjectId: Codable {
    /// Outside BSON an ObjectId is its hex string; the BSON coders store it natively.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let id = ObjectId(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a 24-hex ObjectId")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}
