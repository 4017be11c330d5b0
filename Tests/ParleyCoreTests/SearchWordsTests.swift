import Testing

@testable import ParleyCore

/// The ASCII path of `SearchWords.words` against the Unicode rules it stands in for:
/// a message's stored words and a query's terms must come out the same whichever path
/// made them, or a message would not be found by its own words.
@Suite("Search words: the ASCII path")
struct SearchWordsTests {
    static let ascii = (0..<128).map { Character(Unicode.Scalar(UInt8($0))) }

    @Test("every ASCII character, alone, inside a word, between two words and at either end")
    func everyCharacter() {
        for c in Self.ascii {
            for text in ["\(c)", "ab\(c)cd", "Ab \(c) Cd", "\(c)Ab", "Ab\(c)", "9\(c)9", "x\(c)\(c)y", "\(c)\(c)"] {
                #expect(SearchWords.asciiWords(text) == SearchWords.unicodeWords(text), "\(text.debugDescription)")
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
            #expect(SearchWords.asciiWords(text) == SearchWords.unicodeWords(text), "\(text.debugDescription)")
        }
        let many = (0..<500).map { "w\($0 % 300)" }.joined(separator: ", ")
        #expect(SearchWords.asciiWords(many) == SearchWords.unicodeWords(many))
        #expect(SearchWords.asciiWords(many)?.count == SearchWords.maxWords)
    }

    @Test("a text with anything beyond ASCII takes the Unicode path")
    func beyondASCII() {
        #expect(SearchWords.asciiWords("Café") == nil)
        #expect(SearchWords.words("Café au LAIT") == ["cafe", "au", "lait"])
        #expect(SearchWords.asciiWords("") == [])
    }
}
