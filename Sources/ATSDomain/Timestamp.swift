import Foundation

/// RFC 3339 UTC timestamps with millisecond precision: the one time format of the API and store.
public enum Timestamp {
    /// Formats `date` as `2026-11-29T17:12:20.123Z`; lexical order is time order.
    public static func format(_ date: Date) -> String {
        let millisTotal = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        // Floor division, so times before 1970 keep a positive millisecond part.
        let secondsTotal = millisTotal >= 0 ? millisTotal / 1000 : (millisTotal - 999) / 1000
        var seconds = time_t(secondsTotal)
        let millis = Int(millisTotal - secondsTotal * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// Parses an RFC 3339 date-time (`Z` or an offset, optional fraction); nil when malformed.
    public static func parse(_ text: String) -> Date? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 20, utf8.count <= 40 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let char = utf8[index]
                guard char >= 48, char <= 57 else { return nil }
                value = value * 10 + Int(char - 48)
            }
            return value
        }
        guard let year = number(0..<4), year >= 1, utf8[4] == 45, let month = number(5..<7), utf8[7] == 45,
            let day = number(8..<10), utf8[10] == 84 || utf8[10] == 116 || utf8[10] == 32,
            let hour = number(11..<13), utf8[13] == 58, let minute = number(14..<16), utf8[16] == 58,
            let second = number(17..<19)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var fraction = 0.0
        if index < utf8.count, utf8[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < utf8.count, utf8[index] >= 48, utf8[index] <= 57 {
                fraction += Double(utf8[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < utf8.count else { return nil }
        var offset = 0
        if utf8[index] == 90 || utf8[index] == 122 {
            guard index + 1 == utf8.count else { return nil }
        } else if utf8[index] == 43 || utf8[index] == 45 {
            guard index + 6 == utf8.count, let oh = number(index + 1..<index + 3), utf8[index + 3] == 58,
                let om = number(index + 4..<index + 6), oh < 24, om < 60
            else { return nil }
            offset = (oh * 60 + om) * 60 * (utf8[index] == 43 ? 1 : -1)
        } else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        // timegm normalizes 31 February into March: reject dates that do not exist.
        var check = tm()
        var back = seconds
        gmtime_r(&back, &check)
        guard check.tm_mday == Int32(day), check.tm_mon == Int32(month - 1) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
    }

    /// Whether `text` is a calendar date `YYYY-MM-DD` that exists.
    public static func isDay(_ text: String) -> Bool {
        guard text.utf8.count == 10 else { return false }
        return parse(text + "T00:00:00Z") != nil
    }

    /// Normalizes any accepted RFC 3339 input to the canonical UTC form; nil when malformed.
    public static func canonical(_ text: String) -> String? {
        parse(text).map(format)
    }
}
