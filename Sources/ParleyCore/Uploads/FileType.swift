import Foundation

/// What a file is, from its first bytes (magic numbers), never from what the client
/// says: an upload's declared type and its name's extension must agree with the
/// bytes, so a ZIP named `.png` is refused rather than served as an image. Also reads
/// the width and height of PNG, JPEG, GIF and WebP images from their headers.
public enum FileType {
    /// The bytes sniffed: enough for every header here but a JPEG's frame header,
    /// which may follow up to 64 KiB of metadata (`sniffBytes` covers that).
    public static let sniffBytes = 128 * 1024
    public static let octetStream = "application/octet-stream"
    public static let text = "text/plain"

    /// The type of a file that begins with `head`; `octetStream` for bytes of no
    /// known kind (not valid UTF-8 text either).
    public static func sniff(_ head: [UInt8]) -> String {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + magic.count && Array(head[offset..<offset + magic.count]) == magic
        }
        let ascii = { (s: String) in Array(s.utf8) }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        if starts([0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if starts(ascii("GIF87a")) || starts(ascii("GIF89a")) { return "image/gif" }
        if starts(ascii("RIFF")), starts(ascii("WEBP"), at: 8) { return "image/webp" }
        if starts(ascii("RIFF")), starts(ascii("WAVE"), at: 8) { return "audio/wav" }
        if starts(ascii("%PDF-")) { return "application/pdf" }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return "application/zip" }
        if starts([0x1F, 0x8B]) { return "application/gzip" }
        if starts(ascii("ftyp"), at: 4) { return "video/mp4" }
        if starts([0x1A, 0x45, 0xDF, 0xA3]) { return "video/webm" }
        if starts(ascii("OggS")) { return "audio/ogg" }
        if starts(ascii("ID3")) || starts([0xFF, 0xFB]) { return "audio/mpeg" }
        return isText(head) ? text : octetStream
    }

    /// UTF-8 without NUL or other control characters but tab, newline, carriage
    /// return and form feed; a sequence cut by the end of `head` is fine.
    static func isText(_ head: [UInt8]) -> Bool {
        guard !head.isEmpty else { return true }
        var bytes = head[...]
        // Drop an incomplete sequence at the end (the head is a prefix of the file).
        var back = 0
        while back < 3, back < bytes.count, bytes[bytes.endIndex - 1 - back] & 0xC0 == 0x80 { back += 1 }
        if back < bytes.count {
            let lead = bytes[bytes.endIndex - 1 - back]
            let need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0
            if need > back { bytes = bytes.dropLast(back + 1) }
        }
        guard String(validating: bytes, as: UTF8.self) != nil else { return false }
        return !bytes.contains { $0 < 0x20 && ![0x09, 0x0A, 0x0C, 0x0D].contains($0) || $0 == 0x7F }
    }

    /// The type a file name's extension stands for, when it is one of the known ones.
    public static func forName(_ name: String) -> String? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "png": return "image/png"
        case "jpg", "jpeg", "jfif": return "image/jpeg"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "pdf": return "application/pdf"
        case "zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub", "jar": return "application/zip"
        case "gz", "tgz": return "application/gzip"
        case "mp4", "m4a", "m4v", "mov": return "video/mp4"
        case "webm", "mkv": return "video/webm"
        case "ogg", "oga", "ogv", "opus": return "audio/ogg"
        case "mp3": return "audio/mpeg"
        case "wav": return "audio/wav"
        case "txt", "text", "md", "markdown", "csv", "tsv", "log", "json", "xml", "yaml", "yml", "ini", "conf", "html", "htm", "css", "js", "ts",
            "swift", "py", "c", "h", "sh":
            return text
        default: return nil
        }
    }

    /// Whether a declared type (a `Content-Type`, parameters dropped) agrees with the
    /// sniffed one: the same, or any `text/*` and `application/json|xml` for text.
    public static func agrees(declared: String, sniffed: String) -> Bool {
        let d = declared.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if d.isEmpty || d == octetStream { return true }
        if sniffed == text { return d.hasPrefix("text/") || d == "application/json" || d == "application/xml" }
        if sniffed == "application/zip" { return d == "application/zip" || d == "application/x-zip-compressed" || d.hasPrefix("application/vnd.") || d == "application/epub+zip" || d == "application/java-archive" }
        if sniffed == "video/mp4" { return d.hasPrefix("video/") || d.hasPrefix("audio/") }
        if sniffed == "audio/ogg" || sniffed == "video/webm" { return d.hasPrefix("audio/") || d.hasPrefix("video/") }
        return d == sniffed || (sniffed == "image/jpeg" && d == "image/jpg")
    }

    public static func isImage(_ type: String) -> Bool { ["image/png", "image/jpeg", "image/gif", "image/webp"].contains(type) }

    /// Width and height of an image from its header; nil when not an image of these
    /// kinds or the header is not within `head`.
    public static func dimensions(_ head: [UInt8], type: String) -> (width: Int, height: Int)? {
        func be16(_ i: Int) -> Int? { i + 2 <= head.count ? Int(head[i]) << 8 | Int(head[i + 1]) : nil }
        func be32(_ i: Int) -> Int? { i + 4 <= head.count ? Int(head[i]) << 24 | Int(head[i + 1]) << 16 | Int(head[i + 2]) << 8 | Int(head[i + 3]) : nil }
        func le16(_ i: Int) -> Int? { i + 2 <= head.count ? Int(head[i]) | Int(head[i + 1]) << 8 : nil }
        func le24(_ i: Int) -> Int? { i + 3 <= head.count ? Int(head[i]) | Int(head[i + 1]) << 8 | Int(head[i + 2]) << 16 : nil }
        switch type {
        case "image/png":
            guard let w = be32(16), let h = be32(20), w > 0, h > 0 else { return nil }
            return (w, h)
        case "image/gif":
            guard let w = le16(6), let h = le16(8), w > 0, h > 0 else { return nil }
            return (w, h)
        case "image/webp":
            guard head.count >= 30 else { return nil }
            let chunk = String(decoding: head[12..<16], as: UTF8.self)
            switch chunk {
            case "VP8 ":
                guard let w = le16(26), let h = le16(28) else { return nil }
                return (w & 0x3FFF, h & 0x3FFF)
            case "VP8L":
                guard head.count >= 25, head[20] == 0x2F else { return nil }
                let b = (0..<4).map { Int(head[21 + $0]) }
                let w = 1 + (b[0] | (b[1] & 0x3F) << 8)
                let h = 1 + (b[1] >> 6 | b[2] << 2 | (b[3] & 0x0F) << 10)
                return (w, h)
            case "VP8X":
                guard let w = le24(24), let h = le24(27) else { return nil }
                return (w + 1, h + 1)
            default: return nil
            }
        case "image/jpeg":
            var i = 2
            while i + 4 <= head.count {
                guard head[i] == 0xFF else { return nil }
                let marker = head[i + 1]
                if marker == 0xFF { i += 1; continue }  // fill byte
                if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
                guard let length = be16(i + 2), length >= 2 else { return nil }
                if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
                    guard let h = be16(i + 5), let w = be16(i + 7), w > 0, h > 0 else { return nil }
                    return (w, h)
                }
                if marker == 0xDA || marker == 0xD9 { return nil }  // scan data: no frame header before it
                i += 2 + length
            }
            return nil
        default:
            return nil
        }
    }
}
