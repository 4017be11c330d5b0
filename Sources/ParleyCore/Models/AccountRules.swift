import Foundation
/// The contract's limits on account fields, checked before anything is stored.
public enum AccountRules {
    public static let usernameLength = 3...32
    public static let passwordLength = 8...128
    public static let displayNameLength = 1...64

    /// 3 to 32 of `[A-Za-z0-9_.-]`; anything else (unicode letters included) is refused.
    public static func validateUsername(_ username: String) throws {
        let ok = AccountRules.usernameLength.contains(username.utf8.count)
            && username.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2E || c == 0x2D
            }
        guard ok else {
            throw ParleyError(.badRequest, "username must be 3 to 32 characters of letters, digits, '_', '.' and '-'")
        }
    }

    /// 8 to 128 characters. Every length limit counts Unicode code points, as JSON Schema does.
    public static func validatePassword(_ password: String) throws {
        guard AccountRules.passwordLength.contains(password.unicodeScalars.count) else {
            throw ParleyError(.badRequest, "password must be 8 to 128 characters")
        }
    }

    /// Every field of a new account, before anything is stored or hashed: the one
    /// check both the API and `parleyctl` (before it opens the database) make.
    public static func validateNewAccount(username: String, password: String, displayName: String) throws {
        try validateUsername(username)
        try validatePassword(password)
        try validateDisplayName(displayName)
    }

    /// 1 to 64 characters, not only whitespace, no control characters.
    public static func validateDisplayName(_ name: String) throws {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard AccountRules.displayNameLength.contains(name.unicodeScalars.count), !trimmed.isEmpty,
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw ParleyError(.badRequest, "displayName must be 1 to 64 characters and not only whitespace")
        }
    }
}
