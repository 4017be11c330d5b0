import Foundation
import Mongo
import ParleyCore
import Testing

/// The v2 message object as a client reads it (written from the contract).
struct WireV2Message: Decodable, Equatable {
    struct Reply: Decodable, Equatable {
        let id: String
        let seq: Int
        let senderId: String
        let senderName: String
        let excerpt: String
    }
    struct Reaction: Decodable, Equatable {
        let emoji: String
        let count: Int
        let userIds: [String]
    }
    let id: String
    let roomId: String
    let seq: Int
    let senderId: String
    let text: String
    let editedAt: String?
    let deletedAt: String?
    let replyTo: Reply?
    let threadId: String?
    let replyCount: Int
    let lastReplyAt: String?
    let reactions: [Reaction]
    let mentions: [String]
    let pinned: Bool
    let attachments: [WireUpload]
    let rev: Int
}

/// An upload as the contract shows it (and a message's attachment).
struct WireUpload: Decodable, Equatable {
    let id: String
    let name: String
    let contentType: String
    let size: Int
    let sha256: String
    let width: Int?
    let height: Int?
    let url: String
}

struct V2MessageData: Decodable { let message: WireV2Message }
struct V2Updated: Decodable {
    let message: WireV2Message
    let updateSeq: Int
}
struct V2Page: Decodable {
    let messages: [WireV2Message]
    let hasMore: Bool
}
struct V2Messages: Decodable { let messages: [WireV2Message] }
struct V2Thread: Decodable {
    let root: WireV2Message
    let messages: [WireV2Message]
    let hasMore: Bool
}
struct V2SyncDone: Decodable {
    let rooms: Int
    let messages: Int
    let updates: Int
    let updateSeqs: [String: Int]
}

