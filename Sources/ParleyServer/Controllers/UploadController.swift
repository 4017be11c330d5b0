import Foundation
import Hummingbird
import Mongo
import ParleyCore

/// `/api/uploads`: files streamed into GridFS (a raw body, or `multipart/form-data`
/// with one `file` part), and served back with `Range`, `ETag` and a safe
/// `Content-Disposition` to those who may read them.
struct UploadController {
    let services: ParleyServices

    struct Reply: Encodable { let upload: Attachment }

    /// Multipart framing allowed beyond `MAX_UPLOAD_BYTES` in a declared length.
    static let multipartSlack = 64 * 1024

    func addRoutes(to group: RouterGroup<ParleyRequestContext>) {
        group.post("uploads") { request, context in
            let user = try context.requireUser()
            let record = try await store(request, user: user)
            return try JSONResponse.make(Reply(upload: record.attachment), status: .created)
        }
        group.get("uploads/:uploadId") { request, context in
            let user = try context.requireUser()
            let upload = try await services.uploads.readable(context.parameters.get("uploadId") ?? "", by: user)
            return download(upload, request: request)
        }
    }

    private func store(_ request: Request, user: UserRecord) async throws -> UploadRecord {
        let contentType = request.headers[.contentType]
        let declaredLength = request.headers[.contentLength].flatMap(Int.init)
        var body = request.body.makeAsyncIterator()
        // A client gone before its last byte is a cut upload, not a server fault.
        func nextChunk() async throws -> [UInt8]? {
            do {
                return try await body.next().map { Array(buffer: $0) }
            } catch {
                throw ParleyError(.badRequest, "the upload ended before its last byte")
            }
        }
        let limits = services.uploads.limits
        if let name = request.uri.queryParameters.get("name"), name.unicodeScalars.count > 1_000 {
            throw ParleyError(.badRequest, "name must be at most 1,000 characters")
        }
        guard let boundary = contentType.flatMap(MultipartReader.boundary(contentType:)) else {
            if contentType?.lowercased().hasPrefix("multipart/") == true {
                throw ParleyError(.badRequest, "multipart uploads are multipart/form-data with a boundary")
            }
            return try await services.uploads.store(
                name: request.uri.queryParameters.get("name"), declaredType: contentType, declaredLength: declaredLength, owner: user
            ) {
                try await nextChunk()
            }
        }
        if let n = declaredLength, n > limits.maxBytes + Self.multipartSlack { throw ParleyError(.tooLarge, "uploads are at most \(limits.maxBytes) bytes") }
        // Reads parts up to the `file` one; its bytes are handed to the store as they come.
        var reader = MultipartReader(boundary: boundary)
        var queued: [MultipartReader.Event] = []
        var fileName: String?, fileType: String?
        var inFile = false, seenFile = false
        func nextEvent() async throws -> MultipartReader.Event? {
            while queued.isEmpty {
                guard let chunk = try await nextChunk() else {
                    guard reader.isComplete else { throw ParleyError(.badRequest, "the multipart body ended before its closing boundary") }
                    return nil
                }
                queued = try reader.feed(chunk)
            }
            return queued.removeFirst()
        }
        while !seenFile, let event = try await nextEvent() {
            switch event {
            case .part(let name, let filename, let type) where name == "file":
                (fileName, fileType, seenFile, inFile) = (filename, type, true, true)
            case .end: break
            default: continue
            }
        }
        guard seenFile else { throw ParleyError(.badRequest, "a multipart upload needs a part named \"file\"") }
        let record = try await services.uploads.store(
            name: fileName ?? request.uri.queryParameters.get("name"), declaredType: fileType, declaredLength: nil, owner: user
        ) {
            while inFile, let event = try await nextEvent() {
                switch event {
                case .bytes(let b): return b
                case .part, .end: inFile = false
                }
            }
            return nil
        }
        return record
    }

    private func download(_ upload: UploadRecord, request: Request) -> Response {
        let etag = "\"\(upload.sha256)\""
        var headers: HTTPFields = [:]
        headers[.eTag] = etag
        headers[.cacheControl] = "private, max-age=86400"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.acceptRanges] = "bytes"
        headers[.contentType] = upload.contentType == FileType.text ? "text/plain; charset=utf-8" : upload.contentType
        headers[.contentDisposition] = ByteRange.disposition(name: upload.name, inline: FileType.isImage(upload.contentType))
        // The bytes never change under an id: a matching tag is the file.
        if let tags = request.headers[.ifNoneMatch], tags == "*" || tags.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag }) {
            return Response(status: .notModified, headers: headers)
        }
        var range = 0...(upload.size - 1)
        var status = HTTPResponse.Status.ok
        if upload.size > 0 {
            switch ByteRange.parse(request.headers[.range], size: upload.size) {
            case .whole: break
            case .partial(let r):
                range = r
                status = .partialContent
                headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound)/\(upload.size)"
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(upload.size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
        } else {
            return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: 0) { writer in try await writer.finish(nil) })
        }
        let (uploads, bytes) = (services.uploads, range)
        return Response(
            status: status, headers: headers,
            body: ResponseBody(contentLength: bytes.count) { writer in
                try await uploads.read(upload, range: bytes) { bytes in try await writer.write(ByteBuffer(bytes: bytes)) }
                try await writer.finish(nil)
            })
    }
}
