import ArgumentParser
import Foundation
import ParleyCore

/// `parleyctl user ...`.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Create, list, disable, enable and delete users; set passwords.",
        subcommands: [Create.self, List.self, Disable.self, Enable.self, SetPassword.self, Delete.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user. The password is asked for, or read from stdin.")

        @Argument(help: "3 to 32 of letters, digits, '_', '.' and '-'.") var username: String
        @Option(name: .customLong("display-name"), help: "Shown to other users (default: the username).") var displayName: String?
        @Option(help: "user or admin.") var role: String = "user"
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of stdin.") var passwordStdin = false

        func run() async throws {
            guard let role = UserRole(rawValue: role) else { CtlContext.fail("role must be user or admin", CtlExit.badInput) }
            let password = try PasswordInput.read(fromStdin: passwordStdin, confirm: true)
            CtlContext.checkInput {
                try AccountRules.validateNewAccount(username: username, password: password, displayName: displayName ?? username)
            }
            try await CtlContext.run { config, db in
                try await CtlContext.requireMigrated(config, db)
                let user = try await CtlContext.accounts(config, db).createUser(username: username, password: password, displayName: displayName, role: role)
                print("created \(user.role.rawValue) \(user.username) (id \(user.id.hex))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users in username order.")

        @Option(help: "At most this many.") var limit: Int = 100
        @Option(help: "Skip this many first.") var skip: Int = 0
        @Flag(help: "One JSON object per line instead of a table.") var json = false

        func run() async throws {
            guard limit > 0, skip >= 0 else { CtlContext.fail("--limit must be positive and --skip not negative", CtlExit.badInput) }
            try await CtlContext.run { config, db in
                let users = try await MongoUserRepository(database: db).list(limit: limit, skip: skip)
                if json {
                    let encoder = JSONEncoder()
                    encoder.dateEncodingStrategy = .iso8601
                    encoder.outputFormatting = .sortedKeys
                    for u in users {
                        let row = ListedUser(id: u.id.hex, username: u.username, displayName: u.displayName, role: u.role.rawValue, disabled: u.disabled, createdAt: u.createdAt)
                        print(String(decoding: try encoder.encode(row), as: UTF8.self))
                    }
                } else {
                    print("ID                        USERNAME                          ROLE   STATE     DISPLAY NAME")
                    for u in users {
                        let name = u.username.padding(toLength: 33, withPad: " ", startingAt: 0)
                        let role = u.role.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
                        print("\(u.id.hex)  \(name) \(role) \(u.disabled ? "disabled" : "active  ")  \(u.displayName)")
                    }
                    print("\(users.count) user(s)")
                }
            }
        }
    }

    struct ListedUser: Encodable {
        let id, username, displayName, role: String
        let disabled: Bool
        let createdAt: Date
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user: no logins, existing tokens refused.")
        @Argument var username: String
        func run() async throws { try await UserCommand.setDisabled(username, true) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user.")
        @Argument var username: String
        func run() async throws { try await UserCommand.setDisabled(username, false) }
    }

    /// The shared body of `disable` and `enable`.
    static func setDisabled(_ username: String, _ disabled: Bool) async throws {
        try await CtlContext.run { config, db in
            try await CtlContext.accounts(config, db).setDisabled(username: username, disabled)
            print("\(disabled ? "disabled" : "enabled") \(username)")
        }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password", abstract: "Set a user's password; tokens issued before stop working.")
        @Argument var username: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of stdin.") var passwordStdin = false
        func run() async throws {
            let password = try PasswordInput.read(fromStdin: passwordStdin, confirm: true)
            CtlContext.checkInput { try AccountRules.validatePassword(password) }
            try await CtlContext.run { config, db in
                try await CtlContext.accounts(config, db).setPassword(username: username, password: password)
                print("password changed for \(username)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a user: memberships removed (a room left without an owner gets its longest-standing member), messages kept under \"\(UserDeletion.anonymousName)\".")
        @Argument var username: String

        func run() async throws {
            try await RoomCommand.run { ctl in
                let outcome = try await UserDeletion(members: ctl.members).delete(username: username, by: CtlRooms.system.id)
                var signals: [Signal] = []
                for (room, owner) in outcome.rooms {
                    signals.append(.unsubscribe(outcome.user.id, from: room))
                    signals.append(try .push("room:user:left", RoomPushes.Left(roomId: room.hex, userId: outcome.user.id.hex), to: room))
                    if let owner { signals.append(try .push("room:role", RoomPushes.RoleChanged(roomId: room.hex, userId: owner.userId.hex, role: .owner), to: room)) }
                }
                await ctl.tell(signals)
                print("deleted \(outcome.user.username): left \(outcome.rooms.count) room(s), \(outcome.messagesRenamed) message(s) kept as \"\(UserDeletion.anonymousName)\"")
            }
        }
    }
}
