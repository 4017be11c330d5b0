import Crypto
import Foundation
import HTTPTypes
import Mongo
import ParleyCore
import TestSupport
import Testing

@testable import ParleyServer

/// Made-up files whose first bytes are what their type's readers look for.
enum Fixture {
    /// A PNG header of `width` × `height`, then `size` bytes in all.
    static func png(width: Int, height: Int, size: Int = 4_000) -> [UInt8] {
        var b: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        for v in [width, height] { b += [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        b += [8, 6, 0, 0, 0, 0, 0, 0, 0]
        return b + (0..<max(0, size - b.count)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    }

    static func zip(size: Int = 2_000) -> [UInt8] { [0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0x01, count: size - 4) }

    static func text(_ size: Int) -> [UInt8] { (0..<size).map { UInt8(ascii: "a") + UInt8($0 % 26) } }

    static func sha256(_ b: [UInt8]) -> String { SHA256.hash(data: b).map { String(format: "%02x", $0) }.joined() }

    /// A `multipart/form-data` body with one `file` part (and a field before it).
    static func multipart(_ bytes: [UInt8], filename: String, type: String, boundary: String = "XyZzy42") -> [UInt8] {
        var out = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n".utf8)
        out += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: \(type)\r\n\r\n".utf8)
        out += bytes
        out += Array("\r\n--\(boundary)--\r\n".utf8)
        return out
    }
}

@Suite("Uploads: files in GridFS, typed by their bytes, read by the uploader and the members of the rooms they are in")
struct UploadTests {
    struct Made: Decodable { let upload: WireUpload }

    static func upload(_ api: Api, _ token: String, _ bytes: [UInt8], name: String, type: String?) async throws -> Reply {
        var h: HTTPFields = [:]
        if let type { h[.contentType] = type }
        return try await api.send(.post, "/api/uploads?name=\(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", token: token, bytes: bytes, headers: h)
    }

    static func limits(orphanSeconds: Int = 86_400) -> UploadService.Limits {
        UploadService.Limits(maxBytes: 10_000_000, quotaBytes: 100_000_000, types: ["text/plain", "image/png"], orphanSeconds: orphanSeconds, concurrency: 8)
    }

    static func counts(_ db: MongoDatabase) async throws -> [Int] {
        [try await db.collection("uploads").countDocuments(), try await db.collection("fs.files").countDocuments(), try await db.collection("fs.chunks").countDocuments()]
    }

    @Test("upload and download: type, size, sha256 and image size; ETag 304; ranges 206 and 416; headers; 404 for anyone else")
    func roundTrip() async throws {
        try await RestHarness.with { api in
            let owner = try await api.register("owner")
            let other = try await api.register("other")
            let bytes = Fixture.png(width: 640, height: 480, size: 600_000)  // three chunks
            let made = try await Self.upload(api, owner.token, bytes, name: "holiday.png", type: "image/png")
            try #require(made.status == 201, "\(made.status) \(String(decoding: made.body, as: UTF8.self))")
            let u = try made.decode(Made.self).upload
            #expect(u.name == "holiday.png" && u.contentType == "image/png" && u.size == bytes.count && u.width == 640 && u.height == 480)
            #expect(u.sha256 == Fixture.sha256(bytes) && u.url == "/api/uploads/\(u.id)")
            let got = try await api.call(.get, u.url, token: owner.token)
            #expect(got.status == 200 && Array(got.body) == bytes)
            #expect(got.headers[.contentType] == "image/png" && got.headers[.eTag] == "\"\(u.sha256)\"")
            #expect(got.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff" && got.headers[.cacheControl]?.hasPrefix("private") == true)
            #expect(got.headers[.contentDisposition] == #"inline; filename="holiday.png"; filename*=UTF-8''holiday.png"#)
            var h: HTTPFields = [:]
            h[.ifNoneMatch] = "\"\(u.sha256)\""
            #expect(try await api.call(.get, u.url, token: owner.token, headers: h).status == 304)
            // A range across a chunk boundary, a suffix, an open end, and one past the end.
            for (spec, want) in [("bytes=261100-261200", 261_100...261_200), ("bytes=-10", (bytes.count - 10)...(bytes.count - 1)), ("bytes=599990-", 599_990...599_999)] {
                var r: HTTPFields = [:]
                r[.range] = spec
                let part = try await api.call(.get, u.url, token: owner.token, headers: r)
                #expect(part.status == 206 && Array(part.body) == Array(bytes[want]), "\(spec)")
                #expect(part.headers[.contentRange] == "bytes \(want.lowerBound)-\(want.upperBound)/\(bytes.count)")
            }
            var past: HTTPFields = [:]
            past[.range] = "bytes=700000-"
            let unsatisfiable = try await api.call(.get, u.url, token: owner.token, headers: past)
            #expect(unsatisfiable.status == 416 && unsatisfiable.headers[.contentRange] == "bytes */\(bytes.count)")
            // Anyone else: 404, as for an id that does not exist or is not one.
            #expect(try await api.call(.get, u.url, token: other.token).status == 404)
            #expect(try await api.call(.get, "/api/uploads/\(ObjectId().hex)", token: owner.token).status == 404)
            #expect(try await api.call(.get, "/api/uploads/nonsense", token: owner.token).status == 404)
            #expect(try await api.call(.get, u.url).status == 401)
            #expect(try await api.send(.post, "/api/uploads?name=x.png", token: nil, bytes: bytes).status == 401)
        }
    }

    @Test("the type is the bytes': a ZIP named .png or sent as image/png is refused, types off the list too; text and zip pass")
    func types() async throws {
        try await RestHarness.with(configure: { $0.uploadTypes = ["image/png", "text/plain", "application/zip"] }) { api in
            let owner = try await api.register("owner")
            let zipAsPNG = try await Self.upload(api, owner.token, Fixture.zip(), name: "photo.png", type: nil)
            #expect(zipAsPNG.status == 400 && zipAsPNG.error?.message.contains("application/zip") == true)
            #expect(try await Self.upload(api, owner.token, Fixture.zip(), name: "photo", type: "image/png").status == 400)
            #expect(try await Self.upload(api, owner.token, Fixture.zip(), name: "report.docx", type: "application/octet-stream").status == 201)
            #expect(try await Self.upload(api, owner.token, Fixture.png(width: 1, height: 1), name: "x.png", type: "image/png").status == 201)
            let pdf = Array("%PDF-1.7\n".utf8) + [UInt8](repeating: 0x20, count: 100)
            let refused = try await Self.upload(api, owner.token, pdf, name: "a.pdf", type: "application/pdf")
            #expect(refused.status == 400 && refused.error?.message.contains("not accepted") == true)
            #expect(try await Self.upload(api, owner.token, [], name: "empty.txt", type: "text/plain").status == 400)
            let binary: [UInt8] = [0x00, 0x01, 0x02, 0xFE, 0xFF, 0x00]
            #expect(try await Self.upload(api, owner.token, binary, name: "blob.bin", type: nil).status == 400)
            let notes = try await Self.upload(api, owner.token, Array("Café notes\n".utf8), name: "../../etc/notes.md", type: "text/markdown")
            let n = try notes.decode(Made.self).upload
            #expect(n.contentType == "text/plain" && n.name == "notes.md")
            let served = try await api.call(.get, n.url, token: owner.token)
            #expect(served.headers[.contentType] == "text/plain; charset=utf-8" && served.headers[.contentDisposition]?.hasPrefix("attachment;") == true)
        }
    }

    @Test("multipart/form-data: one file part streamed, its name and type taken; other fields skipped; a cut body refused")
    func multipart() async throws {
        try await RestHarness.with { api in
            let owner = try await api.register("owner")
            let bytes = Fixture.png(width: 3, height: 2, size: 300_000)
            var h: HTTPFields = [:]
            h[.contentType] = "multipart/form-data; boundary=XyZzy42"
            let r = try await api.send(.post, "/api/uploads", token: owner.token, bytes: Fixture.multipart(bytes, filename: "été.png", type: "image/png"), headers: h)
            try #require(r.status == 201, "\(r.status) \(String(decoding: r.body, as: UTF8.self))")
            let u = try r.decode(Made.self).upload
            #expect(u.name == "été.png" && u.size == bytes.count && u.sha256 == Fixture.sha256(bytes) && u.width == 3 && u.height == 2)
            let got = try await api.call(.get, u.url, token: owner.token)
            #expect(Array(got.body) == bytes)
            #expect(got.headers[.contentDisposition] == #"inline; filename="_t_.png"; filename*=UTF-8''%C3%A9t%C3%A9.png"#)
            let cut = Array(Fixture.multipart(bytes, filename: "x.png", type: "image/png").dropLast(30))
            #expect(try await api.send(.post, "/api/uploads", token: owner.token, bytes: cut, headers: h).status == 400)
            var noFile = Array("--XyZzy42\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhi\r\n--XyZzy42--\r\n".utf8)
            #expect(try await api.send(.post, "/api/uploads", token: owner.token, bytes: noFile, headers: h).status == 400)
            noFile = Array("no boundary at all".utf8)
            #expect(try await api.send(.post, "/api/uploads", token: owner.token, bytes: noFile, headers: h).status == 400)
            #expect(try await Self.counts(api.database) == [1, 1, 2])
        }
    }

    @Test("MAX_UPLOAD_BYTES and the quota give 413, declared or found while streaming, and leave nothing behind")
    func limits() async throws {
        try await RestHarness.with(configure: { $0.maxUploadBytes = 100_000; $0.uploadQuotaBytes = 250_000 }) { api in
            let owner = try await api.register("owner")
            let over = try await Self.upload(api, owner.token, Fixture.text(100_001), name: "big.txt", type: "text/plain")
            #expect(over.status == 413 && over.errorCode == "too_large")
            // Multipart: the declared length is within the framing's slack; the part is not.
            var h: HTTPFields = [:]
            h[.contentType] = "multipart/form-data; boundary=XyZzy42"
            let streamed = try await api.send(
                .post, "/api/uploads", token: owner.token, bytes: Fixture.multipart(Fixture.text(150_000), filename: "b.txt", type: "text/plain"), headers: h)
            #expect(streamed.status == 413)
            #expect(try await Self.counts(api.database) == [0, 0, 0])
            #expect(try await Self.upload(api, owner.token, Fixture.text(100_000), name: "a.txt", type: nil).status == 201)
            #expect(try await Self.upload(api, owner.token, Fixture.text(100_000), name: "b.txt", type: nil).status == 201)
            let quota = try await Self.upload(api, owner.token, Fixture.text(60_000), name: "c.txt", type: nil)
            #expect(quota.status == 413 && quota.error?.message.contains("quota") == true)
            #expect(try await Self.counts(api.database) == [2, 2, 2])
            // Another user has a quota of their own.
            let other = try await api.register("other")
            #expect(try await Self.upload(api, other.token, Fixture.text(60_000), name: "c.txt", type: nil).status == 201)
        }
    }

    @Test("an upload whose body fails half way leaves no file, no chunk and no record")
    func interrupted() async throws {
        try await TestDatabase.with { db in
            let migrated = try await MigratedDatabase(db)
            let repos = migrated.repos
            let user = try await migrated.user("uploader")
            let service = UploadService(records: db, bucket: GridFSBucket(database: db), memberships: repos.memberships, limits: UploadTests.limits())
            struct Gone: Error {}
            var sent = 0
            await #expect(throws: Gone.self) {
                _ = try await service.store(name: "half.txt", declaredType: nil, declaredLength: nil, owner: user) {
                    sent += 1
                    if sent > 12 { throw Gone() }  // 12 × 64 KiB written: three chunks stored
                    return Fixture.text(65_536)
                }
            }
            #expect(try await Self.counts(db) == [0, 0, 0])
        }
    }

    @Test("a member reads a file its message announced before the upload recorded the message (the fan-out runs first); others, and after the deletion, 404")
    func readableBeforeAttached() async throws {
        try await TestDatabase.with { db in
            let migrated = try await MigratedDatabase(db)
            let repos = migrated.repos
            let (owner, member, stranger) = (try await migrated.user("sender"), try await migrated.user("member"), try await migrated.user("stranger"))
            let rooms = RoomService(repos: repos, presence: PresenceRegistry())
            let room = try await rooms.create(.init(name: "files"), by: owner).record.id
            _ = try await rooms.join(room, user: member)
            let service = UploadService(records: db, bucket: GridFSBucket(database: db), memberships: repos.memberships, limits: UploadTests.limits())
            var sent = false
            let upload = try await service.store(name: "n.txt", declaredType: nil, declaredLength: nil, owner: owner) {
                defer { sent = true }
                return sent ? nil : Fixture.text(1_000)
            }
            // Stored and announced; `attached` has not run yet.
            let message = MessageRecord(
                roomId: room, seq: 1, senderId: owner.id, senderName: "sender", text: "see", clientId: "c1",
                extras: MessageExtras(attachments: [upload.attachment]))
            try await repos.messages.insert([message])
            #expect(try await service.readable(upload.id.hex, by: member).id == upload.id)
            await #expect(throws: ParleyError.self) { _ = try await service.readable(upload.id.hex, by: stranger) }
            _ = try await db.collection("messages").updateOne(["_id": .objectId(message.id)], ["$set": ["deletedAt": .datetime(1)]])
            await #expect(throws: ParleyError.self) { _ = try await service.readable(upload.id.hex, by: member) }
        }
    }

    @Test("attachments: own uploads only, at most 10; members read them, others 404; a message's deletion deletes its files")
    func attachments() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            func made(_ token: String, _ name: String) async throws -> WireUpload {
                try await Self.upload(api, token, Fixture.png(width: 8, height: 8), name: name, type: "image/png").decode(Made.self).upload
            }
            let a = try await made(cast.member.token, "a.png")
            let b = try await made(cast.member.token, "b.png")
            let theirs = try await made(cast.owner.token, "o.png")
            let owner = try await cast.connect(cast.owner, port: port)
            let member = try await cast.connect(cast.member, port: port)
            // Before it is attached, only the uploader reads it.
            #expect(try await api.call(.get, a.url, token: cast.owner.token).status == 404)
            let ack = try await member.request(
                "message:send", #"{"roomId": "\#(cast.room)", "text": "", "clientId": "f1", "attachments": ["\#(a.id)", "\#(b.id)"]}"#)
            try #require(ack.ok, "\(ack.raw)")
            let sent = try ack.data(V2MessageData.self).message
            #expect(sent.attachments == [a, b] && sent.text.isEmpty)
            let live = try await owner.waitFor("message:new", as: V2MessageData.self)
            #expect(live.message.attachments == [a, b])
            #expect(try await api.call(.get, a.url, token: cast.owner.token).status == 200)
            #expect(try await api.call(.get, a.url, token: cast.outsider.token).status == 404)
            let history = try await api.call(.get, "/api/messages/room/\(cast.room)", token: cast.moderator.token).decode(V2Page.self)
            #expect(history.messages.last?.attachments == [a, b])
            // The same file in a second message (REST send) stays until both are gone.
            let again = try await api.call(
                .post, "/api/rooms/\(cast.room)/messages", token: cast.member.token, json: #"{"text": "again", "clientId": "f2", "attachments": ["\#(a.id)"]}"#)
            #expect(again.status == 201)
            let notMine = try await member.request(
                "message:send", #"{"roomId": "\#(cast.room)", "text": "x", "clientId": "f3", "attachments": ["\#(theirs.id)"]}"#)
            #expect(notMine.errorCode == "not_found")
            let eleven = (0..<11).map { _ in "\"\(a.id)\"" }.joined(separator: ",")
            #expect(try await member.request("message:send", #"{"roomId": "\#(cast.room)", "text": "x", "clientId": "f4", "attachments": [\#(eleven)]}"#).errorCode == "bad_request")
            #expect(try await member.request("message:send", #"{"roomId": "\#(cast.room)", "text": "x", "clientId": "f5", "attachments": [{"$ne": 1}]}"#).errorCode == "bad_request")
            #expect(try await member.request("message:send", #"{"roomId": "\#(cast.room)", "text": "", "clientId": "f6"}"#).errorCode == "bad_request")
            #expect(try await api.call(.delete, "/api/messages/\(sent.id)", token: cast.member.token).status == 204)
            let tombstone = try await owner.waitFor("message:updated", as: V2Updated.self) { $0.message.id == sent.id }
            #expect(tombstone.message.attachments.isEmpty)
            #expect(try await api.call(.get, b.url, token: cast.member.token).status == 404)  // only the deleted message had it
            #expect(try await api.call(.get, a.url, token: cast.owner.token).status == 200)  // still in "again"
            // The room's deletion takes the rest.
            #expect(try await api.call(.delete, "/api/rooms/\(cast.room)", token: cast.owner.token).status == 204)
            #expect(try await api.call(.get, a.url, token: cast.member.token).status == 404)
            #expect(try await Self.counts(api.database) == [1, 1, 1])  // the owner's unattached upload
            await owner.close()
            await member.close()
        }
    }

    @Test("orphans: an upload attached to nothing past UPLOAD_ORPHAN_SECONDS is deleted, an attached one is kept")
    func orphans() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let kept = try await Self.upload(api, cast.member.token, Fixture.text(10), name: "kept.txt", type: nil).decode(Made.self).upload
            let lost = try await Self.upload(api, cast.member.token, Fixture.text(20), name: "lost.txt", type: nil).decode(Made.self).upload
            let member = try await cast.connect(cast.member, port: port)
            #expect(try await member.request("message:send", #"{"roomId": "\#(cast.room)", "text": "f", "clientId": "o1", "attachments": ["\#(kept.id)"]}"#).ok)
            let service = UploadService(
                records: api.database, bucket: GridFSBucket(database: api.database), memberships: api.repos.memberships,
                limits: UploadTests.limits(orphanSeconds: 60))
            #expect(try await service.purgeOrphans().count == 0)  // not old enough yet
            let stats = try await service.repository.stats()
            #expect(stats.count == 2 && stats.orphans == 1 && stats.orphanBytes == 20)
            let purged = try await service.purgeOrphans(now: Date().addingTimeInterval(120))
            #expect(purged.count == 1 && purged.bytes == 20)
            #expect(try await api.call(.get, lost.url, token: cast.member.token).status == 404)
            #expect(try await api.call(.get, kept.url, token: cast.owner.token).status == 200)
            await member.close()
        }
    }
}
