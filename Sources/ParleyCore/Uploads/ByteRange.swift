import Foundation

/// The one range of a `Range: bytes=…` header (RFC 9110 §14.1.2) that downloads
/// serve: `a-b`, `a-` or `-n`. Several ranges are served as the whole file (allowed:
/// a server may ignore `Range`).
public enum ByteRange {
    public enum Parsed: Equatable, Sendable {
        /// No usable `Range`: the whole file, 200.
        case whole
        /// Bytes `range`, 206.
        case partial(ClosedRange<Int>)
        /// Outside the file: 416 with `Content-Range: bytes */size`.
        case unsatisfiable
    }

    public static func parse(_ header: String?, size: Int) -> Parsed {
        guard let header, header.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces), last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        let digits = { (s: String) in !s.isEmpty && s.utf8.count <= 18 && s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber) }
        if first.isEmpty {
            guard digits(last), let n = Int(last) else { return .whole }
            guard n > 0, size > 0 else { return .unsatisfiable }
            return .partial(max(0, size - n)...(size - 1))
        }
        guard digits(first), let a = Int(first) else { return .whole }
        guard a < size else { return .unsatisfiable }
        if last.isEmpty { return .partial(a...(size - 1)) }
        guard digits(last), let b = Int(last), b >= a else { return .whole }
        return .partial(a...min(b, size - 1))
    }

    /// A `Content-Disposition` for a stored file: inline for images (shown in the
    /// page), attachment for everything else (saved, never rendered by the browser),
    /// with an ASCII fallback name and the UTF-8 one (RFC 6266, RFC 8187).
    public static func disposition(name: String, inline: Bool) -> String {
        let fallback = String(name.unicodeScalars.map { s -> Character in
            s.isASCII && s.value >= 0x20 && s != "\"" && s != "\\" && s != "%" && s != ";" ? Character(s) : "_"
        })
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "!#$&+-.^_`|~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: allowed) ?? fallback
        return "\(inline ? "inline" : "attachment"); filename=\"\(fallback)\"; filename*=UTF-8''\(encoded)"
    }
}
