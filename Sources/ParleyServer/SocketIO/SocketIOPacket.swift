import Foundation
import NIOCore
import ParleyCore

/// A Socket.IO v5 packet as carried in an Engine.IO message:
/// `<type>[<attachments>-][<namespace>,][<ackId>][<JSON>]`.
struct SocketIOPacket {
    enum Kind: UInt8 {
        case connect = 0, disconnect, event, ack, connectError, binaryEvent, binaryAck
    }

    let kind: Kind
    let namespace: String
    let ackId: Int?
    /// The raw JSON payload (may be empty).
    let payload: Substring

    init?(_ text: Substring) {
        var rest = text[...]
        guard let first = rest.first, let digit = first.wholeNumberValue, let kind = Kind(rawValue: UInt8(digit)) else { return nil }
        self.kind = kind
        rest = rest.dropFirst()
        if kind == .binaryEvent || kind == .binaryAck {
            guard let dash = rest.firstIndex(of: "-") else { return nil }
            rest = rest[rest.index(after: dash)...]
        }
        if rest.first == "/" {
            let end = rest.firstIndex(of: ",") ?? rest.endIndex
            namespace = String(rest[..<end])
            rest = end == rest.endIndex ? rest[end...] : rest[rest.index(after: end)...]
        } else {
            namespace = "/"
        }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        if !digits.isEmpty {
            guard digits.count <= 15, let id = Int(digits) else { return nil }
            ackId = id
            rest = rest.dropFirst(digits.count)
        } else {
            ackId = nil
        }
        payload = rest
    }

    /// The elements of a top-level JSON array, as raw JSON text; nil when `json` is not
    /// an array. Strings, escapes and nesting are honored; the elements are not parsed.
    static func arrayElements(_ json: Substring) -> [Substring]? {
        let bytes = Array(json.utf8)
        var i = 0
        func skipSpace() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 } }
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "[") else { return nil }
        i += 1
        var elements: [Substring] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start = i
        let utf8 = json.utf8
        func slice(_ a: Int, _ b: Int) -> Substring {
            let lo = utf8.index(utf8.startIndex, offsetBy: a), hi = utf8.index(utf8.startIndex, offsetBy: b)
            return Substring(json[lo..<hi]).trimmingCharacters(in: .whitespacesAndNewlines)[...]
        }
        while i < bytes.count {
            let c = bytes[i]
            if inString {
                if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
            } else {
                switch c {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if depth == 0 {
                        let last = slice(start, i)
                        if !last.isEmpty || !elements.isEmpty { elements.append(last) }
                        i += 1
                        skipSpace()
                        return i == bytes.count && elements.allSatisfy({ !$0.isEmpty }) ? elements : nil
                    }
                    depth -= 1
                case UInt8(ascii: ","):
                    if depth == 0 {
                        elements.append(slice(start, i))
                        start = i + 1
                    }
                default: break
                }
            }
            i += 1
        }
        return nil
    }
}

/// Socket.IO framing of the contract: events as `42["type",data]`, acks as
/// `43<id>[{"ok":true,"data":...}]` or `43<id>[{"ok":false,"error":...}]`.
struct SocketIODialect: WireDialect {
    func ack(id: RequestID, data: some Encodable) throws -> ByteBuffer {
        var b = ByteBuffer(string: "43\(Self.ackNumber(id))[{\"ok\":true,\"data\":")
        b.writeBytes(try WireFrames.json(data))
        b.writeString("}]")
        return b
    }

    func ackError(id: RequestID, _ error: ParleyError) -> ByteBuffer {
        var b = ByteBuffer(string: "43\(Self.ackNumber(id))[{\"ok\":false,\"error\":")
        b.writeBytes(WireFrames.errorBody(error))
        b.writeString("}]")
        return b
    }

    func error(_ error: ParleyError) -> ByteBuffer {
        var b = ByteBuffer(string: #"42["error","#)
        b.writeBytes(WireFrames.errorBody(error))
        b.writeString("]")
        return b
    }


    static func ackNumber(_ id: RequestID) -> String {
        switch id {
        case .number(let d): return String(Int64(d))
        case .string(let s): return s.filter(\.isNumber)
        }
    }
}
