import Foundation
import Mongo
import ParleyCore
import Testing

@Suite("MessageJSON: the hand-written encoder gives the encoder's bytes")
struct MessageJSONTests {
    static let encoder = WireFormat.makeEncoder()

    /// What `WireFormat`'s encoder gives for `{"message": Message(m)}`.
    static func reference(_ m: MessageRecord) throws -> [UInt8] { Array(try encoder.encode(["message": Message(m)])) }

    static let texts = [
        "hello", "", "quote \" and backslash \\ and slash / ", "tab\tnew\nline\rcr \u{8}\u{c} \u{1} \u{1f} \u{7f}", "émoji 👍🏽 日本語 \u{2028}",
        String(repeating: "long ", count: 900),
    ]

    @Test("every field, every kind of text and date, the same bytes")
    func sameBytes() throws {
        var rng = SystemRandomNumberGenerator()
        let dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -86_400 * 365.25 * 30 + 0.123), Date(timeIntervalSince1970: 951_782_400.999),
            Date(timeIntervalSince1970: 1_709_164_800.5), Date(timeIntervalSince1970: 4_102_444_799.999), Date().bsonPrecision,
        ]
        var checked = 0
        for i in 0..<600 {
            let at = i < dates.count ? dates[i] : Date(timeIntervalSince1970: Double(Int64.random(in: -2_000_000_000_000...4_000_000_000_000, using: &rng)) / 1000)
            var m = MessageRecord(
                roomId: ObjectId(), seq: Int.random(in: 1...Int(Int32.max), using: &rng), senderId: ObjectId(), senderName: Self.texts[i % Self.texts.count].prefix(64) + "n",
                text: Self.texts[(i / 3) % Self.texts.count], clientId: "c\(i)/\\\"", createdAt: at)
            if i % 2 == 0 {
                m.editedAt = at.addingTimeInterval(61.5)
                m.replyTo = ReplyRef(MessageRecord(roomId: m.roomId, seq: 1, senderId: ObjectId(), senderName: "Ann \"A\"", text: Self.texts[i % 5], clientId: "r"))
                m.threadId = ObjectId()
                m.replyCount = i
                m.lastReplyAt = at.addingTimeInterval(3_600)
                m.reactions = [
                    ReactionRecord(emoji: "👍", users: (0..<(i % 30)).map { _ in ObjectId() }), ReactionRecord(emoji: "\"q\"", users: [ObjectId()]),
                ]
                m.mentions = [ObjectId(), ObjectId()]
                m.pinned = i % 4 == 0
                m.rev = i
            }
            if i % 5 == 0 {
                m.attachments = [
                    Attachment(id: ObjectId(), name: "a/b \"c\".png", contentType: "image/png", size: 12, sha256: "ab", width: 3, height: nil)
                ]
            }
            if i % 7 == 0 { m.deletedAt = at.addingTimeInterval(1) }
            let mine = try MessageJSON.reply(m)
            let theirs = try Self.reference(m)
            if mine != theirs {
                let at = (0..<min(mine.count, theirs.count)).first { mine[$0] != theirs[$0] } ?? min(mine.count, theirs.count)
                let lo = max(0, at - 40)
                Issue.record("differ at \(at): …\(String(decoding: mine[lo..<min(mine.count, at + 40)], as: UTF8.self))… against …\(String(decoding: theirs[lo..<min(theirs.count, at + 40)], as: UTF8.self))…")
            }
            checked += 1
        }
        #expect(checked == 600)
    }

    @Test("timestamps: the millisecond the database stored, whatever the Date's rounding; Foundation's calendar agrees")
    func timestamps() throws {
        var rng = SystemRandomNumberGenerator()
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for i in 0..<5_000 {
            let ms = i < 3 ? [0, 951_782_400_999, -1][i] : Int64.random(in: -2_000_000_000_000...4_000_000_000_000, using: &rng)
            let stored = Date(timeIntervalSince1970: Double(ms) / 1000)
            let text = WireFormat.timestamp(stored)
            // Foundation truncates: given the instant a tenth of a millisecond later, it
            // writes the same millisecond.
            #expect(text == Date(timeIntervalSince1970: (Double(ms) + 0.1) / 1000).formatted(style), "\(ms)")
            let parsed = try WireFormat.makeDecoder().decode(Date.self, from: Data("\"\(text)\"".utf8))
            #expect(Int64((parsed.timeIntervalSince1970 * 1000).rounded()) == ms)
        }
        #expect(WireFormat.timestamp(Date(timeIntervalSince1970: 951_782_400.999)) == "2000-02-29T00:00:00.999Z")
    }
}
