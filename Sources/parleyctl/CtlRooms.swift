import Foundation
import Mongo
import ParleyCore

/// The room services as `parleyctl` uses them: acting as an administrator of every
/// room (the audit trail records `parleyctl` as actor with id 000…0), and telling
/// the running nodes of each change with the same pushes a server sends, as one
/// one-shot signal batch (`SignalBatch.oneShot`), so removals and deletions hold on
/// live connections at once. A single node with `CLUSTER=off` does not watch
/// signals: its clients see the change when they reconnect.
struct CtlRooms {
    let db: MongoDatabase
    let repos: ParleyRepositories
    let rooms: RoomService
    let members: MemberService
    let settings: RoomSettingsService
    let uploads: UploadService

    /// The administrator `parleyctl` acts as.
    static let system: UserRecord = {
        var u = UserRecord(id: ObjectId("000000000000000000000000")!, username: "parleyctl", displayName: "parleyctl", passwordHash: "-", role: .admin)
        u.disabled = true
        return u
    }()

    init(_ config: ParleyConfiguration, _ db: MongoDatabase) {
        self.db = db
        repos = .mongo(db)
        rooms = RoomService(repos: repos, presence: PresenceRegistry())
        members = MemberService(rooms: rooms, audit: AuditLog(repository: repos.audit, retentionDays: config.auditRetentionDays))
        settings = RoomSettingsService(members: members)
        uploads = UploadService(records: db, bucket: GridFSBucket(database: db), memberships: repos.memberships, limits: .init(config))
    }

    /// The room, as its administrator sees it; exit 1 when unknown.
    func actor(_ roomId: String) async throws -> RoomActor {
        guard let id = ObjectId(roomId) else { CtlContext.fail("not a room id: \(roomId)", CtlExit.badInput) }
        return try await rooms.actor(id, user: CtlRooms.system)
    }

    /// A user by name; exit 1 when unknown.
    func user(_ username: String) async throws -> UserRecord {
        guard let u = try await repos.users.find(username: username) else { CtlContext.fail("no such user: \(username)", CtlExit.refused) }
        return u
    }

    /// Tells the nodes; a failure here leaves the change stored (the nodes catch up
    /// at their next repair or the clients' reconnect), so it only warns.
    func tell(_ signals: [Signal]) async {
        do {
            try await SignalBatch.oneShot(signals, to: db)
        } catch {
            FileHandle.standardError.write(Data("parleyctl: warning: the running nodes were not told (\(error))\n".utf8))
        }
    }

    func added(_ room: RoomRecord, _ user: UserRecord, _ m: MembershipRecord) throws -> [Signal] {
        let wire = Room(room, membership: m)
        return [
            .subscribe(user.id, to: room.id), try .push("room:added", RoomPushes.RoomData(room: wire), toUser: user.id),
            try .push("room:user:joined", RoomPushes.Joined(roomId: room.id.hex, user: User(user, online: false), by: nil), to: room.id, except: user.id),
        ]
    }

    func removed(_ roomId: ObjectId, _ userId: ObjectId, reason: String?) throws -> [Signal] {
        let by = CtlRooms.system.id.hex
        return [
            .unsubscribe(userId, from: roomId), .gate(roomId, user: userId),
            try .push("room:user:left", RoomPushes.Left(roomId: roomId.hex, userId: userId.hex, by: by, reason: reason), to: roomId),
            try .push("room:removed", RoomPushes.Removed(roomId: roomId.hex, by: by, reason: reason, banned: false), toUser: userId),
        ]
    }
}
