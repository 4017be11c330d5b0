import Foundation
import Testing

@testable import ParleyCore

/// `SearchWords`' classes and folding as first written, before the ASCII shortcuts:
/// the oracle the shortcuts are checked against, over the same split. Messages stored
/// by earlier versions carry these words, and queries must keep finding them.
enum ReferenceWords {
    static let rules = SearchWords.Rules(
        isWord: isWordScalar,
        isIdeographic: { s in s.properties.isIdeographic || (0x3040...0x30FF).contains(s.value) },
        foldWord: { word in
            String(String.UnicodeScalarView(SearchWords.fold(word).unicodeScalars.filter(isWordScalar).prefix(SearchWords.maxWordLength)))
        })

    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        return p.isAlphabetic || p.numericType != nil || p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark
    }

    static func words(_ text: String) -> [String] { SearchWords.unicodeWords(text, rules: rules) }
}

/// The ASCII shortcuts of `SearchWords.words` against the rules they stand in for
/// (`ReferenceWords`): a message's stored words and a query's terms must come out the
/// same whichever path made them, or a message would not be found by its own words.
@Suite("Search words: the ASCII shortcuts")
struct SearchWordsTests {
    static let ascii = (0..<128).map { Character(Unicode.Scalar(UInt8($0))) }

    @Test("every ASCII character, alone, inside a word, between two words and at either end")
    func everyCharacter() {
        for c in Self.ascii {
            for text in ["\(c)", "ab\(c)cd", "Ab \(c) Cd", "\(c)Ab", "Ab\(c)", "9\(c)9", "x\(c)\(c)y", "\(c)\(c)"] {
                #expect(SearchWords.asciiWords(text) == ReferenceWords.words(text), "\(text.debugDescription)")
                #expect(SearchWords.unicodeWords(text) == ReferenceWords.words(text), "\(text.debugDescription)")
            }
        }
    }

    @Test("random ASCII texts, with long words, repeats and the word limit")
    func randomTexts() {
        var rng = SystemRandomNumberGenerator()
        let pieces = ["don't", "3.14", "a.b.c", "'quoted'", "..", "HeLLo", "hello", "x", String(repeating: "Ab1", count: 20), "-", " ", "\n", "t=123;", "O'Neil."]
        for _ in 0..<2_000 {
            var text = ""
            for _ in 0..<Int.random(in: 0...30, using: &rng) {
                text += Bool.random(using: &rng) ? pieces.randomElement(using: &rng)! : String(Self.ascii.randomElement(using: &rng)!)
            }
            #expect(SearchWords.asciiWords(text) == ReferenceWords.words(text), "\(text.debugDescription)")
            #expect(SearchWords.unicodeWords(text) == ReferenceWords.words(text), "\(text.debugDescription)")
        }
        let many = (0..<500).map { "w\($0 % 300)" }.joined(separator: ", ")
        #expect(SearchWords.asciiWords(many) == ReferenceWords.words(many))
        #expect(SearchWords.asciiWords(many)?.count == SearchWords.maxWords)
    }

    @Test("a text with anything beyond ASCII takes the Unicode path")
    func beyondASCII() {
        #expect(SearchWords.asciiWords("Café") == nil)
        #expect(SearchWords.words("Café au LAIT") == ["cafe", "au", "lait"])
        #expect(SearchWords.asciiWords("") == [])
    }

    @Test("texts mixing ASCII with accents, emoji, combining marks, CJK, kana, other scripts and curly apostrophes: the same words as the rules as first written")
    func mixedTexts() {
        var rng = SystemRandomNumberGenerator()
        let pieces = [
            "Café", "naïve", "ÅNGSTRÖM", "e\u{301}", "👍", "👍🏽", "東京", "タワー", "ひらがな", "привет", "مرحبا", "don\u{2019}t", "l\u{2019}été",
            "３．１４", "ｆｕｌｌ", "x\u{0903}y", "ß", "İstanbul", "ǅ", "Ⅻ", "½", "٣", "\u{200B}", "\u{A0}", "don't", "3.14", "Hello", ".", "'", " ", "-",
            String(repeating: "é", count: 50), String(repeating: "a", count: 39) + "é",
        ]
        for _ in 0..<2_000 {
            var text = ""
            for _ in 0..<Int.random(in: 0...20, using: &rng) {
                text += Bool.random(using: &rng) ? pieces.randomElement(using: &rng)! : String(Self.ascii.randomElement(using: &rng)!)
            }
            #expect(SearchWords.words(text) == ReferenceWords.words(text), "\(text.debugDescription)")
        }
        for text in pieces { #expect(SearchWords.words(text) == ReferenceWords.words(text), "\(text.debugDescription)") }
    }
}
