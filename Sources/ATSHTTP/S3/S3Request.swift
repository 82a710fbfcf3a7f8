import Foundation

/// The decoded query string of an S3 request, in order. S3 decodes `%XX` and, like a form, `+`
/// as a space; SDKs send spaces as `%20` and `+` as `%2B`, so both readings agree for them.
struct S3Query: Sendable {
    let items: [(name: String, value: String)]

    init(raw: String?) {
        guard let raw, !raw.isEmpty else {
            items = []
            return
        }
        items = raw.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = S3Path.formDecode(parts[0]) ?? String(parts[0])
            let value = parts.count > 1 ? (S3Path.formDecode(parts[1]) ?? String(parts[1])) : ""
            return (name, value)
        }
    }

    /// The first value of `name`; nil when absent.
    subscript(_ name: String) -> String? {
        items.first { $0.name == name }?.value
    }

    func has(_ name: String) -> Bool { items.contains { $0.name == name } }
}

/// Where an S3 request points: `/s3`, `/s3/BUCKET` or `/s3/BUCKET/KEY`, read from the raw
/// (still percent-encoded) path, since a key may hold encoded slashes the router would not see.
struct S3Path: Sendable, Equatable {
    /// nil for the service itself (ListBuckets).
    let bucket: String?
    /// nil for the bucket itself; the decoded key, not validated (see `validatedKey`).
    let rawKey: String?
    /// The key as sent, percent-encoded (for the error document's `Resource`).
    let resource: String

    static let root = "/s3"

    /// nil when the path is not under `/s3` or holds a malformed escape or invalid UTF-8.
    init?(rawPath: String) {
        guard rawPath == Self.root || rawPath.hasPrefix(Self.root + "/") else { return nil }
        resource = rawPath
        var rest = rawPath.dropFirst(Self.root.count)
        if rest.first == "/" { rest = rest.dropFirst() }
        guard !rest.isEmpty else {
            bucket = nil
            rawKey = nil
            return
        }
        let slash = rest.firstIndex(of: "/")
        guard let bucket = Self.percentDecode(rest[..<(slash ?? rest.endIndex)]) else { return nil }
        self.bucket = bucket
        guard let slash else {
            rawKey = nil
            return
        }
        let encodedKey = rest[rest.index(after: slash)...]
        if encodedKey.isEmpty {
            rawKey = nil  // `/s3/bucket/` is the bucket
        } else {
            guard let key = Self.percentDecode(encodedKey) else { return nil }
            rawKey = key
        }
    }

    /// The key, or the reason it is refused: empty, longer than 1,024 bytes, an absolute path,
    /// a `.` or `..` segment (also once more percent-decoded, and with `\` as a separator), NUL
    /// or another control character. Keys name catalog rows, never files, but a key that looks
    /// like traversal is refused all the same: scripts that mirror a bucket to disk trust them.
    static func validate(key: String) -> String? {
        if key.isEmpty { return "the key is empty" }
        if key.utf8.count > 1024 { return "longer than 1024 bytes" }
        if key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "contains NUL or another control character"
        }
        if key.hasPrefix("/") || key.hasPrefix("\\") { return "an absolute path" }
        let once = Self.percentDecode(Substring(key)) ?? key
        for candidate in [key, once] {
            let segments = candidate.split(omittingEmptySubsequences: false) { $0 == "/" || $0 == "\\" }
            if segments.contains(where: { $0 == ".." || $0 == "." }) { return "a `.` or `..` path segment" }
            if candidate.unicodeScalars.contains(where: { $0.value == 0 }) { return "contains NUL" }
        }
        if once.hasPrefix("/") || once.hasPrefix("\\") { return "an absolute path" }
        return nil
    }

    /// `%XX` decoding of a path (no `+` rule); nil for a malformed escape or invalid UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
        decode(text, plusIsSpace: false)
    }

    /// `%XX` and `+` decoding of a query name or value.
    static func formDecode(_ text: Substring) -> String? {
        decode(text, plusIsSpace: true)
    }

    private static func decode(_ text: Substring, plusIsSpace: Bool) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) || (plusIsSpace && text.utf8.contains(UInt8(ascii: "+"))) else {
            return String(text)
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// HTTP dates (RFC 9110 IMF-fixdate) for `Last-Modified` and the conditional headers.
enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }

    /// IMF-fixdate only (what clients send today); nil otherwise.
    static func parse(_ text: String) -> Date? {
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[5] == "GMT", let day = Int32(fields[1]), let month = months.firstIndex(of: String(fields[2])),
            let year = Int32(fields[3])
        else { return nil }
        let clock = fields[4].split(separator: ":")
        guard clock.count == 3, let hour = Int32(clock[0]), let minute = Int32(clock[1]), let second = Int32(clock[2]) else {
            return nil
        }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = Int32(month)
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
