import Mongo

/// The repositories of one database, passed around as one value.
public struct ParleyRepositories: Sendable {
    public let users: any UserRepository
    public let rooms: any RoomRepository
    public let memberships: any MembershipRepository
    public let messages: any MessageRepository
    public let bans: BanRepository
    public let invites: InviteRepository
    public let audit: AuditRepository

    public init(
        users: any UserRepository, rooms: any RoomRepository, memberships: any MembershipRepository, messages: any MessageRepository,
        bans: BanRepository, invites: InviteRepository, audit: AuditRepository
    ) {
        self.users = users
        self.rooms = rooms
        self.memberships = memberships
        self.messages = messages
        self.bans = bans
        self.invites = invites
        self.audit = audit
    }

    /// The MongoDB implementations over `database`.
    public static func mongo(_ database: MongoDatabase) -> ParleyRepositories {
        ParleyRepositories(
            users: MongoUserRepository(database: database),
            rooms: MongoRoomRepository(database: database),
            memberships: MongoMembershipRepository(database: database),
            messages: MongoMessageRepository(database: database),
            bans: BanRepository(database: database),
            invites: InviteRepository(database: database),
            audit: AuditRepository(database: database)
        )
    }
}
