import Foundation
import Testing

@testable import ParleyCore

@Suite("Uploads, the pure parts: file types, image sizes, multipart, ranges, names")
struct UploadUnitTests {
    @Test("types sniffed from magic numbers; text is UTF-8 without control bytes, even when the head cuts a character")
    func sniff() {
        #expect(FileType.sniff([0xFF, 0xD8, 0xFF, 0xE0]) == "image/jpeg")
        #expect(FileType.sniff(Array("GIF89a".utf8) + [1, 0, 1, 0]) == "image/gif")
        #expect(FileType.sniff(Array("RIFF\0\0\0\0WEBPVP8 ".utf8)) == "image/webp")
        #expect(FileType.sniff(Array("%PDF-1.4".utf8)) == "application/pdf")
        #expect(FileType.sniff([0x50, 0x4B, 0x03, 0x04, 0]) == "application/zip")
        #expect(FileType.sniff([0, 0, 0, 0x18] + Array("ftypmp42".utf8)) == "video/mp4")
        #expect(FileType.sniff(Array("héllo\n".utf8)) == "text/plain")
        #expect(FileType.sniff(Array(Array("é".utf8).prefix(1))) == "text/plain")  // cut in the middle of é
        #expect(FileType.sniff([0x68, 0x00, 0x69]) == FileType.octetStream)
        #expect(FileType.sniff([0xC3, 0x28, 0x41]) == FileType.octetStream)  // invalid UTF-8
        #expect(FileType.forName("Photo.JPEG") == "image/jpeg" && FileType.forName("archive.tar.gz") == "application/gzip" && FileType.forName("x") == nil)
        #expect(FileType.agrees(declared: "image/jpg", sniffed: "image/jpeg") && FileType.agrees(declared: "text/csv; charset=utf-8", sniffed: "text/plain"))
        #expect(!FileType.agrees(declared: "image/png", sniffed: "application/zip") && FileType.agrees(declared: "", sniffed: "application/zip"))
    }

    @Test("image sizes from PNG, GIF, JPEG (past its metadata) and the three WebP kinds")
    func dimensions() {
        var gif = Array("GIF89a".utf8)
        gif += [0x40, 0x01, 0xF0, 0x00]
        #expect(FileType.dimensions(gif, type: "image/gif")! == (320, 240))
        // JPEG: SOI, an APP1 of 1,000 bytes, a DHT, then SOF0 with 480 × 640.
        var jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0x03, 0xEA] + [UInt8](repeating: 0, count: 1_000)
        jpeg += [0xFF, 0xC4, 0x00, 0x04, 0, 0]
        jpeg += [0xFF, 0xC0, 0x00, 0x11, 0x08, 0x02, 0x80, 0x01, 0xE0, 0x03]
        #expect(FileType.dimensions(jpeg, type: "image/jpeg")! == (480, 640))
        #expect(FileType.dimensions(Array(jpeg.prefix(500)), type: "image/jpeg") == nil)
        let riff = Array("RIFF\0\0\0\0WEBP".utf8)
        let lossy = riff + Array("VP8 ".utf8) + [UInt8](repeating: 0, count: 10) + [0x90, 0x01, 0xC8, 0x00]
        #expect(FileType.dimensions(lossy + [0, 0], type: "image/webp")! == (400, 200))
        // VP8L: 14 bits of width - 1 (99) then 14 of height - 1 (49).
        let w = 99, h = 49
        let bits = w | h << 14
        let lossless = riff + Array("VP8L".utf8) + [0, 0, 0, 0, 0x2F] + [UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24 & 0xFF)]
        #expect(FileType.dimensions(lossless + [0, 0, 0, 0, 0], type: "image/webp")! == (100, 50))
        let extended = riff + Array("VP8X".utf8) + [UInt8](repeating: 0, count: 8) + [0xFF, 0x03, 0x00, 0xDF, 0x01, 0x00]
        #expect(FileType.dimensions(extended, type: "image/webp")! == (1024, 480))
    }

    @Test("multipart: parts and bytes whatever the chunking; a delimiter cut across chunks is found; the end is told")
    func multipart() throws {
        let file = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 * 7) } + Array("\r\n--X".utf8)  // the start of a delimiter, not one
        var body = Array("preamble\r\n--Xy\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nfield\r\n".utf8)
        body += Array("--Xy\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''%C3%A9.txt\r\nContent-Type: text/plain\r\n\r\n".utf8)
        body += file + Array("\r\n--Xy--\r\n".utf8)
        for size in [1, 3, 7, 64, 1_000, body.count] {
            var reader = MultipartReader(boundary: "Xy")
            var events: [MultipartReader.Event] = []
            for start in stride(from: 0, to: body.count, by: size) { events += try reader.feed(Array(body[start..<min(start + size, body.count)])) }
            #expect(reader.isComplete)
            var parts: [(MultipartReader.Event, [UInt8])] = []
            for e in events {
                switch e {
                case .part: parts.append((e, []))
                case .bytes(let b): parts[parts.count - 1].1 += b
                case .end: break
                }
            }
            #expect(parts.count == 2, "chunks of \(size)")
            #expect(parts[0].0 == .part(name: "a", filename: nil, contentType: nil) && parts[0].1 == Array("field".utf8))
            #expect(parts[1].0 == .part(name: "file", filename: "é.txt", contentType: "text/plain") && parts[1].1 == file, "chunks of \(size)")
        }
        #expect(MultipartReader.boundary(contentType: "multipart/form-data; boundary=\"a b\"") == "a b")
        #expect(MultipartReader.boundary(contentType: "multipart/mixed; boundary=x") == nil && MultipartReader.boundary(contentType: "multipart/form-data") == nil)
    }

    @Test("ranges: a-b, a-, -n; past the end 416; several or malformed served whole")
    func ranges() {
        #expect(ByteRange.parse("bytes=0-9", size: 100) == .partial(0...9))
        #expect(ByteRange.parse("bytes=90-200", size: 100) == .partial(90...99))
        #expect(ByteRange.parse("bytes=50-", size: 100) == .partial(50...99))
        #expect(ByteRange.parse("bytes=-30", size: 100) == .partial(70...99))
        #expect(ByteRange.parse("bytes=-300", size: 100) == .partial(0...99))
        #expect(ByteRange.parse("bytes=100-", size: 100) == .unsatisfiable && ByteRange.parse("bytes=-0", size: 100) == .unsatisfiable)
        for whole in [nil, "bytes=0-1,5-6", "bytes=9-3", "items=0-1", "bytes=x-1", "bytes=-", "bytes=99999999999999999999-"] {
            #expect(ByteRange.parse(whole, size: 100) == .whole, "\(whole ?? "nil")")
        }
        #expect(ByteRange.disposition(name: "a \"b\";c.pdf", inline: false) == #"attachment; filename="a _b__c.pdf"; filename*=UTF-8''a%20%22b%22%3Bc.pdf"#)
    }

    @Test("names: the last path component, no control characters, at most 255, never empty")
    func names() {
        #expect(UploadService.cleanName("../../etc/passwd") == "passwd" && UploadService.cleanName("C:\\Users\\me\\cv.pdf") == "cv.pdf")
        #expect(UploadService.cleanName("a\u{0}b\u{202E}c\nd.txt") == "abcd.txt")
        #expect(UploadService.cleanName(nil) == "file" && UploadService.cleanName("..") == "file" && UploadService.cleanName("  ") == "file")
        #expect(UploadService.cleanName(String(repeating: "x", count: 300)).count == 255)
    }
}
