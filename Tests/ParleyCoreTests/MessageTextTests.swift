import Foundation
import Testing

@testable import ParleyCore

@Suite("Message text: search words and mentions")
struct MessageTextTests {
    @Test("search words: case and accents folded, word boundaries, each once, inner apostrophes and periods dropped")
    func words() {
        #expect(SearchWords.words("Café au LAIT, café!") == ["cafe", "au", "lait"])
        #expect(SearchWords.words("Don't panic: version 3.14 ships.") == ["dont", "panic", "version", "314", "ships"])
        #expect(SearchWords.words("naïve Zürich façade ÅNGSTRÖM") == ["naive", "zurich", "facade", "angstrom"])
        #expect(SearchWords.words("  ...  ") == [])
        #expect(SearchWords.words("東京タワー") == ["東", "京", "タ", "ワ", "ー"].filter { SearchWords.words($0).isEmpty == false })
        #expect(SearchWords.words("привет мир") == ["привет", "мир"])
        #expect(SearchWords.words("'quoted' word-with-dash") == ["quoted", "word", "with", "dash"])
        #expect(SearchWords.words(String(repeating: "x", count: 100)) == [String(repeating: "x", count: 40)])
        let many = (0..<500).map { "w\($0)" }.joined(separator: " ")
        #expect(SearchWords.words(many).count == SearchWords.maxWords)
        #expect(SearchWords.index("!!!") == nil)
    }

    @Test("mentions: @username at a word start, each once, sentence punctuation not part of the name")
    func mentions() {
        #expect(Mentions.usernames(in: "@alice and @Bob_2, thanks @carol.") == ["alice", "bob_2", "carol"])
        #expect(Mentions.usernames(in: "mail bob@example.org or @@dan") == [])
        #expect(Mentions.usernames(in: "@al is too short, @alice @ALICE once") == ["alice"])
        #expect(Mentions.usernames(in: "(@erin) @frank-") == ["erin", "frank"])
        #expect(Mentions.usernames(in: "") == [])
    }
}
