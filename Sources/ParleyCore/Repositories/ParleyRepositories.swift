import Mongo

/// The repositories of one database, passed around as one value.
public struct ParleyRepositories: Sendable {
    public let users: any UserRepository
    public let rooms: any RoomRepository
    public let memberships: any MembershipRepository
    public let messages: any MessageRepository

    public init(users: any UserRepository, rooms: any RoomRepository, memberships: any MembershipRepository, messages: any MessageRepository) {
        self.users = users
        self.rooms = rooms
        self.memberships = memberships
        self.messages = messages
    }

    /// The MongoDB implementations over `database`.
    public static func mongo(_ database: MongoDatabase) -> ParleyRepositories {
        ParleyRepositories(
            users: MongoUserRepository(database: database),
            rooms: MongoRoomRepository(database: database),
            memberships: MongoMembershipRepository(database: database),
            messages: MongoMessageRepository(database: database)
        )
    }
}
