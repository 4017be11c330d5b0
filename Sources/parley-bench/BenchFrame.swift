import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One text frame as it came off the socket: a view of the bytes read, not a
/// `String`. The load generator shares two cores with the server it measures,
/// so it looks for what it needs (a prefix, a marker, the send stamp) in place.
struct BenchFrame: Sendable {
    let bytes: ByteBuffer

    init(_ bytes: ByteBuffer) { self.bytes = bytes }
    init(_ text: String) { bytes = ByteBuffer(string: text) }

    /// The frame decoded, for the rare frame a scenario reads as text.
    var text: String { String(buffer: bytes) }

    func hasPrefix(_ prefix: String) -> Bool {
        var prefix = prefix
        return prefix.withUTF8 { p in
            p.isEmpty
                || (bytes.readableBytes >= p.count
                    && bytes.withUnsafeReadableBytes { b in memcmp(b.baseAddress!, p.baseAddress!, p.count) == 0 })
        }
    }

    func contains(_ needle: String) -> Bool { offset(of: needle) != nil }

    /// Where `needle` starts in the frame: `memchr` for its first byte, then `memcmp`
    /// (Glibc's `memmem` is a GNU extension Swift does not import).
    func offset(of needle: String) -> Int? {
        var needle = needle
        return needle.withUTF8 { n -> Int? in
            bytes.withUnsafeReadableBytes { b -> Int? in
                guard n.count > 0, b.count >= n.count, let base = b.baseAddress else { return nil }
                let first = Int32(n[0])
                var at = 0
                let last = b.count - n.count
                while at <= last {
                    guard let hit = memchr(base + at, first, last - at + 1) else { return nil }
                    let i = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + i, n.baseAddress!, n.count) == 0 { return i }
                    at = i + 1
                }
                return nil
            }
        }
    }

    /// The decimal number right after `marker`, if the frame holds the marker.
    func number(after marker: String) -> UInt64? {
        guard let at = offset(of: marker) else { return nil }
        let start = at + marker.utf8.count
        return bytes.withUnsafeReadableBytes { b in
            var value: UInt64 = 0
            var i = start
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                value = value &* 10 &+ UInt64(b[i] - 0x30)
                i += 1
            }
            return value
        }
    }
}
