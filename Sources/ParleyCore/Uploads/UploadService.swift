import Crypto
import Foundation
import Mongo
import Synchronization

/// Files in conversations: stored in GridFS as they arrive (never whole in memory),
/// typed by their bytes, counted against the owner's quota, readable by the owner and
/// by the members of a room where a message carries them (404 for everyone else, so
/// an id confirms nothing), deleted with the last message that carries them, or
/// after `orphanSeconds` when none ever did.
public struct UploadService: Sendable {
    public struct Limits: Sendable {
        public var maxBytes: Int
        public var quotaBytes: Int
        /// Sniffed types allowed; `*` for any known type.
        public var types: Set<String>
        public var orphanSeconds: Int
        /// Uploads in progress at once (each holds a client of `bucket`'s pool).
        public var concurrency: Int

        public init(maxBytes: Int, quotaBytes: Int, types: Set<String>, orphanSeconds: Int, concurrency: Int) {
            self.maxBytes = maxBytes
            self.quotaBytes = quotaBytes
            self.types = types
            self.orphanSeconds = orphanSeconds
            self.concurrency = concurrency
        }

        public init(_ config: ParleyConfiguration) {
            self.init(
                maxBytes: config.maxUploadBytes, quotaBytes: config.uploadQuotaBytes, types: config.uploadTypes,
                orphanSeconds: config.uploadOrphanSeconds, concurrency: config.uploadConcurrency)
        }
    }

    /// At most this many attachments on one message.
    public static let maxAttachments = 10
    /// Bytes gathered before each write to GridFS (fewer hops to the Mongo threads).
    static let writeBytes = 256 * 1024

    public let repository: UploadRepository
    public let bucket: GridFSBucket
    let memberships: any MembershipRepository
    public let limits: Limits
    private let inProgress = Counter()

    /// `bucket` on a client of its own (`UPLOAD_CONCURRENCY` clients), so that long
    /// uploads never take the clients the message path needs.
    public init(records: MongoDatabase, bucket: GridFSBucket, memberships: any MembershipRepository, limits: Limits) {
        repository = UploadRepository(database: records)
        self.bucket = bucket
        self.memberships = memberships
        self.limits = limits
    }

    /// A file name as stored and shown: its last path component, without control
    /// characters, at most 255 characters; "file" when nothing is left.
    public static func cleanName(_ raw: String?) -> String {
        let last = (raw ?? "").split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let kept = String(String.UnicodeScalarView(last.unicodeScalars.filter { !$0.properties.isWhitespace || $0 == " " }.filter {
            $0.properties.generalCategory != .control && $0.properties.generalCategory != .format
        }))
        let trimmed = String(kept.trimmingCharacters(in: .whitespaces).prefix(255))
        return trimmed.isEmpty || trimmed == "." || trimmed == ".." ? "file" : trimmed
    }

