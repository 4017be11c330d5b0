import Foundation

/// JSON as the wire contract writes it: camelCase keys, dates as ISO-8601 UTC with
/// milliseconds (`2026-01-31T12:00:00.000Z`). Dates sent by clients may omit the
/// milliseconds.
public enum WireFormat {
    public static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    static let plainDateStyle = Date.ISO8601FormatStyle()

    public static func makeEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(date.formatted(dateStyle))
        }
        e.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return e
    }

    public static func makeDecoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            // RFC 3339 allows a lowercase `t` and `z`.
            let s = try c.decode(String.self).uppercased()
            if let date = (try? dateStyle.parse(s)) ?? (try? plainDateStyle.parse(s)) { return date }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an ISO-8601 date such as 2026-01-31T12:00:00.000Z")
        }
        return d
    }
}
