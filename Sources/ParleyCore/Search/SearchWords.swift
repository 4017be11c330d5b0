import Foundation

/// The words a message is found by: runs of letters, marks and digits (Unicode
/// properties; an apostrophe or a period between two letters or digits stays inside,
/// as UAX #29 keeps `don't` and `3.14`; each Han, Hiragana or Katakana character is
/// a word of its own, as UAX #29 breaks between them), case and accents folded, the
/// inner apostrophes and periods dropped (`don't` is `dont`, for the query too)
/// (`Café` and `cafe` are one word), each at most 40 characters, each once, at most
/// 200 per message. The same folding applies to a query, so any MongoDB-wire server
/// finds messages through a plain index on this array (no text index needed).
public enum SearchWords {
    public static let maxWordLength = 40
    public static let maxWords = 200

    /// One word or query term folded.
    public static func fold(_ word: some StringProtocol) -> String {
        String(word).folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            .lowercased()
    }

    /// The words of `text`, folded, in order of first appearance.
    public static func words(_ text: String) -> [String] {
        if let ascii = asciiWords(text) { return ascii }
        return unicodeWords(text)
    }

    /// `unicodeWords` for a text of ASCII only, from its bytes: the Unicode rules
    /// took 30 µs for a message of 122 ASCII characters (this takes 1.2), which was
    /// 40 % of the server's CPU per stored message (docs/BENCHMARKS.md).
    /// In ASCII the word characters are `A-Z`, `a-z` and `0-9`, folding is
    /// lowercasing, nothing is ideographic, and an inner `'` or `.` joins its word
    /// and is then dropped. Nil when the text is not all ASCII. `SearchWordsTests`
    /// checks it against `unicodeWords` character by character.
    package static func asciiWords(_ text: String) -> [String]? {
        var text = text
        return text.withUTF8 { bytes -> [String]? in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            var seen = Set<String>()
            var out: [String] = []
            var current: [UInt8] = []
            current.reserveCapacity(maxWordLength)
            var inWord = false
            func flush() -> Bool {
                defer {
                    current.removeAll(keepingCapacity: true)
                    inWord = false
                }
                guard inWord, !current.isEmpty else { return false }
                let word = String(decoding: current, as: UTF8.self)
                guard seen.insert(word).inserted else { return false }
                out.append(word)
                return out.count >= maxWords
            }
            for i in bytes.indices {
                let b = bytes[i]
                if isASCIIWord(b) {
                    inWord = true
                    if current.count < maxWordLength { current.append(lowerASCII(b)) }
                } else if (b == 0x27 || b == 0x2E), inWord, i + 1 < bytes.count, isASCIIWord(bytes[i + 1]) {
                    continue
                } else if flush() {
                    return out
                }
            }
            _ = flush()
            return out
        }
    }

    /// The rules' parts that have a shortcut: which scalars make words, which stand
    /// alone, and how a raw word is folded (then kept to its word scalars and
    /// `maxWordLength`). The split and the de-duplication around them are shared, so
    /// a test can run them with the parts as first written (`SearchWordsTests`).
    package struct Rules: Sendable {
        package let isWord: @Sendable (Unicode.Scalar) -> Bool
        package let isIdeographic: @Sendable (Unicode.Scalar) -> Bool
        package let foldWord: @Sendable (String) -> String

        package init(
            isWord: @escaping @Sendable (Unicode.Scalar) -> Bool, isIdeographic: @escaping @Sendable (Unicode.Scalar) -> Bool,
            foldWord: @escaping @Sendable (String) -> String
        ) {
            self.isWord = isWord
            self.isIdeographic = isIdeographic
            self.foldWord = foldWord
        }

        /// ASCII scalars and words skip the property lookups and Foundation's folding,
        /// so a text with an emoji or an accent pays for those only where they are.
        package static let current = Rules(isWord: isWordScalar, isIdeographic: SearchWords.isIdeographic) { word in
            word.utf8.allSatisfy({ $0 < 0x80 })
                ? String(decoding: word.utf8.lazy.filter(isASCIIWord).prefix(maxWordLength).map(lowerASCII), as: UTF8.self)
                : String(String.UnicodeScalarView(fold(word).unicodeScalars.filter(isWordScalar).prefix(maxWordLength)))
        }
    }

    /// The words of any text, by the Unicode rules above.
    package static func unicodeWords(_ text: String, rules: Rules = .current) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for word in split(text, rules: rules) {
            let folded = rules.foldWord(word)
            guard !folded.isEmpty, seen.insert(folded).inserted else { continue }
            out.append(folded)
            if out.count >= maxWords { break }
        }
        return out
    }

    /// The raw words of `text` (unfolded), by the rules above.
    static func split(_ text: String, rules: Rules) -> [String] {
        let (isWord, isIdeographic) = (rules.isWord, rules.isIdeographic)
        let scalars = Array(text.unicodeScalars)
        var words: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty { words.append(String(current)) }
            current = String.UnicodeScalarView()
        }
        for (i, s) in scalars.enumerated() {
            if isIdeographic(s) {
                flush()
                current.append(s)
                flush()
            } else if isWord(s) {
                current.append(s)
            } else if (s == "'" || s == "\u{2019}" || s == "."), !current.isEmpty, i + 1 < scalars.count, isWord(scalars[i + 1]),
                !isIdeographic(scalars[i + 1])
            {
                current.append(s)
            } else {
                flush()
            }
        }
        flush()
        return words
    }

    /// A word character in ASCII: a letter or a digit.
    static func isASCIIWord(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) }

    /// ASCII folding: an upper-case letter to its lower case, anything else as it is.
    static func lowerASCII(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII { return isASCIIWord(UInt8(s.value)) }
        let p = s.properties
        return p.isAlphabetic || p.numericType != nil || p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark
    }

    static func isIdeographic(_ s: Unicode.Scalar) -> Bool {
        !s.isASCII && s.properties.isIdeographic || (0x3040...0x30FF).contains(s.value)
    }

    /// What a message stores: its words, or nil when it has none.
    public static func index(_ text: String) -> [String]? {
        let w = words(text)
        return w.isEmpty ? nil : w
    }
}