    /// Stores the bytes `next` yields (nil at the end) as `name`; the upload made.
    /// `declaredType` and `declaredLength` are what the request said.
    public func store(
        name rawName: String?, declaredType: String?, declaredLength: Int?, owner: UserRecord, next: () async throws -> [UInt8]?
    ) async throws -> UploadRecord {
        guard !owner.isGuest else { throw ParleyError(.forbidden, "guests cannot upload files") }
        guard (rawName ?? "").unicodeScalars.count <= 1_000 else { throw ParleyError(.badRequest, "name must be at most 1,000 characters") }
        let name = Self.cleanName(rawName)
        if let n = declaredLength, n > limits.maxBytes { throw Self.tooLarge(limits.maxBytes) }
        guard inProgress.take(limit: limits.concurrency) else {
            throw ParleyError(.unavailable, "too many uploads in progress on this server; try again in a moment", retryAfterMs: 1_000)
        }
        defer { inProgress.give() }
        let used = try await repository.bytes(ownerId: owner.id)
        if used + (declaredLength ?? 0) > limits.quotaBytes { throw quotaExceeded(used) }

        // The head decides the type before anything is written.
        var head: [UInt8] = []
        var ended = false
        while head.count < FileType.sniffBytes {
            guard let chunk = try await next() else { ended = true; break }
            head += chunk
            if head.count > limits.maxBytes { throw Self.tooLarge(limits.maxBytes) }
        }
        guard !head.isEmpty else { throw ParleyError(.badRequest, "the file is empty: an upload needs at least one byte") }
        if used + head.count > limits.quotaBytes { throw quotaExceeded(used) }
        let type = FileType.sniff(head)
        try check(type: type, declared: declaredType, name: name)
        let size = FileType.dimensions(head, type: type)

        let id = ObjectId()
        let upload = try await bucket.openUpload(id: id, filename: name, metadata: ["ownerId": .objectId(owner.id), "contentType": .string(type)])
        var hash = SHA256()
        var total = 0
        do {
            var pending = head
            if !ended {
                while let chunk = try await next() {
                    pending += chunk
                    if total + pending.count > limits.maxBytes { throw Self.tooLarge(limits.maxBytes) }
                    if used + total + pending.count > limits.quotaBytes { throw quotaExceeded(used) }
                    if pending.count >= Self.writeBytes {
                        hash.update(data: pending)
                        try await upload.write(pending)
                        total += pending.count
                        pending.removeAll(keepingCapacity: true)
                    }
                }
            }
            hash.update(data: pending)
            try await upload.write(pending)
            total += pending.count
            try await upload.finish()
        } catch {
            // A refusal or a client gone half way: the chunks written are deleted.
            await upload.abort()
            throw error
        }
        let sha = hash.finalize().map { String(format: "%02x", $0) }.joined()
        let record = UploadRecord(
            id: id, ownerId: owner.id, name: name, contentType: type, size: total, sha256: sha, width: size?.width, height: size?.height)
        do {
            try await repository.insert(record)
        } catch {
            _ = try? await bucket.delete(id: id)
            throw error
        }
        return record
    }

    private func check(type: String, declared: String?, name: String) throws {
        guard limits.types.contains(type) || (limits.types.contains("*") && type != FileType.octetStream) else {
            throw ParleyError(.badRequest, "files of type \(type) are not accepted (allowed: \(limits.types.sorted().joined(separator: ", ")))")
        }
        if let declared, !FileType.agrees(declared: declared, sniffed: type) {
            throw ParleyError(.badRequest, "the file's bytes are \(type), not the \(declared) it was sent as")
        }
        if let byName = FileType.forName(name), !FileType.agrees(declared: byName, sniffed: type) {
            throw ParleyError(.badRequest, "the file's bytes are \(type), not what its name \"\(name)\" says (\(byName))")
        }
    }

    static func tooLarge(_ max: Int) -> ParleyError { ParleyError(.tooLarge, "uploads are at most \(max) bytes") }

    private func quotaExceeded(_ used: Int) -> ParleyError {
        ParleyError(.tooLarge, "upload quota exceeded: your files hold \(used) of \(limits.quotaBytes) bytes; delete messages with files to make room")
    }

    /// An upload `user` may read: theirs, or attached in a room they are a member of.
    /// Anything else, an unknown id included, is `not_found`.
    public func readable(_ rawId: String, by user: UserRecord) async throws -> UploadRecord {
        guard let id = ObjectId(rawId), let upload = try await repository.find(id: id) else { throw Self.notFound }
        if upload.ownerId == user.id { return upload }
        for roomId in Set(upload.refs.map(\.roomId)) where try await memberships.find(roomId: roomId, userId: user.id) != nil {
            return upload
        }
        // A message goes out to its room as it is stored, and its files learn of it
        // (`attached`) just after: a member who fetches in between is answered by the
        // message itself (indexed, `0007`).
        if let roomId = try await carryingRoom(of: id), try await memberships.find(roomId: roomId, userId: user.id) != nil {
            return upload
        }
        throw Self.notFound
    }

    /// The room of a live message that carries upload `id`, if any.
    private func carryingRoom(of id: ObjectId) async throws -> ObjectId? {
        let messages = repository.uploads.database.collection("messages")
        let found = try await messages.findOne(
            ["attachments.id": .objectId(id), "deletedAt": .null], options: FindOptions(projection: ["roomId": 1]))
        return found?["roomId"]?.objectIdValue
    }

    static let notFound = ParleyError(.notFound, "no such upload")

