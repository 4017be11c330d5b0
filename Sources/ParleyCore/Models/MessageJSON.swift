import Foundation
import Mongo

/// A stored message as the wire's JSON (`{"message": Message}`), written by hand:
/// the same bytes as `WireFormat`'s encoder gives for `Message` (sorted keys, dates
/// with milliseconds, slashes unescaped), at a fraction of the cost. Every message
/// a node stores is encoded once for its fan-out and its ack, and every message of
/// an offline queue once per flush, so this is the send path's and the flush's
/// encoder. Attachments, rare, go through the encoder.
public enum MessageJSON {
    /// `{"message":{...}}`.
    public static func reply(_ m: MessageRecord) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320 + m.text.utf8.count + m.senderName.utf8.count)
        out.append(contentsOf: #"{"message":"#.utf8)
        try message(m, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The `Message` object of `m`.
    public static func message(_ m: MessageRecord, into out: inout [UInt8]) throws {
        func key(_ k: StaticString, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            k.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: #"":"#.utf8)
        }
        func date(_ d: Date?) {
            if let d { WireFormat.timestamp(d, into: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        out.append(UInt8(ascii: "{"))
        key("attachments", first: true)
        let attachments = m.isDeleted ? [] : m.attachments ?? []
        if attachments.isEmpty { out.append(contentsOf: "[]".utf8) } else { out.append(contentsOf: try encoder.encode(attachments)) }
        key("clientId")
        string(m.clientId, into: &out)
        key("createdAt")
        date(m.createdAt)
        key("deletedAt")
        date(m.deletedAt)
        key("editedAt")
        date(m.editedAt)
        key("id")
        id(m.id, into: &out)
        key("lastReplyAt")
        date(m.lastReplyAt)
        key("mentions")
        ids(m.mentions ?? [], into: &out)
        key("pinned")
        out.append(contentsOf: (m.pinned ?? false) ? "true".utf8 : "false".utf8)
        key("reactions")
        out.append(UInt8(ascii: "["))
        for (i, r) in (m.reactions ?? []).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"count":"#.utf8)
            int(r.users.count, into: &out)
            out.append(contentsOf: #","emoji":"#.utf8)
            string(r.emoji, into: &out)
            out.append(contentsOf: #","userIds":"#.utf8)
            ids(r.users.prefix(20), into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        key("replyCount")
        int(m.replyCount ?? 0, into: &out)
        key("replyTo")
        if let r = m.replyTo {
            out.append(contentsOf: #"{"excerpt":"#.utf8)
            string(r.excerpt, into: &out)
            out.append(contentsOf: #","id":"#.utf8)
            id(r.id, into: &out)
            out.append(contentsOf: #","senderId":"#.utf8)
            id(r.senderId, into: &out)
            out.append(contentsOf: #","senderName":"#.utf8)
            string(r.senderName, into: &out)
            out.append(contentsOf: #","seq":"#.utf8)
            int(r.seq, into: &out)
            out.append(UInt8(ascii: "}"))
        } else {
            out.append(contentsOf: "null".utf8)
        }
        key("rev")
        int(m.revision, into: &out)
        key("roomId")
        id(m.roomId, into: &out)
        key("senderId")
        id(m.senderId, into: &out)
        key("senderName")
        string(m.senderName, into: &out)
        key("seq")
        int(m.seq, into: &out)
        key("text")
        string(m.text, into: &out)
        key("threadId")
        if let t = m.threadId { id(t, into: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(UInt8(ascii: "}"))
    }

    private static let encoder = WireFormat.makeEncoder()

    static func int(_ v: Int, into out: inout [UInt8]) {
        if v == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        if v < 0 { out.append(UInt8(ascii: "-")) }
        // The digits least significant first, then turned around where they lie.
        let start = out.count
        var n = v.magnitude
        while n > 0 {
            out.append(UInt8(ascii: "0") + UInt8(n % 10))
            n /= 10
        }
        out[start...].reverse()
    }

    /// An id as a JSON string: hex digits never need escaping.
    static func id(_ id: ObjectId, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        id.appendHex(to: &out)
        out.append(UInt8(ascii: "\""))
    }

    static func ids(_ values: some Collection<ObjectId>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            id(v, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    static func strings(_ values: [String], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, s) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            string(s, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string, escaped as JSONEncoder escapes it.
    static func string(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0x08: out.append(contentsOf: #"\b"#.utf8)
            case 0x0C: out.append(contentsOf: #"\f"#.utf8)
            case 0..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
