import Foundation
import Mongo
import ParleyCore
import Testing

/// A room with an owner, a moderator and a member, plus an outsider and an admin:
/// every role of the contract's authorisation rules.
struct Cast {
    let owner: (token: String, id: String)
    let moderator: (token: String, id: String)
    let member: (token: String, id: String)
    let outsider: (token: String, id: String)
    let admin: (token: String, id: String)
    let room: String

    static func make(_ api: Api, private isPrivate: Bool = true) async throws -> Cast {
        let owner = try await api.register("owner")
        let moderator = try await api.register("moderator")
        let member = try await api.register("member")
        let outsider = try await api.register("outsider")
        let accounts = AccountService(users: api.repos.users, hasher: PasswordHasher(cost: 4))
        let root = try await accounts.createUser(username: "root", password: "password123", role: .admin)
        let login = try await api.call(.post, "/api/auth/login", json: #"{"username": "root", "password": "password123"}"#)
        let admin = (try login.decode(Wire.Session.self).token, root.id.hex)
        let room = try await api.createRoom(
            owner.token, #"{"name": "crew", "private": \#(isPrivate), "memberIds": ["\#(moderator.id)", "\#(member.id)"]}"#)
        let promoted = try await api.call(.put, "/api/rooms/\(room)/members/\(moderator.id)/role", token: owner.token, json: #"{"role": "moderator"}"#)
        try #require(promoted.status == 200, "promote: \(promoted.status) \(String(decoding: promoted.body, as: UTF8.self))")
        return Cast(owner: owner, moderator: moderator, member: member, outsider: outsider, admin: admin, room: room)
    }

    /// A connection of one of the cast, past `sync:done`.
    func connect(_ who: (token: String, id: String), port: Int) async throws -> WSTestClient {
        let ws = WSTestClient(port: port, token: who.token)
        _ = try await ws.sync()
        return ws
    }

    /// A `message:send` to the cast's room; the ack.
    func send(_ ws: WSTestClient, _ text: String, clientId: String) async throws -> Frame {
        try await ws.request("message:send", #"{"roomId": "\#(room)", "text": "\#(text)", "clientId": "\#(clientId)"}"#)
    }

    func members(_ api: Api) async throws -> [String: String] {
        let r = try await api.call(.get, "/api/rooms/\(room)/members", token: owner.token)
        return Dictionary(uniqueKeysWithValues: try r.decode(Wire.Members.self).members.map { ($0.user.id, $0.role) })
    }
}

@Suite("Rooms people can run: members, roles, moderation, invites, settings, audit")
struct RoomAdminTests {
    @Test("a group conversation is created with its members: private by default, the creator its owner, each member told by room:added")
    func groupConversation() async throws {
        try await RestHarness.live { api, port in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let bobWS = WSTestClient(port: port, token: bob.token)
            _ = try await bobWS.sync()
            let r = try await api.call(.post, "/api/rooms", token: alice.token, json: #"{"name": "trio", "memberIds": ["\#(bob.id)", "\#(carol.id)"]}"#)
            #expect(r.status == 201)
            let room = try r.decode(Wire.RoomData.self).room
            #expect(room.private && room.memberCount == 3 && room.role == "owner" && !room.archived)
            let added = try await bobWS.waitFor("room:added", as: Wire.RoomData.self)
            #expect(added.room.id == room.id && added.room.role == "member")
            // Bob's connection gets the room's messages from now on.
            let aliceWS = WSTestClient(port: port, token: alice.token)
            _ = try await aliceWS.sync()
            let sent = try await aliceWS.request("message:send", #"{"roomId": "\#(room.id)", "text": "hi both", "clientId": "g1"}"#).message()
            #expect(try await bobWS.waitFor(type: "message:new").message() == sent)
            let members = try await api.call(.get, "/api/rooms/\(room.id)/members", token: carol.token).decode(Wire.Members.self)
            #expect(Set(members.members.map(\.user.id)) == [alice.id, bob.id, carol.id] && !members.hasMore)
            #expect(members.members.first { $0.user.id == alice.id }?.role == "owner")
            // Unknown members refuse the whole creation.
            let bad = try await api.call(.post, "/api/rooms", token: alice.token, json: #"{"name": "x", "memberIds": ["\#(ObjectId().hex)"]}"#)
            #expect(bad.status == 404)
            let injected = try await api.call(.post, "/api/rooms", token: alice.token, json: #"{"name": "x", "memberIds": [{"$gt": ""}]}"#)
            #expect(injected.status == 400)
            await aliceWS.close()
            await bobWS.close()
        }
    }

    @Test("members: moderators add members, owners add any role; members and outsiders cannot; paging by user id")
    func addAndList() async throws {
        try await RestHarness.with { api in
            let cast = try await Cast.make(api)
            let dave = try await api.register("dave")
            let path = "/api/rooms/\(cast.room)/members"
            // A private room is invisible to outsiders (404), closed to plain members (403).
            #expect(try await api.call(.post, path, token: cast.outsider.token, json: #"{"userIds": ["\#(dave.id)"]}"#).status == 404)
            #expect(try await api.call(.post, path, token: cast.member.token, json: #"{"userIds": ["\#(dave.id)"]}"#).status == 403)
            #expect(try await api.call(.post, path, token: cast.moderator.token, json: #"{"userIds": ["\#(dave.id)"], "role": "moderator"}"#).status == 403)
            let added = try await api.call(.post, path, token: cast.moderator.token, json: #"{"userIds": ["\#(dave.id)", "\#(cast.member.id)"]}"#)
            #expect(added.status == 200)
            let reply = try added.decode(Wire.Added.self)
            #expect(reply.added == [dave.id] && reply.room.memberCount == 4)
            #expect(try await api.call(.get, "/api/rooms/\(cast.room)", token: dave.token).status == 200)
            #expect(try await api.call(.post, path, token: cast.owner.token, json: #"{"userIds": []}"#).status == 400)
            #expect(try await api.call(.post, path, token: cast.owner.token, json: #"{"userIds": ["nope"]}"#).status == 404)
            #expect(try await api.call(.post, path, token: cast.owner.token, json: #"{"userIds": ["\#(dave.id)"], "role": "king"}"#).status == 400)
            // Paging: two at a time, in user id order, every member once.
            var seen: [String] = []
            var after = ""
            while true {
                let page = try await api.call(.get, "\(path)?limit=2\(after)", token: cast.member.token).decode(Wire.Members.self)
                seen += page.members.map(\.user.id)
                guard page.hasMore, let last = page.members.last else { break }
                after = "&after=\(last.user.id)"
            }
            #expect(seen == seen.sorted() && Set(seen).count == 4 && seen.count == 4)
            #expect(try await api.call(.get, "\(path)?limit=0", token: cast.owner.token).status == 400)
            #expect(try await api.call(.get, path, token: cast.outsider.token).status == 404)
            #expect(try await api.call(.get, path, token: cast.admin.token).status == 200)
        }
    }

    @Test("a removal takes effect at once on the removed user's sockets: room:removed, then nothing more; the room hears who and why")
    func removal() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let ownerWS = WSTestClient(port: port, token: cast.owner.token)
            let memberWS = WSTestClient(port: port, token: cast.member.token)
            let memberPhone = WSTestClient(port: port, token: cast.member.token)
            for ws in [ownerWS, memberWS, memberPhone] { _ = try await ws.sync() }
            // A member cannot remove the moderator; the moderator removes the member.
            let denied = try await memberWS.request("room:members:remove", #"{"roomId": "\#(cast.room)", "userId": "\#(cast.moderator.id)"}"#)
            #expect(denied.errorCode == "forbidden")
            // Removing oneself is leaving, but a reason over 500 characters is refused
            // there too (schemathesis found it accepted), and nothing changes.
            let long = String(repeating: "¥", count: 501)
            let tooLong = try await api.call(
                .delete, "/api/rooms/\(cast.room)/members/\(cast.moderator.id)", token: cast.moderator.token, json: #"{"reason": "\#(long)"}"#)
            #expect(tooLong.status == 400 && tooLong.errorCode == "bad_request")
            #expect(try await api.repos.memberships.find(roomId: ObjectId(cast.room)!, userId: ObjectId(cast.moderator.id)!) != nil)
            let kick = try await api.call(.delete, "/api/rooms/\(cast.room)/members/\(cast.member.id)", token: cast.moderator.token, json: #"{"reason": "spam"}"#)
            #expect(kick.status == 200)
            for ws in [memberWS, memberPhone] {
                let removed = try await ws.waitFor("room:removed", as: Wire.Removed.self)
                #expect(removed.roomId == cast.room && removed.by == cast.moderator.id && removed.reason == "spam")
            }
            let left = try await ownerWS.waitFor("room:user:left", as: Wire.UserLeft.self)
            #expect(left.userId == cast.member.id && left.by == cast.moderator.id && left.reason == "spam")
            _ = try await cast.send(ownerWS, "after", clientId: "a1")
            _ = try await ownerWS.request("typing", #"{"roomId": "\#(cast.room)", "isTyping": true}"#)
            for ws in [memberWS, memberPhone] {
                #expect(try await ws.receivedNone(of: "message:new"))
                #expect(try await ws.receivedNone(of: "typing"))
            }
            // Their sends are refused; the room is invisible again (private).
            let send = try await cast.send(memberWS, "still here?", clientId: "m1")
            #expect(send.errorCode == "not_found")
            #expect(try await api.call(.get, "/api/messages/room/\(cast.room)", token: cast.member.token).status == 404)
            // Reconnecting, the offline flush skips the room.
            await memberWS.close()
            let again = WSTestClient(port: port, token: cast.member.token)
            let sync = try await again.sync()
            let readyRooms = try sync.ready.data(Wire.Ready.self).rooms
            #expect(sync.messages.isEmpty && !readyRooms.contains { $0.id == cast.room })
            #expect(try await api.call(.delete, "/api/rooms/\(cast.room)/members/\(cast.member.id)", token: cast.owner.token).status == 404)
            for ws in [ownerWS, memberPhone, again] { await ws.close() }
        }
    }

    @Test("roles: only owners change them; the last owner cannot be demoted or leave while others remain")
    func roles() async throws {
        try await RestHarness.with { api in
            let cast = try await Cast.make(api)
            let role = { (who: String, target: String, r: String) in
                try await api.call(.put, "/api/rooms/\(cast.room)/members/\(target)/role", token: who, json: #"{"role": "\#(r)"}"#)
            }
            #expect(try await role(cast.moderator.token, cast.member.id, "moderator").status == 403)
            #expect(try await role(cast.member.token, cast.member.id, "owner").status == 403)
            #expect(try await role(cast.owner.token, cast.owner.id, "member").status == 409)
            #expect(try await api.call(.post, "/api/rooms/\(cast.room)/leave", token: cast.owner.token).status == 409)
            let promoted = try await role(cast.owner.token, cast.member.id, "owner")
            #expect(try promoted.status == 200 && promoted.decode(Wire.MemberData.self).member.role == "owner")
            // Now two owners: one may step down or leave.
            #expect(try await role(cast.member.token, cast.owner.id, "moderator").status == 200)
            #expect(try await cast.members(api)[cast.owner.id] == "moderator")
            #expect(try await role(cast.member.token, cast.member.id, "member").status == 409)
            #expect(try await role(cast.member.token, cast.owner.id, "owner").status == 200)
            #expect(try await api.call(.post, "/api/rooms/\(cast.room)/leave", token: cast.owner.token).status == 200)
            let room = try #require(try await api.repos.rooms.find(id: ObjectId(cast.room)!))
            #expect(room.ownerCount == 1 && room.memberCount == 2)
            // The last member may leave as the last owner.
            _ = try await api.call(.delete, "/api/rooms/\(cast.room)/members/\(cast.moderator.id)", token: cast.member.token)
            #expect(try await api.call(.post, "/api/rooms/\(cast.room)/leave", token: cast.member.token).status == 200)
            #expect(try await api.repos.rooms.find(id: ObjectId(cast.room)!)?.memberCount == 0)
        }
    }

    @Test("race: two owners demoting each other at once leave exactly one owner, every time")
    func ownersDemotingEachOther() async throws {
        try await RestHarness.with { api in
            let cast = try await Cast.make(api)
            let room = cast.room
            let path: @Sendable (String) -> String = { target in "/api/rooms/\(room)/members/\(target)/role" }
            for round in 0..<6 {
                let p = try await api.call(.put, path(cast.member.id), token: cast.owner.token, json: #"{"role": "owner"}"#)
                try #require(p.status == 200, "round \(round): \(p.status)")
                async let a = api.call(.put, path(cast.member.id), token: cast.owner.token, json: #"{"role": "member"}"#)
                async let b = api.call(.put, path(cast.owner.id), token: cast.member.token, json: #"{"role": "member"}"#)
                let (ra, rb) = try await (a, b)
                #expect([ra.status, rb.status].filter { $0 == 200 }.count == 1, "round \(round): \(ra.status) \(rb.status)")
                let roles = try await cast.members(api)
                let owners = roles.filter { $0.value == "owner" }.map(\.key)
                #expect(owners.count == 1, "round \(round): \(roles)")
                #expect(try await api.repos.rooms.find(id: ObjectId(cast.room)!)?.ownerCount == 1)
                // Put the original owner back in charge for the next round.
                if owners == [cast.member.id] {
                    _ = try await api.call(.put, path(cast.owner.id), token: cast.member.token, json: #"{"role": "owner"}"#)
                    _ = try await api.call(.put, path(cast.member.id), token: cast.owner.token, json: #"{"role": "member"}"#)
                }
            }
        }
    }

    @Test("bans: the member is removed, joins and invites are refused until unbanned; only moderators and owners ban lower roles")
    func bans() async throws {
        try await RestHarness.with { api in
            let cast = try await Cast.make(api, private: false)
            let bans = "/api/rooms/\(cast.room)/bans"
            #expect(try await api.call(.post, bans, token: cast.member.token, json: #"{"userId": "\#(cast.outsider.id)"}"#).status == 403)
            #expect(try await api.call(.post, bans, token: cast.moderator.token, json: #"{"userId": "\#(cast.owner.id)"}"#).status == 403)
            #expect(try await api.call(.post, bans, token: cast.moderator.token, json: #"{"userId": "\#(cast.member.id)", "until": "2001-01-01T00:00:00Z"}"#).status == 400)
            let ban = try await api.call(.post, bans, token: cast.moderator.token, json: #"{"userId": "\#(cast.member.id)", "reason": "abuse"}"#)
            #expect(ban.status == 200)
            #expect(try await cast.members(api)[cast.member.id] == nil)
            let join = try await api.call(.post, "/api/rooms/\(cast.room)/join", token: cast.member.token)
            #expect(join.status == 403 && join.errorCode == "forbidden")
            let invite = try await api.call(.post, "/api/rooms/\(cast.room)/invites", token: cast.owner.token, json: "{}").decode(Wire.InviteData.self).invite
            #expect(try await api.call(.post, "/api/invites/\(invite.code)/accept", token: cast.member.token).status == 403)
            #expect(try await api.call(.post, "/api/rooms/\(cast.room)/members", token: cast.owner.token, json: #"{"userIds": ["\#(cast.member.id)"]}"#).status == 403)
            // A non-member can be banned ahead; the list shows both.
            #expect(try await api.call(.post, bans, token: cast.owner.token, json: #"{"userId": "\#(cast.outsider.id)", "until": "2999-01-01T00:00:00Z"}"#).status == 200)
            let list = try await api.call(.get, bans, token: cast.moderator.token).decode(Wire.Bans.self).bans
            #expect(Set(list.map(\.userId)) == [cast.member.id, cast.outsider.id])
            #expect(list.first { $0.userId == cast.member.id }?.reason == "abuse" && list.first { $0.userId == cast.member.id }?.until == nil)
            #expect(try await api.call(.get, bans, token: cast.member.token).status == 403)
            #expect(try await api.call(.delete, "\(bans)/\(cast.member.id)", token: cast.moderator.token).status == 200)
            #expect(try await api.call(.delete, "\(bans)/\(cast.member.id)", token: cast.moderator.token).status == 404)
            #expect(try await api.call(.post, "/api/rooms/\(cast.room)/join", token: cast.member.token).status == 200)
        }
    }

    @Test("mutes: sends and typing refused with mutedUntil until unmuted; the room hears of it")
    func mutes() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let memberWS = WSTestClient(port: port, token: cast.member.token)
            let ownerWS = WSTestClient(port: port, token: cast.owner.token)
            _ = try await memberWS.sync()
            _ = try await ownerWS.sync()
            // Warm the gate: a send before the mute must not let one through after it.
            #expect(try await cast.send(memberWS, "before", clientId: "b1").ok)
            let until = "2999-01-01T00:00:00.000Z"
            #expect(try await api.call(.post, "/api/rooms/\(cast.room)/mutes", token: cast.member.token, json: #"{"userId": "\#(cast.moderator.id)"}"#).status == 403)
            #expect(try await api.call(.post, "/api/rooms/\(cast.room)/mutes", token: cast.moderator.token, json: #"{"userId": "\#(cast.member.id)", "until": "\#(until)"}"#).status == 200)
            _ = try await ownerWS.waitFor(type: "room:muted")
            let refused = try await cast.send(memberWS, "muted?", clientId: "b2")
            #expect(refused.errorCode == "forbidden" && refused.error?.mutedUntil == until)
            #expect(try await memberWS.request("typing", #"{"roomId": "\#(cast.room)", "isTyping": true}"#).errorCode == "forbidden")
            #expect(try await cast.members(api)[cast.member.id] == "member")
            let member = try await api.call(.get, "/api/rooms/\(cast.room)/members", token: cast.owner.token).decode(Wire.Members.self)
            #expect(member.members.first { $0.user.id == cast.member.id }?.mutedUntil == until)
            #expect(try await api.call(.delete, "/api/rooms/\(cast.room)/mutes/\(cast.member.id)", token: cast.moderator.token).status == 200)
            _ = try await ownerWS.waitFor(type: "room:unmuted")
            #expect(try await cast.send(memberWS, "back", clientId: "b3").ok)
            #expect(try await api.call(.post, "/api/rooms/\(cast.room)/mutes", token: cast.moderator.token, json: #"{"userId": "\#(cast.member.id)", "until": "2001-01-01T00:00:00Z"}"#).status == 400)
            let stored = try await api.call(.get, "/api/messages/room/\(cast.room)", token: cast.owner.token).decode(Wire.History.self).messages
            #expect(stored.map(\.text) == ["before", "back"])
            await memberWS.close()
            await ownerWS.close()
        }
    }

    @Test("settings: moderators rename, owners archive; an archived room keeps its history and refuses sends; room:updated to members")
    func settingsAndArchive() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let memberWS = try await cast.connect(cast.member, port: port)
            #expect(try await cast.send(memberWS, "kept", clientId: "k1").ok)
            let path = "/api/rooms/\(cast.room)"
            #expect(try await api.call(.patch, path, token: cast.member.token, json: #"{"name": "mine"}"#).status == 403)
            let renamed = try await api.call(.patch, path, token: cast.moderator.token, json: #"{"name": "Crew 2", "topic": "ops"}"#)
            #expect(try renamed.status == 200 && renamed.decode(Wire.RoomData.self).room.name == "Crew 2")
            let pushed = try await memberWS.waitFor("room:updated", as: Wire.RoomData.self)
            #expect(pushed.room.name == "Crew 2" && pushed.room.topic == "ops" && pushed.room.role == nil)
            #expect(try await api.call(.patch, path, token: cast.moderator.token, json: #"{"archived": true}"#).status == 403)
            #expect(try await api.call(.patch, path, token: cast.owner.token, json: #"{"guestAccess": true}"#).status == 400)
            #expect(try await api.call(.patch, path, token: cast.owner.token, json: #"{}"#).status == 400)
            #expect(try await api.call(.patch, path, token: cast.owner.token, json: #"{"name": {"$ne": 1}}"#).status == 400)
            let cleared = try await api.call(.patch, path, token: cast.moderator.token, json: #"{"topic": null}"#)
            #expect(try cleared.decode(Wire.RoomData.self).room.topic == nil)
            #expect(try await api.call(.patch, path, token: cast.owner.token, json: #"{"archived": true}"#).decode(Wire.RoomData.self).room.archived)
            _ = try await memberWS.waitFor("room:updated", as: Wire.RoomData.self) { $0.room.archived }
            let refused = try await cast.send(memberWS, "late", clientId: "k2")
            #expect(refused.errorCode == "forbidden")
            #expect(try await api.call(.patch, path, token: cast.moderator.token, json: #"{"name": "x"}"#).status == 403)
            let history = try await api.call(.get, "/api/messages/room/\(cast.room)", token: cast.member.token).decode(Wire.History.self)
            #expect(history.messages.map(\.text) == ["kept"])
            #expect(try await api.call(.patch, path, token: cast.admin.token, json: #"{"archived": false}"#).status == 200)
            #expect(try await cast.send(memberWS, "open again", clientId: "k3").ok)
            await memberWS.close()
        }
    }

    @Test("delete: owners and admins only; members hear room:deleted; the room, memberships and messages are gone")
    func delete() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let memberWS = try await cast.connect(cast.member, port: port)
            #expect(try await cast.send(memberWS, "bye", clientId: "d1").ok)
            #expect(try await api.call(.delete, "/api/rooms/\(cast.room)", token: cast.moderator.token).status == 403)
            #expect(try await api.call(.delete, "/api/rooms/\(cast.room)", token: cast.outsider.token).status == 404)
            #expect(try await api.call(.delete, "/api/rooms/\(cast.room)", token: cast.owner.token).status == 204)
            #expect(try await memberWS.waitFor("room:deleted", as: Wire.RoomId.self).roomId == cast.room)
            #expect(try await api.call(.get, "/api/rooms/\(cast.room)", token: cast.owner.token).status == 404)
            let id = ObjectId(cast.room)!
            #expect(try await api.database.collection("memberships").countDocuments(["roomId": .objectId(id)]) == 0)
            #expect(try await api.database.collection("messages").countDocuments(["roomId": .objectId(id)]) == 0)
            #expect(try await cast.send(memberWS, "ghost", clientId: "d2").errorCode == "not_found")
            // The audit entry outlives the room, for admins.
            let audit = try await api.call(.get, "/api/rooms/\(cast.room)/audit", token: cast.admin.token)
            #expect(audit.status == 404)
            #expect(try await api.database.collection("audit").countDocuments(["roomId": .objectId(id), "action": "room.deleted"]) == 1)
            // An admin deletes any room.
            let other = try await api.createRoom(cast.outsider.token, #"{"name": "theirs"}"#)
            #expect(try await api.call(.delete, "/api/rooms/\(other)", token: cast.admin.token).status == 204)
            await memberWS.close()
        }
    }

    @Test("invites: a code joins a private room within its uses and lifetime; revoked by its maker; members and outsiders cannot make one")
    func invites() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let dave = try await api.register("dave")
            let erin = try await api.register("erin")
            let path = "/api/rooms/\(cast.room)/invites"
            #expect(try await api.call(.post, path, token: cast.member.token, json: "{}").status == 403)
            #expect(try await api.call(.post, path, token: cast.outsider.token, json: "{}").status == 404)
            #expect(try await api.call(.post, path, token: cast.owner.token, json: #"{"maxUses": 0}"#).status == 400)
            #expect(try await api.call(.post, path, token: cast.owner.token, json: #"{"expiresInSeconds": 5}"#).status == 400)
            let made = try await api.call(.post, path, token: cast.moderator.token, json: #"{"maxUses": 1, "expiresInSeconds": 3600}"#)
            #expect(made.status == 201)
            let invite = try made.decode(Wire.InviteData.self).invite
            #expect(invite.maxUses == 1 && invite.uses == 0 && invite.roomId == cast.room && invite.code.count == 12)
            let ownerWS = try await cast.connect(cast.owner, port: port)
            // Two accept at once: one gets in, the other finds it used up.
            async let d = api.call(.post, "/api/invites/\(invite.code)/accept", token: dave.token)
            async let e = api.call(.post, "/api/invites/\(invite.code)/accept", token: erin.token)
            let (rd, re) = try await (d, e)
            #expect([rd.status, re.status].sorted() == [200, 404])
            let joiner = rd.status == 200 ? dave.id : erin.id
            #expect(try await ownerWS.waitFor("room:user:joined", as: Wire.UserJoined.self).user.id == joiner)
            let winner = rd.status == 200 ? rd : re
            #expect(try winner.decode(Wire.RoomData.self).room.role == "member")
            // A member accepting again uses nothing and gets the room.
            #expect(try await api.call(.post, "/api/invites/\(invite.code)/accept", token: rd.status == 200 ? dave.token : erin.token).status == 200)
            #expect(try await api.call(.post, "/api/invites/nonsense/accept", token: dave.token).status == 404)
            let open = try await api.call(.post, path, token: cast.owner.token, json: "{}").decode(Wire.InviteData.self).invite
            #expect(open.maxUses == nil)
            #expect(try await api.call(.get, path, token: cast.moderator.token).status == 200)
            #expect(try await api.call(.delete, "/api/invites/\(open.code)", token: cast.member.token).status == 403)
            #expect(try await api.call(.delete, "/api/invites/\(open.code)", token: cast.owner.token).status == 204)
            #expect(try await api.call(.post, "/api/invites/\(open.code)/accept", token: cast.outsider.token).status == 404)
            await ownerWS.close()
        }
    }

    @Test("audit: every moderation action and room change, newest first, for owners and admins only")
    func audit() async throws {
        try await RestHarness.with { api in
            let cast = try await Cast.make(api)
            _ = try await api.call(.delete, "/api/rooms/\(cast.room)/members/\(cast.member.id)", token: cast.owner.token, json: #"{"reason": "cleanup"}"#)
            _ = try await api.call(.patch, "/api/rooms/\(cast.room)", token: cast.owner.token, json: #"{"name": "renamed"}"#)
            let path = "/api/rooms/\(cast.room)/audit"
            #expect(try await api.call(.get, path, token: cast.moderator.token).status == 403)
            #expect(try await api.call(.get, path, token: cast.outsider.token).status == 404)
            let page = try await api.call(.get, "\(path)?limit=2", token: cast.owner.token).decode(Wire.Audit.self)
            #expect(page.entries.map(\.action) == ["room.updated", "member.removed"] && page.hasMore)
            #expect(page.entries[1].targetId == cast.member.id && page.entries[1].reason == "cleanup" && page.entries[1].actorId == cast.owner.id)
            let rest = try await api.call(.get, "\(path)?before=\(page.entries[1].id)", token: cast.admin.token).decode(Wire.Audit.self)
            #expect(rest.entries.map(\.action) == ["member.role", "room.created"] && !rest.hasMore)
            let stored = try #require(try await api.database.collection("audit").findOne(["action": "member.removed"]))
            let at = try #require(stored["at"]?.dateValue), expires = try #require(stored["expiresAt"]?.dateValue)
            #expect(abs(expires.timeIntervalSince(at) - 365 * 86_400) < 1)
        }
    }

    @Test("race: a kick while the member sends: every acknowledged send is stored once, every refused one is not, and sends after the kick are refused")
    func kickWhileSending() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let memberWS = WSTestClient(port: port, token: cast.member.token)
            let ownerWS = WSTestClient(port: port, token: cast.owner.token)
            _ = try await memberWS.sync()
            _ = try await ownerWS.sync()
            for i in 1...40 {
                memberWS.send(#"{"type":"message:send","id":"s\#(i)","data":{"roomId":"\#(cast.room)","text":"m\#(i)","clientId":"k\#(i)"}}"#)
                if i == 10 {
                    ownerWS.send(#"{"type":"room:members:remove","id":"kick","data":{"roomId":"\#(cast.room)","userId":"\#(cast.member.id)"}}"#)
                }
            }
            #expect(try await ownerWS.waitFor { $0.type == "ack" && $0.id == "kick" }.ok)
            var acked: Set<String> = [], refused = 0
            for _ in 1...40 {
                let ack = try await memberWS.waitFor { $0.type == "ack" && ($0.id?.hasPrefix("s") ?? false) }
                if ack.ok { acked.insert(try ack.message().text) } else {
                    #expect(["not_found", "forbidden"].contains(ack.errorCode ?? ""))
                    refused += 1
                }
            }
            let stored = try await api.call(.get, "/api/messages/room/\(cast.room)?limit=200", token: cast.owner.token).decode(Wire.History.self).messages
            #expect(Set(stored.map(\.text)) == acked && stored.count == acked.count)
            #expect(stored.map(\.seq) == Array(1...max(1, stored.count)).prefix(stored.count).map { $0 })
            #expect(acked.count + refused == 40)
            _ = try await memberWS.waitFor(type: "room:removed")
            #expect(try await cast.send(memberWS, "late", clientId: "late").errorCode == "not_found")
            await memberWS.close()
            await ownerWS.close()
        }
    }
}
