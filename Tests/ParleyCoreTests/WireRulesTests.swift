import Foundation
import Testing

@testable import ParleyCore

@Suite("Wire rules: RFC 3339 dates and lengths in code points")
struct WireRulesTests {
    private struct Dated: Decodable { let at: Date }

    @Test("dates: any offset, fractional seconds or not, and a lowercase t and z")
    func dates() throws {
        let decoder = WireFormat.makeDecoder()
        func parse(_ s: String) throws -> Date { try decoder.decode(Dated.self, from: Data(#"{"at":"\#(s)"}"#.utf8)).at }
        let reference = try parse("2030-05-01T18:00:00Z")
        #expect(try parse("2030-05-01t18:00:00z") == reference)
        #expect(try parse("2030-05-01T20:00:00+02:00") == reference)
        #expect(try parse("2030-05-01T18:00:00.000Z") == reference)
        // Fractions of any length, offsets Foundation's styles refuse, old years.
        #expect(abs(try parse("2030-05-01T18:00:00.2563Z").timeIntervalSince(reference) - 0.2563) < 1e-6)
        #expect(try parse("2030-05-02T16:00:00+22:00") == reference)
        #expect(try parse("2030-05-01T12:30:00.5-05:30").timeIntervalSince(reference) == 0.5)
        #expect(try parse("1343-09-27T03:17:55.2563+22:00") < reference)
        for bad in ["next tuesday", "2030-02-30T00:00:00Z", "2030-05-01T18:00:00", "2030-05-01T18:00:00.Z", "2030-05-01T25:00:00Z", "2030-05-01T18:00:00+2:00"] {
            #expect(throws: (any Error).self, "\(bad)") { try parse(bad) }
        }
    }

    @Test("every length limit counts Unicode code points, as JSON Schema does")
    func codePoints() throws {
        // "é" as e + combining acute: one character on screen, two code points.
        let decomposed = "e\u{301}"
        try AccountRules.validatePassword(String(repeating: decomposed, count: 4))  // 8 code points
        #expect(throws: ParleyError.self) { try AccountRules.validatePassword(String(repeating: decomposed, count: 3) + "e") }  // 7
        #expect(throws: ParleyError.self) { try AccountRules.validatePassword(String(repeating: "a", count: 129)) }
        try AccountRules.validateDisplayName(String(repeating: decomposed, count: 32))  // 64
        #expect(throws: ParleyError.self) { try AccountRules.validateDisplayName(String(repeating: decomposed, count: 32) + "x") }
        // A thumbs-up with a skin tone is two code points.
        let thumbs = "\u{1F44D}\u{1F3FD}"
        try SendPipeline.validate(text: String(repeating: thumbs, count: 2000), clientId: "c", maxChars: 4000)
        #expect(throws: ParleyError.self) { try SendPipeline.validate(text: String(repeating: thumbs, count: 2001), clientId: "c", maxChars: 4000) }
    }

    @Test("a text of only whitespace and newlines is refused, in ASCII or beyond; any other character makes it a message")
    func blankTexts() throws {
        for blank in [" ", "\n\t\r", "\u{0B}\u{0C}  ", "\u{A0}", "\u{3000}\u{2028}\u{2029}\u{85}", " \u{2003}\n"] {
            #expect(throws: ParleyError.self, "\(blank.debugDescription)") { try SendPipeline.validate(text: blank, clientId: "c", maxChars: 4000) }
            #expect(SendPipeline.isBlank(blank))
        }
        for text in ["a", "  a  ", "\n.", "\u{A0}x", "привет", "\u{3000}東", "\u{1F44D}", " \u{2003}-"] {
            try SendPipeline.validate(text: text, clientId: "c", maxChars: 4000)
            #expect(!SendPipeline.isBlank(text), "\(text.debugDescription)")
        }
        // Beyond ASCII the answer is Foundation's, as before (which counts U+200B as whitespace).
        for text in ["\u{200B}", "\u{FEFF}", "\u{180E}", "\u{200B}x"] {
            #expect(SendPipeline.isBlank(text) == text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(text.debugDescription)")
        }
    }
}
