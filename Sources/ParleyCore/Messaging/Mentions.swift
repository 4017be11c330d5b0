import Foundation

/// `@username` in a message's text: the usernames it names, lowercased, each once,
/// at most 50. A mention starts at the text's start or after a character that cannot
/// be in a username (so `mail@bob.org` names nobody), and a trailing `.` or `-`
/// ends a sentence rather than the name (`thanks @bob.`).
public enum Mentions {
    public static let maxMentions = 50

    public static func usernames(in text: String) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func isNameChar(_ s: Unicode.Scalar) -> Bool {
            s.isASCII && (("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || s == "_" || s == "." || s == "-")
        }
        while i < scalars.count {
            defer { i += 1 }
            guard scalars[i] == "@", i == 0 || !isNameChar(scalars[i - 1]) && scalars[i - 1] != "@" else { continue }
            var j = i + 1
            while j < scalars.count, isNameChar(scalars[j]) { j += 1 }
            var name = String(String.UnicodeScalarView(scalars[(i + 1)..<j]))
            while let last = name.last, last == "." || last == "-" { name.removeLast() }
            guard (3...32).contains(name.count) else { continue }
            if seen.insert(name.lowercased()).inserted { out.append(name.lowercased()) }
            if out.count >= maxMentions { break }
            i = j - 1
        }
        return out
    }
}
