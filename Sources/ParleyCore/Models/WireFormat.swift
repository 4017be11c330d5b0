import Foundation

/// JSON as the wire contract writes it: camelCase keys, dates as ISO-8601 UTC with
/// milliseconds (`2026-01-31T12:00:00.000Z`). Dates sent by clients are any RFC 3339
/// `date-time`, checked strictly (no 30 February, no hour 25).
public enum WireFormat {

    public static func makeEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(timestamp(date))
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
            if let date = rfc3339(s) { return date }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an ISO-8601 date such as 2026-01-31T12:00:00.000Z")
        }
        return d
    }

    /// Any RFC 3339 `date-time` (`2026-01-31T12:00:00.123456+05:30`): fractions of any
    /// length, any offset, years before 1970. Foundation's ISO 8601 styles round the
    /// fraction, refuse some offsets and accept impossible dates, so this is ours.
    static func rfc3339(_ s: String) -> Date? {
        let b = Array(s.utf8)
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<at + n {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58,
            let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
            let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == 90 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == 58, let om = digits(i + 4, 2), oh < 24, om < 60 {
            offset = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: min(second, 59))
        guard let base = calendar.date(from: parts), calendar.component(.day, from: base) == day else { return nil }
        return base.addingTimeInterval(fraction - Double(offset))
    }

    /// `2026-01-31T12:00:00.000Z`: the UTC date of `d` to the nearest millisecond,
    /// which is what the database stored (a BSON date is whole milliseconds, and the
    /// `Date` made of one is a hair off either way: Foundation's formatter, which
    /// truncates, wrote many of them a millisecond early).
    public static func timestamp(_ d: Date) -> String {
        var out: [UInt8] = []
        timestamp(d, into: &out)
        return String(decoding: out.dropFirst().dropLast(), as: UTF8.self)
    }

    /// The date as a JSON string (`timestamp` in quotes).
    public static func timestamp(_ d: Date, into out: inout [UInt8]) {
        let ms = Int64((d.timeIntervalSince1970 * 1000).rounded())
        var days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let inDay = ms - days * 86_400_000
        // Civil from days (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        // Written in place: `"YYYY-MM-DDTHH:MM:SS.mmmZ"`, 26 bytes with the quotes.
        let at = out.count + 1
        out.append(contentsOf: #""0000-00-00T00:00:00.000Z""#.utf8)
        func put(_ v: Int64, _ offset: Int, _ width: Int) {
            var v = v
            for i in stride(from: at + offset + width - 1, through: at + offset, by: -1) {
                out[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
        }
        put(year, 0, 4)
        put(month, 5, 2)
        put(day, 8, 2)
        put(inDay / 3_600_000, 11, 2)
        put(inDay / 60_000 % 60, 14, 2)
        put(inDay / 1_000 % 60, 17, 2)
        put(inDay % 1_000, 20, 3)
    }
}