    /// Writes bytes `range` of a stored file, a few chunks at a time.
    public func read(_ upload: UploadRecord, range: ClosedRange<Int>, to write: ([UInt8]) async throws -> Void) async throws {
        let cs = GridFSBucket.chunkSize
        var n = range.lowerBound / cs
        let lastChunk = range.upperBound / cs
        while n <= lastChunk {
            let upper = min(lastChunk, n + 3)
            let chunks = try await bucket.chunks(of: upload.id, n...upper)
            guard chunks.count == upper - n + 1 else { throw ParleyError(.internal, "the file's chunks are incomplete") }
            for (k, data) in chunks.enumerated() {
                let start = (n + k) * cs
                let from = max(range.lowerBound - start, 0), to = min(range.upperBound - start, data.count - 1)
                if from <= to { try await write(Array(data[from...to])) }
            }
            n = upper + 1
        }
    }

    /// What a message carries of `ids`: at most 10 distinct ids of `user`'s own uploads.
    public func attachments(_ ids: [String], by user: UserRecord) async throws -> [Attachment] {
        guard !ids.isEmpty else { return [] }
        guard ids.count <= Self.maxAttachments else { throw ParleyError(.badRequest, "at most \(Self.maxAttachments) attachments per message") }
        var parsed: [ObjectId] = []
        for raw in ids {
            guard let id = ObjectId(raw) else { throw ParleyError(.badRequest, "attachments must be upload ids") }
            if !parsed.contains(id) { parsed.append(id) }
        }
        let found = Dictionary(uniqueKeysWithValues: try await repository.find(ids: parsed).map { ($0.id, $0) })
        return try parsed.map { id in
            // Someone else's upload is as unknown as one that does not exist.
            guard let u = found[id], u.ownerId == user.id else { throw ParleyError(.notFound, "no such upload of yours: \(id.hex)") }
            return u.attachment
        }
    }

    /// Records that a stored message carries its attachments.
    public func attached(_ message: MessageRecord) async throws {
        guard let a = message.attachments, !a.isEmpty else { return }
        try await repository.attach(a.map(\.id), messageId: message.id, roomId: message.roomId)
    }

    /// Deletes the files only `messageId` carried (its deletion).
    @discardableResult
    public func messageDeleted(_ messageId: ObjectId) async throws -> Int {
        try await delete(try await repository.detach(messageId: messageId))
    }

    /// Deletes the files only the messages of `roomId` carried (its deletion).
    @discardableResult
    public func roomDeleted(_ roomId: ObjectId) async throws -> Int {
        try await delete(try await repository.detach(roomId: roomId))
    }

    /// The same service with another orphan age (`parleyctl uploads purge-orphans --older-than`).
    public func withOrphanSeconds(_ seconds: Int) -> UploadService {
        var limits = self.limits
        limits.orphanSeconds = seconds
        return UploadService(records: repository.uploads.database, bucket: bucket, memberships: memberships, limits: limits)
    }

    /// Deletes uploads attached to no message for `orphanSeconds`; how many, and their bytes.
    public func purgeOrphans(now: Date = Date()) async throws -> (count: Int, bytes: Int) {
        var count = 0, bytes = 0
        while true {
            let batch = try await repository.orphans(before: now.addingTimeInterval(-Double(limits.orphanSeconds)), limit: 100)
            if batch.isEmpty { return (count, bytes) }
            count += try await delete(batch)
            bytes += batch.reduce(0) { $0 + $1.size }
            if batch.count < 100 { return (count, bytes) }
        }
    }

    /// Deletes uploads that still have no reference (one attached meanwhile stays),
    /// the record first: a file whose bytes went first would be listed and unreadable.
    private func delete(_ uploads: [UploadRecord]) async throws -> Int {
        var n = 0
        for u in uploads where try await repository.removeIfUnreferenced(id: u.id) {
            _ = try await bucket.delete(id: u.id)
            n += 1
        }
        return n
    }
}

/// How many of something are in progress, up to a limit.
final class Counter: Sendable {
    private let value = Mutex(0)

    func take(limit: Int) -> Bool {
        value.withLock { v in
            guard v < limit else { return false }
            v += 1
            return true
        }
    }

    func give() { value.withLock { $0 -= 1 } }
}
