import Foundation
import Mongo
import ParleyCore
import TestSupport
import Testing

@Suite("Guests: a name, a day, public events only")
struct GuestTests {
    struct World {
        let auth: AuthService
        let rooms: RoomService
        let member: UserRecord
    }

    static func world(_ db: MongoDatabase) async throws -> World {
        try await MigrationRunner(database: db, migrations: try Migration.load(directory: RepoPaths.migrations)).apply()
        let repos = ParleyRepositories.mongo(db)
        let accounts = AccountService(users: repos.users, hasher: PasswordHasher(cost: 4))
        let auth = AuthService(accounts: accounts, signer: await TokenSigner(secret: String(repeating: "s", count: 32), ttl: 3_600))
        let member = try await accounts.createUser(username: "host", password: "password123")
        return World(auth: auth, rooms: RoomService(repos: repos, presence: PresenceRegistry()), member: member)
    }

    @Test("a guest is stored as one, signs in by token only, and expires")
    func account() async throws {
        try await TestDatabase.with { db in
            let w = try await Self.world(db)
            let (token, guest) = try await w.auth.guest(displayName: "  Visitor  ", ttl: 600)
            #expect(guest.isGuest && guest.displayName == "Visitor" && guest.username.hasPrefix("guest-"))
            #expect(try await w.auth.authenticate(token: token).id == guest.id)
            let stored = try #require(try await w.auth.accounts.users.find(id: guest.id))
            #expect(stored.isGuest && stored.expiresAt != nil)
            #expect(User(stored, online: false).guest)
            // No password opens it, not even the placeholder stored in its place.
            await #expect(throws: ParleyError.self) { _ = try await w.auth.login(username: guest.username, password: stored.passwordHash) }
            // The token lives no longer than the guest (`GUEST_TTL` under `JWT_TTL`).
            let claims = try await w.auth.signer.verify(token)
            #expect(claims.exp - claims.iat <= 600)
            // Past its expiry, the account is refused whatever the token says.
            let users = db.collection("users", withType: UserRecord.self)
            _ = try await users.updateOne(["_id": .objectId(guest.id)], ["$set": ["expiresAt": .date(Date().addingTimeInterval(-1))]])
            await #expect(throws: ParleyError(.unauthorized, "this guest account has expired")) { _ = try await w.auth.authenticate(token: token) }
            await #expect(throws: ParleyError(.badRequest, "displayName must be 1 to 64 characters and not only whitespace")) {
                _ = try await w.auth.guest(displayName: "   ", ttl: 600)
            }
        }
    }

    @Test("guests join public events that let them in, and create nothing, message no one")
    func rules() async throws {
        try await TestDatabase.with { db in
            let w = try await Self.world(db)
            let guest = try await w.auth.guest(displayName: "Visitor", ttl: 600).user
            let open = try await w.rooms.create(.init(name: "open", kind: .event, guestAccess: true), by: w.member).record
            let closed = try await w.rooms.create(.init(name: "closed", kind: .event), by: w.member).record
            let group = try await w.rooms.create(.init(name: "group"), by: w.member).record
            #expect(try await w.rooms.join(open.id, user: guest).newlyJoined)
            for room in [closed, group] {
                await #expect(throws: ParleyError(.forbidden, "this room does not let guests in")) { _ = try await w.rooms.join(room.id, user: guest) }
            }
            await #expect(throws: ParleyError(.forbidden, "guests cannot create rooms")) { _ = try await w.rooms.create(.init(name: "mine"), by: guest) }
            await #expect(throws: ParleyError(.forbidden, "guests send and receive no private messages")) {
                _ = try await w.rooms.directRoom(from: guest, to: w.member.id.hex)
            }
            await #expect(throws: ParleyError(.forbidden, "guests send and receive no private messages")) {
                _ = try await w.rooms.directRoom(from: w.member, to: guest.id.hex)
            }
            // A direct room says whether this call made it.
            let other = try await w.auth.accounts.createUser(username: "other", password: "password123")
            #expect(try await w.rooms.directRoom(from: w.member, to: other.id.hex).created)
            #expect(!(try await w.rooms.directRoom(from: other, to: w.member.id.hex).created))
        }
    }
}