@Suite("Messages as people use them: edit, delete, reactions, replies, threads, mentions, pins, search")
struct MessageFeaturesTests {
    static func send(_ ws: WSTestClient, _ room: String, _ text: String, _ clientId: String, extra: String = "") async throws -> WireV2Message {
        let ack = try await ws.request("message:send", #"{"roomId": "\#(room)", "text": "\#(text)", "clientId": "\#(clientId)"\#(extra)}"#)
        try #require(ack.ok, "send: \(ack.raw)")
        return try ack.data(V2MessageData.self).message
    }

    @Test("edit: the sender only; editedAt and rev; message:updated to the others live; history has the new text")
    func edit() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let owner = try await cast.connect(cast.owner, port: port)
            let member = try await cast.connect(cast.member, port: port)
            let sent = try await Self.send(member, cast.room, "helo world", "e1")
            #expect(sent.rev == 0 && sent.editedAt == nil && sent.replyCount == 0 && sent.reactions.isEmpty && !sent.pinned && sent.attachments.isEmpty)
            let denied = try await owner.request("message:edit", #"{"roomId": "\#(cast.room)", "messageId": "\#(sent.id)", "text": "hijack"}"#)
            #expect(denied.errorCode == "forbidden")
            let edited = try await member.request("message:edit", #"{"roomId": "\#(cast.room)", "messageId": "\#(sent.id)", "text": "hello world"}"#)
            let m = try edited.data(V2MessageData.self).message
            #expect(m.text == "hello world" && m.rev == 1 && m.editedAt != nil && m.seq == sent.seq && m.id == sent.id)
            let pushed = try await owner.waitFor("message:updated", as: V2Updated.self)
            #expect(pushed.message == m && pushed.updateSeq >= 1)
            let history = try await api.call(.get, "/api/messages/room/\(cast.room)", token: cast.owner.token).decode(V2Page.self)
            #expect(history.messages.map(\.text) == ["hello world"])
            // REST edit, bad input, wrong room, unknown id.
            let rest = try await api.call(.patch, "/api/messages/\(sent.id)", token: cast.member.token, json: #"{"text": "hello, world"}"#)
            #expect(try rest.status == 200 && rest.decode(V2MessageData.self).message.rev == 2)
            #expect(try await api.call(.patch, "/api/messages/\(sent.id)", token: cast.member.token, json: #"{"text": "  "}"#).status == 400)
            #expect(try await api.call(.patch, "/api/messages/\(sent.id)", token: cast.member.token, json: #"{"text": {"$ne": ""}}"#).status == 400)
            #expect(try await api.call(.patch, "/api/messages/\(ObjectId().hex)", token: cast.member.token, json: #"{"text": "x"}"#).status == 404)
            #expect(try await api.call(.patch, "/api/messages/\(sent.id)", token: cast.outsider.token, json: #"{"text": "x"}"#).status == 404)
            let wrongRoom = try await member.request("message:edit", #"{"roomId": "\#(ObjectId().hex)", "messageId": "\#(sent.id)", "text": "x"}"#)
            #expect(wrongRoom.errorCode == "not_found")
            await owner.close()
            await member.close()
        }
    }

    @Test("delete: a tombstone keeps id and seq; sender, moderators, owners and admins; not members of lower rank")
    func delete() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let member = try await cast.connect(cast.member, port: port)
            let owner = try await cast.connect(cast.owner, port: port)
            let a = try await Self.send(owner, cast.room, "the owner's", "d1")
            let b = try await Self.send(member, cast.room, "the member's", "d2")
            let c = try await Self.send(member, cast.room, "another", "d3")
            _ = try await member.request("reaction:add", #"{"roomId": "\#(cast.room)", "messageId": "\#(b.id)", "emoji": "👍"}"#)
            #expect(try await member.request("message:delete", #"{"roomId": "\#(cast.room)", "messageId": "\#(a.id)"}"#).errorCode == "forbidden")
            #expect(try await member.request("message:delete", #"{"roomId": "\#(cast.room)", "messageId": "\#(b.id)"}"#).ok)
            let gone = try await owner.waitFor("message:updated", as: V2Updated.self) { $0.message.id == b.id && $0.message.deletedAt != nil }
            #expect(gone.message.text == "" && gone.message.reactions.isEmpty && gone.message.seq == b.seq)
            #expect(try await api.call(.delete, "/api/messages/\(c.id)", token: cast.moderator.token).status == 204)
            #expect(try await api.call(.delete, "/api/messages/\(a.id)", token: cast.admin.token).status == 204)
            #expect(try await api.call(.delete, "/api/messages/\(a.id)", token: cast.owner.token).status == 204)  // again: harmless
            let history = try await api.call(.get, "/api/messages/room/\(cast.room)", token: cast.member.token).decode(V2Page.self)
            #expect(history.messages.map(\.seq) == [1, 2, 3] && history.messages.allSatisfy { $0.deletedAt != nil && $0.text.isEmpty })
            #expect(try await member.request("message:edit", #"{"messageId": "\#(c.id)", "text": "back"}"#).errorCode == "bad_request")
            await member.close()
            await owner.close()
        }
    }

    @Test("reactions: idempotent add and remove, one per user each, 20 distinct at most, none lost under concurrency")
    func reactions() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let owner = try await cast.connect(cast.owner, port: port)
            let m = try await Self.send(owner, cast.room, "react to me", "r1")
            let path = "/api/messages/\(m.id)/reactions"
            let thumbs = "%F0%9F%91%8D"
            #expect(try await api.call(.put, "\(path)/\(thumbs)", token: cast.member.token).status == 200)
            let again = try await api.call(.put, "\(path)/\(thumbs)", token: cast.member.token).decode(V2MessageData.self).message
            #expect(again.reactions == [.init(emoji: "👍", count: 1, userIds: [cast.member.id])])
            // Ten more users react at once: every one counts.
            var tokens: [(String, String)] = []
            for i in 0..<10 {
                let u = try await api.register("fan\(i)")
                _ = try await api.call(.post, "/api/rooms/\(cast.room)/members", token: cast.owner.token, json: #"{"userIds": ["\#(u.id)"]}"#)
                tokens.append(u)
            }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for (token, _) in tokens { group.addTask { try await api.call(.put, "\(path)/\(thumbs)", token: token).status } }
                for try await status in group { #expect(status == 200) }
            }
            let after = try await api.call(.get, "/api/messages/room/\(cast.room)", token: cast.owner.token).decode(V2Page.self).messages[0]
            #expect(after.reactions.first?.count == 11 && Set(after.reactions.first?.userIds ?? []).count == 11)
            #expect(try await api.call(.delete, "\(path)/\(thumbs)", token: cast.member.token).decode(V2MessageData.self).message.reactions[0].count == 10)
            #expect(try await api.call(.delete, "\(path)/\(thumbs)", token: cast.member.token).status == 200)
            // 20 distinct at most; the 21st is refused, an existing one still taken.
            for i in 0..<19 { _ = try await owner.request("reaction:add", #"{"messageId": "\#(m.id)", "emoji": "e\#(i)"}"#) }
            #expect(try await owner.request("reaction:add", #"{"messageId": "\#(m.id)", "emoji": "one-too-many"}"#).errorCode == "bad_request")
            #expect(try await owner.request("reaction:add", #"{"messageId": "\#(m.id)", "emoji": "e3"}"#).ok)
            #expect(try await owner.request("reaction:add", #"{"messageId": "\#(m.id)", "emoji": ""}"#).errorCode == "bad_request")
            #expect(try await owner.request("reaction:add", #"{"messageId": "\#(m.id)", "emoji": "\#(String(repeating: "x", count: 33))"}"#).errorCode == "bad_request")
            #expect(try await api.call(.put, "\(path)/\(thumbs)", token: cast.outsider.token).status == 404)
            await owner.close()
        }
    }

    @Test("replies quote the original; threads count on their root (message:updated) and page by seq")
    func repliesAndThreads() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let owner = try await cast.connect(cast.owner, port: port)
            let member = try await cast.connect(cast.member, port: port)
            let root = try await Self.send(owner, cast.room, "Shall we ship on Friday?", "t0")
            let reply = try await Self.send(member, cast.room, "Yes", "t1", extra: #", "replyTo": "\#(root.id)""#)
            #expect(reply.replyTo == .init(id: root.id, seq: root.seq, senderId: cast.owner.id, senderName: "owner", excerpt: "Shall we ship on Friday?"))
            #expect(try await member.request("message:send", #"{"roomId": "\#(cast.room)", "text": "x", "clientId": "t9", "replyTo": "\#(ObjectId().hex)"}"#).errorCode == "not_found")
            var replies: [WireV2Message] = []
            for i in 1...3 { replies.append(try await Self.send(member, cast.room, "in thread \(i)", "th\(i)", extra: #", "threadId": "\#(root.id)""#)) }
            // A reply to a reply in the thread belongs to the same root.
            replies.append(try await Self.send(owner, cast.room, "nested", "th4", extra: #", "threadId": "\#(replies[0].id)""#))
            #expect(replies.allSatisfy { $0.threadId == root.id })
            let counted = try await owner.waitFor("message:updated", as: V2Updated.self) { $0.message.id == root.id && $0.message.replyCount == 4 }
            #expect(counted.message.lastReplyAt != nil)
            let page = try await api.call(.get, "/api/messages/\(root.id)/thread?limit=2", token: cast.member.token).decode(V2Thread.self)
            #expect(page.root.id == root.id && page.messages.map(\.text) == ["in thread 1", "in thread 2"] && page.hasMore)
            let rest = try await api.call(.get, "/api/messages/\(root.id)/thread?after=\(page.messages[1].seq)", token: cast.member.token).decode(V2Thread.self)
            #expect(rest.messages.map(\.text) == ["in thread 3", "nested"] && !rest.hasMore)
            #expect(try await api.call(.get, "/api/messages/\(root.id)/thread", token: cast.outsider.token).status == 404)
            await owner.close()
            await member.close()
        }
    }

    @Test("mentions: @username of a member, resolved at send; unreadMentions until read")
    func mentions() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let owner = try await cast.connect(cast.owner, port: port)
            let m = try await Self.send(owner, cast.room, "@member please look, and @outsider too, @nobody", "m1")
            #expect(m.mentions == [cast.member.id])
            func unread() async throws -> Int? {
                try await api.call(.get, "/api/rooms/\(cast.room)", token: cast.member.token).decode(MentionRoom.self).room.unreadMentions
            }
            // The count is written just after the store.
            let deadline = ContinuousClock.now + .seconds(30)
            while try await unread() != 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await unread() == 1)
            _ = try await Self.send(owner, cast.room, "@member again", "m2")
            while try await unread() != 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await unread() == 2)
            #expect(try await api.call(.put, "/api/messages/read/\(cast.room)", token: cast.member.token, json: #"{"seq": 1}"#).status == 200)
            #expect(try await unread() == 1)
            #expect(try await api.call(.put, "/api/messages/read/\(cast.room)", token: cast.member.token, json: "{}").status == 200)
            #expect(try await unread() == 0)
            await owner.close()
        }
    }

    struct MentionRoom: Decodable {
        struct R: Decodable {
            let unreadMentions: Int?
            let lastMessage: WireV2Message?
        }
        let room: R
    }

    @Test("pins: moderators and owners pin; the room's pins list; lastMessage follows sends, edits and deletes")
    func pinsAndLastMessage() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let owner = try await cast.connect(cast.owner, port: port)
            let m = try await Self.send(owner, cast.room, "pin me", "p1")
            #expect(try await api.call(.get, "/api/rooms/\(cast.room)/pins", token: cast.member.token).decode(V2Messages.self).messages.isEmpty == true)
            let member = try await cast.connect(cast.member, port: port)
            #expect(try await member.request("message:pin", #"{"roomId": "\#(cast.room)", "messageId": "\#(m.id)", "pinned": true}"#).errorCode == "forbidden")
            let pinned = try await owner.request("message:pin", #"{"roomId": "\#(cast.room)", "messageId": "\#(m.id)", "pinned": true}"#)
            #expect(try pinned.data(V2MessageData.self).message.pinned)
            let pins = try await api.call(.get, "/api/rooms/\(cast.room)/pins", token: cast.member.token).decode(V2Messages.self)
            #expect(pins.messages.map(\.id) == [m.id])
            #expect(try await api.call(.get, "/api/rooms/\(cast.room)/pins", token: cast.outsider.token).status == 404)
            // lastMessage: raised with lastSeq (coalesced), replaced by an edit of it.
            func last() async throws -> WireV2Message? {
                try await api.call(.get, "/api/rooms/\(cast.room)", token: cast.member.token).decode(MentionRoom.self).room.lastMessage
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while try await last()?.id != m.id, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await last()?.text == "pin me")
            #expect(try await owner.request("message:edit", #"{"messageId": "\#(m.id)", "text": "pinned and edited"}"#).ok)
            #expect(try await last()?.text == "pinned and edited")
            #expect(try await api.call(.delete, "/api/messages/\(m.id)", token: cast.owner.token).status == 204)
            #expect(try await last()?.deletedAt != nil)
            #expect(try await api.call(.get, "/api/rooms/\(cast.room)/pins", token: cast.member.token).decode(V2Messages.self).messages.isEmpty)
            await owner.close()
            await member.close()
        }
    }

    @Test("a member who was away gets message:updated for what changed, before sync:done (updates), until they acknowledge it")
    func updatesWhileAway() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let owner = try await cast.connect(cast.owner, port: port)
            let a = try await Self.send(owner, cast.room, "first", "u1")
            let b = try await Self.send(owner, cast.room, "second", "u2")
            let member = try await cast.connect(cast.member, port: port)
            _ = try await member.request("message:delivered", #"{"roomId": "\#(cast.room)", "seq": 2}"#)
            await member.close()
            // While the member is away: an edit, two reactions on one message, a delete.
            _ = try await owner.request("message:edit", #"{"messageId": "\#(a.id)", "text": "first, edited"}"#)
            _ = try await owner.request("reaction:add", #"{"messageId": "\#(a.id)", "emoji": "🎉"}"#)
            _ = try await owner.request("message:delete", #"{"messageId": "\#(b.id)"}"#)
            let c = try await Self.send(owner, cast.room, "third", "u3")
            _ = try await owner.request("message:edit", #"{"messageId": "\#(c.id)", "text": "third, edited"}"#)
            let back = WSTestClient(port: port, token: cast.member.token)
            let sync = try await back.sync()
            // The new message comes as it is now; the changed ones as message:updated, once each.
            let new = sync.messages.filter { $0.type == "message:new" }
            #expect(try new.map { try $0.data(V2MessageData.self).message.text } == ["third, edited"])
            let updates = sync.messages.filter { $0.type == "message:updated" }
            let changed = try updates.map { try $0.data(V2Updated.self) }
            #expect(Set(changed.map(\.message.id)) == [a.id, b.id] && changed.count == 2)
            #expect(changed.first { $0.message.id == a.id }?.message.reactions.first?.emoji == "🎉")
            let done = try sync.done.data(V2SyncDone.self)
            #expect(done.updates == 2 && done.messages == 1)
            // Acknowledged (the update sequence the flush covered), they do not come again.
            let covered = try #require(done.updateSeqs[cast.room])
            #expect(covered >= changed.map(\.updateSeq).max() ?? 0)
            _ = try await back.request("message:delivered", #"{"roomId": "\#(cast.room)", "seq": 3, "updateSeq": \#(covered)}"#)
            await back.close()
            let third = WSTestClient(port: port, token: cast.member.token)
            let again = try await third.sync()
            #expect(try again.done.data(V2SyncDone.self).updates == 0)
            await third.close()
            await owner.close()
        }
    }

    @Test("REST send: 201, the same clientId again is the same message (200); members only; muted refused")
    func restSend() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let owner = try await cast.connect(cast.owner, port: port)
            let path = "/api/rooms/\(cast.room)/messages"
            let first = try await api.call(.post, path, token: cast.member.token, json: #"{"text": "from a bot", "clientId": "bot-1"}"#)
            #expect(first.status == 201)
            let m = try first.decode(V2MessageData.self).message
            #expect(try await owner.waitFor("message:new", as: V2MessageData.self).message == m)
            let again = try await api.call(.post, path, token: cast.member.token, json: #"{"text": "from a bot", "clientId": "bot-1"}"#)
            #expect(try again.status == 200 && again.decode(V2MessageData.self).message.id == m.id)
            #expect(try await api.call(.post, path, token: cast.outsider.token, json: #"{"text": "x", "clientId": "o1"}"#).status == 404)
            #expect(try await api.call(.post, path, token: cast.member.token, json: #"{"text": "", "clientId": "b2"}"#).status == 400)
            #expect(try await api.call(.post, path, token: cast.member.token, json: #"{"text": "x", "clientId": {"$gt": ""}}"#).status == 400)
            _ = try await api.call(.post, "/api/rooms/\(cast.room)/mutes", token: cast.owner.token, json: #"{"userId": "\#(cast.member.id)"}"#)
            let muted = try await api.call(.post, path, token: cast.member.token, json: #"{"text": "muted", "clientId": "b3"}"#)
            #expect(muted.status == 403 && muted.error?.mutedUntil != nil)
            let threaded = try await api.call(.post, path, token: cast.owner.token, json: #"{"text": "re", "clientId": "b4", "replyTo": "\#(m.id)"}"#)
            #expect(try threaded.decode(V2MessageData.self).message.replyTo?.id == m.id)
            await owner.close()
        }
    }

    @Test("search: every word, the last as a prefix, folded; only the caller's rooms; newest first; paged; edits and deletes follow")
    func search() async throws {
        try await RestHarness.live { api, port in
            let cast = try await Cast.make(api)
            let owner = try await cast.connect(cast.owner, port: port)
            let other = try await api.createRoom(cast.outsider.token, #"{"name": "elsewhere"}"#)
            let outsiderWS = try await cast.connect(cast.outsider, port: port)
            _ = try await Self.send(outsiderWS, other, "Café meeting at noon", "s0")
            let a = try await Self.send(owner, cast.room, "The café meeting moved", "s1")
            let b = try await Self.send(owner, cast.room, "CAFE MEETINGS are long", "s2")
            _ = try await Self.send(owner, cast.room, "lunch at noon", "s3")
            func search(_ q: String, _ extra: String = "", token: String? = nil) async throws -> V2Page {
                let r = try await api.call(.get, "/api/messages/search?q=\(q.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)\(extra)", token: token ?? cast.member.token)
                try #require(r.status == 200, "search \(q): \(r.status) \(String(decoding: r.body, as: UTF8.self))")
                return try r.decode(V2Page.self)
            }
            #expect(try await search("cafe meet").messages.map(\.id) == [b.id, a.id])
            #expect(try await search("Café MEETING").messages.map(\.id) == [b.id, a.id])
            #expect(try await search("meeting cafe").messages.map(\.id) == [a.id])  // "meeting" whole: not "meetings"
            #expect(try await search("cafe meetings").messages.map(\.id) == [b.id])
            #expect(try await search("moved cafe").messages.map(\.id) == [a.id])
            #expect(try await search("noon").messages.map(\.text) == ["lunch at noon"])  // not the other room's
            #expect(try await search("noon", token: cast.outsider.token).messages.map(\.text) == ["Café meeting at noon"])
            let first = try await search("cafe", "&limit=1")
            #expect(first.messages.map(\.id) == [b.id] && first.hasMore)
            let next = try await search("cafe", "&limit=1&before=\(first.messages[0].id)")
            #expect(next.messages.map(\.id) == [a.id] && !next.hasMore)
            let bySeq = try await search("cafe", "&roomId=\(cast.room)&before=\(b.seq)")
            #expect(bySeq.messages.map(\.id) == [a.id])
            #expect(try await search("cafe", "&senderId=\(cast.member.id)").messages.isEmpty)
            // An edit changes what finds it; a delete removes it.
            _ = try await owner.request("message:edit", #"{"messageId": "\#(a.id)", "text": "the tea party moved"}"#)
            #expect(try await search("cafe").messages.map(\.id) == [b.id])
            #expect(try await search("tea part").messages.map(\.id) == [a.id])
            _ = try await owner.request("message:delete", #"{"messageId": "\#(b.id)"}"#)
            #expect(try await search("cafe").messages.isEmpty)
            for bad in ["", "%20%20", String(repeating: "x", count: 201)] {
                #expect(try await api.call(.get, "/api/messages/search?q=\(bad)", token: cast.member.token).status == 400, "\(bad)")
            }
            #expect(try await api.call(.get, "/api/messages/search?q=cafe&roomId=\(other)", token: cast.member.token).status == 403)
            #expect(try await api.call(.get, "/api/messages/search?q=cafe").status == 401)
            await owner.close()
            await outsiderWS.close()
        }
    }

    @Test("race: edits racing a delete end as a tombstone, every time; a reaction flood is counted exactly within the rate limit")
    func editsRacingDeletesAndFloods() async throws {
        try await RestHarness.live(configure: { $0.eventRateLimitPerSecond = 50 }) { api, port in
            let cast = try await Cast.make(api)
            let owner = try await cast.connect(cast.owner, port: port)
            for round in 0..<5 {
                let m = try await Self.send(owner, cast.room, "round \(round)", "race\(round)")
                async let edits: [Int] = withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<4 {
                        group.addTask { try await api.call(.patch, "/api/messages/\(m.id)", token: cast.owner.token, json: #"{"text": "edit \#(i)"}"#).status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                async let deleted = api.call(.delete, "/api/messages/\(m.id)", token: cast.moderator.token)
                let (statuses, d) = try await (edits, deleted)
                #expect(d.status == 204 && statuses.allSatisfy { $0 == 200 || $0 == 400 }, "round \(round): \(statuses) \(d.status)")
                let stored = try #require(try await api.repos.messages.find(id: ObjectId(m.id)!))
                #expect(stored.isDeleted && stored.text.isEmpty && stored.words == nil, "round \(round)")
                // rev counts every change that landed: the delete and the edits before it.
                #expect(stored.revision == 1 + statuses.filter { $0 == 200 }.count, "round \(round)")
            }
            // A flood of reactions from one user: within the limit (50 a second, bursts
            // of 100) all counted; past it refused with rate_limited, none lost or doubled.
            let target = try await Self.send(owner, cast.room, "flood", "flood")
            var ok = 0, limited = 0
            for i in 0..<120 {
                let ack = try await owner.request("reaction:add", #"{"messageId": "\#(target.id)", "emoji": "e\#(i % 20)"}"#)
                if ack.ok { ok += 1 } else if ack.errorCode == "rate_limited" { limited += 1 }
            }
            let final = try #require(try await api.repos.messages.find(id: ObjectId(target.id)!))
            #expect(ok + limited == 120 && ok >= 20)
            #expect((final.reactions ?? []).count == 20 && (final.reactions ?? []).allSatisfy { $0.users == [ObjectId(cast.owner.id)!] })
            await owner.close()
        }
    }
}
