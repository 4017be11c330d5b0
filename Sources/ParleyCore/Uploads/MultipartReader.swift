import Foundation

/// A streaming reader of `multipart/form-data` (RFC 7578): fed the body as it
/// arrives, it hands out each part's headers and then its bytes, holding at most a
/// delimiter's length of them back, so a file part is never whole in memory.
public struct MultipartReader: Sendable {
    public enum Event: Equatable, Sendable {
        /// A part begins: its `name`, `filename` and `Content-Type`, from its headers.
        case part(name: String?, filename: String?, contentType: String?)
        case bytes([UInt8])
        /// The last part ended (the closing delimiter).
        case end
    }

    /// The largest header block of one part.
    static let maxHeaderBytes = 16 * 1024

    private enum State { case preamble, afterDelimiter, headers, body, done }
    private let delimiter: [UInt8]  // "\r\n--" + boundary
    private var buffer: [UInt8] = []
    private var state = State.preamble

    /// The boundary of a `Content-Type: multipart/form-data; boundary=…`; nil when
    /// the type is not that or has no valid boundary.
    public static func boundary(contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, kv[0].lowercased() == "boundary" else { continue }
            var b = kv[1]
            if b.hasPrefix("\""), b.hasSuffix("\""), b.count >= 2 { b = String(b.dropFirst().dropLast()) }
            return (1...70).contains(b.utf8.count) ? b : nil
        }
        return nil
    }

    public init(boundary: String) { delimiter = Array("\r\n--\(boundary)".utf8) }

    /// Reads more of the body; the events it completes.
    public mutating func feed(_ bytes: [UInt8]) throws -> [Event] {
        buffer += bytes
        var out: [Event] = []
        while true {
            switch state {
            case .preamble:
                // The first delimiter may open the body without its CRLF.
                let opening = Array(delimiter.dropFirst(2))
                if buffer.starts(with: opening) {
                    buffer.removeFirst(opening.count)
                    state = .afterDelimiter
                } else if let i = find(delimiter, in: buffer) {
                    buffer.removeFirst(i + delimiter.count)
                    state = .afterDelimiter
                } else {
                    if buffer.count > Self.maxHeaderBytes { throw ParleyError(.badRequest, "multipart body without its boundary") }
                    return out
                }
            case .afterDelimiter:
                guard buffer.count >= 2 else { return out }
                if buffer[0] == UInt8(ascii: "-"), buffer[1] == UInt8(ascii: "-") {
                    state = .done
                    out.append(.end)
                    buffer = []
                    return out
                }
                guard let eol = find([13, 10], in: buffer) else {
                    if buffer.count > 64 { throw ParleyError(.badRequest, "malformed multipart delimiter") }
                    return out
                }
                buffer.removeFirst(eol + 2)  // transport padding, then CRLF
                state = .headers
            case .headers:
                guard let end = find([13, 10, 13, 10], in: buffer) else {
                    if buffer.count > Self.maxHeaderBytes { throw ParleyError(.badRequest, "multipart part headers too large") }
                    return out
                }
                let block = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                out.append(Self.part(block))
                state = .body
            case .body:
                if let i = find(delimiter, in: buffer) {
                    if i > 0 { out.append(.bytes(Array(buffer[0..<i]))) }
                    buffer.removeFirst(i + delimiter.count)
                    state = .afterDelimiter
                } else {
                    // Keep what could be the start of a delimiter cut by the chunk's end.
                    let keep = min(buffer.count, delimiter.count - 1)
                    if buffer.count > keep {
                        out.append(.bytes(Array(buffer[0..<(buffer.count - keep)])))
                        buffer.removeFirst(buffer.count - keep)
                    }
                    return out
                }
            case .done:
                buffer = []
                return out
            }
        }
    }

    /// Whether the closing delimiter was read (a body cut short is refused).
    public var isComplete: Bool { state == .done }

    static func part(_ block: String) -> Event {
        var name: String?, filename: String?, type: String?
        for line in block.split(separator: "\r\n") {
            let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2 else { continue }
            switch kv[0].lowercased() {
            case "content-disposition":
                for param in kv[1].split(separator: ";").dropFirst() {
                    let p = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard p.count == 2 else { continue }
                    var v = p[1]
                    if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
                    switch p[0].lowercased() {
                    case "name": name = v
                    case "filename": filename = v
                    case "filename*":
                        // RFC 5987: UTF-8''percent-encoded
                        if let r = v.range(of: "''") { filename = String(v[r.upperBound...]).removingPercentEncoding ?? filename }
                    default: break
                    }
                }
            case "content-type": type = kv[1]
            default: break
            }
        }
        return .part(name: name, filename: filename, contentType: type)
    }

    /// The first index of `needle` in `haystack`.
    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var i = 0
        let last = haystack.count - needle.count
        return haystack.withUnsafeBufferPointer { h in
            while i <= last {
                if h[i] == first {
                    var j = 1
                    while j < needle.count, h[i + j] == needle[j] { j += 1 }
                    if j == needle.count { return i }
                }
                i += 1
            }
            return nil
        }
    }
}
