import ArgumentParser
import Foundation
import Mongo
import ParleyCore

/// `parleyctl room ...`: the rooms of the deployment, run as their administrator.
struct RoomCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "room",
        abstract: "List, show, create, archive and delete rooms; add and remove members; set roles.",
        subcommands: [List.self, Show.self, Create.self, Add.self, Remove.self, Role.self, Archive.self, Delete.self]
    )

    /// Runs `body` with the room services on a migrated database.
    static func run(_ body: @escaping (CtlRooms) async throws -> Void) async throws {
        try await CtlContext.run { config, db in
            try await CtlContext.requireMigrated(config, db)
            try await body(CtlRooms(config, db))
        }
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = WireFormat.makeEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every room, newest first (private and direct ones too).")
        @Option(help: "group, event or direct.") var kind: String?
        @Option(help: "At most this many.") var limit: Int = 100
        @Option(help: "Skip this many first.") var skip: Int = 0
        @Flag(help: "One JSON object per line instead of a table.") var json = false

        func run() async throws {
            guard limit > 0, skip >= 0 else { CtlContext.fail("--limit must be positive and --skip not negative", CtlExit.badInput) }
            var roomKind: RoomKind?
            if let kind {
                guard let k = RoomKind(rawValue: kind) else { CtlContext.fail("--kind must be group, event or direct", CtlExit.badInput) }
                roomKind = k
            }
            try await RoomCommand.run { ctl in
                let rooms = try await ctl.repos.rooms.list(kind: roomKind, limit: limit, skip: skip)
                if json {
                    for r in rooms { try RoomCommand.printJSON(Room(r)) }
                    return
                }
                print("ID                        KIND    MEMBERS  STATE     NAME")
                for r in rooms {
                    let kind = r.kind.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
                    let members = String(r.memberCount).padding(toLength: 8, withPad: " ", startingAt: 0)
                    let state = (r.isArchived ? "archived" : r.isPrivate ? "private" : "public").padding(toLength: 9, withPad: " ", startingAt: 0)
                    print("\(r.id.hex)  \(kind) \(members) \(state) \(r.name)")
                }
                print("\(rooms.count) room(s)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a room and its members with their roles.")
        @Argument(help: "The room id.") var roomId: String
        @Flag(help: "JSON instead of text.") var json = false

        struct Shown: Encodable {
            let room: Room
            let members: [Member]
        }

        func run() async throws {
            try await RoomCommand.run { ctl in
                let actor = try await ctl.actor(roomId)
                let page = try await ctl.members.list(actor, after: nil, limit: 500)
                if json { return try RoomCommand.printJSON(Shown(room: Room(actor.room), members: page.members)) }
                let r = actor.room
                print("\(r.name) (\(r.kind.rawValue), \(r.isPrivate ? "private" : "public")\(r.isArchived ? ", archived" : ""))  id \(r.id.hex)")
                if let topic = r.topic { print("topic: \(topic)") }
                print("\(r.memberCount) member(s), \(r.ownerCount ?? 0) owner(s), last seq \(r.lastSeq)")
                for m in page.members {
                    let muted = m.mutedUntil.map { "  muted until \(ISO8601DateFormatter().string(from: $0))" } ?? ""
                    print("  \(m.role.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(m.user.username)\(muted)")
                }
                if page.hasMore { print("  … (the first 500)") }
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a room owned by a user, with members.")
        @Argument(help: "The room's name.") var name: String
        @Option(help: "The owner's username.") var owner: String
        @Option(help: "group or event.") var kind: String = "group"
        @Option(help: "The topic.") var topic: String?
        @Flag(help: "Invisible to non-members.") var `private` = false
        @Option(name: .customLong("member"), help: "A member's username (repeat for more).") var memberNames: [String] = []

        func run() async throws {
            guard let roomKind = RoomKind(rawValue: kind), roomKind != .direct else { CtlContext.fail("--kind must be group or event", CtlExit.badInput) }
            try await RoomCommand.run { ctl in
                let ownerUser = try await ctl.user(owner)
                var ids: [String] = []
                for n in memberNames { ids.append(try await ctl.user(n).id.hex) }
                let created = try await ctl.rooms.create(
                    .init(name: name, kind: roomKind, topic: topic, isPrivate: `private`, memberIds: ids), by: ownerUser)
                try await ctl.members.audit.record(.roomCreated, room: created.record.id, by: CtlRooms.system.id, details: ["owner": .string(owner)])
                var signals: [Signal] = [.subscribe(ownerUser.id, to: created.record.id)]
                signals.append(try .push("room:added", RoomPushes.RoomData(room: created.room), toUser: ownerUser.id))
                for (u, m) in created.members { signals += try ctl.added(created.record, u, m) }
                await ctl.tell(signals)
                print("created \(created.record.kind.rawValue) room \(created.record.name) (id \(created.record.id.hex)), \(created.members.count + 1) member(s)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add users to a room.")
        @Argument(help: "The room id.") var roomId: String
        @Argument(help: "Usernames.") var usernames: [String]
        @Option(help: "owner, moderator or member.") var role: String = "member"

        func run() async throws {
            guard let roomRole = RoomRole(rawValue: role) else { CtlContext.fail("--role must be owner, moderator or member", CtlExit.badInput) }
            guard !usernames.isEmpty else { CtlContext.fail("name at least one user", CtlExit.badInput) }
            try await RoomCommand.run { ctl in
                let actor = try await ctl.actor(roomId)
                var ids: [String] = []
                for n in usernames { ids.append(try await ctl.user(n).id.hex) }
                let added = try await ctl.members.add(actor, userIds: ids, role: roomRole)
                var signals: [Signal] = []
                for (u, m) in added { signals += try ctl.added(actor.room, u, m) }
                await ctl.tell(signals)
                print("added \(added.count) member(s) to \(actor.room.name)\(added.count < ids.count ? " (the others were members already)" : "")")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a member from a room (their sockets get nothing more from it).")
        @Argument(help: "The room id.") var roomId: String
        @Argument(help: "The member's username.") var username: String
        @Option(help: "Why (shown to the room and the user).") var reason: String?

        func run() async throws {
            try await RoomCommand.run { ctl in
                let actor = try await ctl.actor(roomId)
                let u = try await ctl.user(username)
                let removed = try await ctl.members.remove(actor, userId: u.id.hex, reason: reason)
                await ctl.tell(try ctl.removed(actor.room.id, removed.userId, reason: try Paging.reason(reason)))
                print("removed \(u.username) from \(actor.room.name)")
            }
        }
    }

    struct Role: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a member's role (a room keeps at least one owner).")
        @Argument(help: "The room id.") var roomId: String
        @Argument(help: "The member's username.") var username: String
        @Argument(help: "owner, moderator or member.") var role: String

        func run() async throws {
            guard let roomRole = RoomRole(rawValue: role) else { CtlContext.fail("role must be owner, moderator or member", CtlExit.badInput) }
            try await RoomCommand.run { ctl in
                let actor = try await ctl.actor(roomId)
                let u = try await ctl.user(username)
                let m = try await ctl.members.setRole(actor, userId: u.id.hex, role: roomRole)
                await ctl.tell([try .push("room:role", RoomPushes.RoleChanged(roomId: actor.room.id.hex, userId: u.id.hex, role: m.roomRole), to: actor.room.id)])
                print("\(u.username) is now \(m.roomRole.rawValue) of \(actor.room.name)")
            }
        }
    }

    struct Archive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Archive a room (read-only: history stays, sends are refused), or --undo.")
        @Argument(help: "The room id.") var roomId: String
        @Flag(help: "Unarchive instead.") var undo = false

        func run() async throws {
            try await RoomCommand.run { ctl in
                let actor = try await ctl.actor(roomId)
                let after = try await ctl.settings.update(actor, .init(archived: !undo))
                await ctl.tell([.gate(after.id, user: nil), try .push("room:updated", RoomPushes.RoomData(room: Room(after).shared), to: after.id)])
                print("\(undo ? "unarchived" : "archived") \(after.name)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a room with its memberships, messages, files, invites and bans.")
        @Argument(help: "The room id.") var roomId: String

        func run() async throws {
            try await RoomCommand.run { ctl in
                let actor = try await ctl.actor(roomId)
                let members = try await ctl.settings.delete(actor)
                await ctl.tell([try .push("room:deleted", RoomPushes.Deleted(roomId: actor.room.id.hex), to: actor.room.id), .drop(actor.room.id), .gate(actor.room.id, user: nil)])
                try await ctl.settings.purge(actor.room.id)
                try await ctl.uploads.roomDeleted(actor.room.id)
                print("deleted \(actor.room.name) (\(members.count) member(s))")
            }
        }
    }
}
