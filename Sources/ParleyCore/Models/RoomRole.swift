import Foundation

/// A member's role within one room (the contract's `owner|moderator|member`). The
/// order is the authority: a role acts on members of a lower one.
public enum RoomRole: String, Codable, Sendable, CaseIterable, Comparable {
    case member, moderator, owner

    /// Higher is more authority.
    public var rank: Int {
        switch self {
        case .member: 0
        case .moderator: 1
        case .owner: 2
        }
    }

    public static func < (a: RoomRole, b: RoomRole) -> Bool { a.rank < b.rank }

    /// Parses a client's role string; `bad_request` naming the choices otherwise.
    public static func parse(_ s: String) throws -> RoomRole {
        guard let r = RoomRole(rawValue: s) else { throw ParleyError(.badRequest, "role must be owner, moderator or member") }
        return r
    }
}

/// The far end of an indefinite mute or ban: the contract has one date field for
/// both, so "until further notice" is this instant (the end of year 9999).
public let indefinitely = Date(timeIntervalSince1970: 253_402_300_799.999)
