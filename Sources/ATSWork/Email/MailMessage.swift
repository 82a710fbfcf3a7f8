import Foundation

/// One email ready to leave: the envelope and what the RFC 5322 message says.
public struct MailMessage: Sendable, Hashable {
    /// The `From:` header as configured: `ats@agency.example` or `Agency <ats@agency.example>`.
    public var from: String
    public var to: String
    public var subject: String
    /// Plain text; any line endings (normalized to CRLF on the wire).
    public var body: String
    /// The outbox id, reused in `Message-ID`, so a re-delivery after a crash is recognisably the same mail.
    public var id: String
    public var date: Date

    public init(from: String, to: String, subject: String, body: String, id: String, date: Date) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.id = id
        self.date = date
    }

    /// The bare sender address, for `MAIL FROM` (the part in `<...>` when a display name is given).
    public var fromAddress: String { Self.address(in: from).address }

    /// The complete message (headers and body) with CRLF line endings, before SMTP dot-stuffing.
    public func rfc5322() throws(MailError) -> [UInt8] {
        let sender = Self.address(in: from)
        guard MailMessage.isDeliverable(sender.address) else {
            throw MailError(.invalidAddress, "the configured sender '\(MIME.headerSafe(sender.address))' is not an address SMTP can carry")
        }
        guard MailMessage.isDeliverable(to) else {
            throw MailError(.invalidAddress, "the recipient is not an address SMTP can carry (ASCII, no spaces or brackets)")
        }
        let domain = sender.address.split(separator: "@").last.map(String.init) ?? "localhost"
        var fromHeader = "<\(sender.address)>"
        if let name = sender.displayName, !name.isEmpty {
            fromHeader = MIME.displayName(name) + " " + fromHeader
        }
        let (encoding, body) = MIME.encodeBody(body)
        var headers: [String] = [
            "Date: \(MIME.date(date))",
            "Message-ID: <\(MIME.headerSafe(id))@\(domain)>",
            "From: \(fromHeader)",
            "To: <\(to)>",
            MIME.fold("Subject: " + MIME.encodeWord(subject)),
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: \(encoding)",
        ]
        headers.append("")
        var output = Array(headers.joined(separator: "\r\n").utf8)
        output += Array("\r\n".utf8)
        output += body
        return output
    }

    /// A display name and an address out of `Name <addr>` or a bare address.
    static func address(in text: String) -> (displayName: String?, address: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") else { return (nil, trimmed) }
        let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
        var name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
        if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
        return (name.isEmpty ? nil : name, address.trimmingCharacters(in: .whitespaces))
    }

    /// Whether SMTP (without SMTPUTF8) can carry the address, and no header or command can be
    /// smuggled through it: printable ASCII, one `@`, no spaces, brackets, quotes or commas.
    public static func isDeliverable(_ address: String) -> Bool {
        guard !address.isEmpty, address.utf8.count <= 254 else { return false }
        let forbidden: Set<UInt8> = [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: ","), UInt8(ascii: "\""), UInt8(ascii: "\\"),
                                     UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ";"), UInt8(ascii: ":")]
        guard address.utf8.allSatisfy({ $0 > 32 && $0 < 127 && !forbidden.contains($0) }) else { return false }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
    }
}

/// The pieces of RFC 5322 / RFC 2045-2047 the outbox needs.
public enum MIME {
    /// A header value that cannot break out of its header: CR, LF and other controls become spaces.
    public static func headerSafe(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        var lastWasSpace = false
        for scalar in text.unicodeScalars {
            let isControl = scalar.value < 32 || scalar.value == 127 || (0x80...0x9F).contains(scalar.value)
                || scalar == "\u{2028}" || scalar == "\u{2029}"
            if isControl || scalar == " " {
                if !lastWasSpace { output.unicodeScalars.append(" ") }
                lastWasSpace = true
            } else {
                output.unicodeScalars.append(scalar)
                lastWasSpace = false
            }
        }
        return output.trimmingCharacters(in: .whitespaces)
    }

    /// The text as is when it is printable ASCII, else RFC 2047 encoded words (UTF-8, base64),
    /// each at most 75 characters and never splitting a character.
    public static func encodeWord(_ text: String) -> String {
        let safe = headerSafe(text)
        if safe.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) && !safe.contains("=?") { return safe }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in safe {
            let bytes = Array(String(character).utf8)
            // 45 bytes -> 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" = 72 <= 75.
            if chunk.count + bytes.count > 45, !chunk.isEmpty {
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: " ")
    }

    /// A display name: quoted when ASCII, encoded words otherwise.
    static func displayName(_ name: String) -> String {
        let safe = headerSafe(name)
        if safe.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) && !safe.contains("=?") {
            return "\"" + safe.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return encodeWord(safe)
    }

    /// Folds a header line at spaces so lines stay near 78 characters (RFC 5322 2.2.3).
    public static func fold(_ line: String, width: Int = 76) -> String {
        guard line.utf8.count > width else { return line }
        var lines: [String] = []
        var current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            if current.isEmpty {
                current = String(word)
            } else if current.utf8.count + 1 + word.utf8.count > width {
                lines.append(current)
                current = String(word)
            } else {
                current += " " + word
            }
        }
        lines.append(current)
        return lines.joined(separator: "\r\n ")
    }

    /// RFC 5322 date in UTC: `Tue, 14 May 2024 10:00:00 +0000`.
    public static func date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String { let v = value ?? 0; return v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[(parts.weekday ?? 1) - 1]), \(two(parts.day)) \(months[(parts.month ?? 1) - 1]) \(parts.year ?? 1970) "
            + "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) +0000"
    }

    /// The body with CRLF line endings, and its transfer encoding: `7bit` when it is ASCII with
    /// short lines, else quoted-printable (safe through any relay, unlike 8bit).
    public static func encodeBody(_ text: String) -> (encoding: String, bytes: [UInt8]) {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
        let plain = lines.allSatisfy { line in
            line.utf8.count <= 998 && line.utf8.allSatisfy { ($0 >= 32 && $0 < 127) || $0 == 9 }
        }
        var output: [UInt8] = []
        if plain {
            for line in lines {
                output += Array(line.utf8)
                output += [13, 10]
            }
            return ("7bit", output)
        }
        for line in lines {
            output += quotedPrintable(Array(line.utf8))
            output += [13, 10]
        }
        return ("quoted-printable", output)
    }

    /// One line as quoted-printable (RFC 2045 6.7), soft-broken at 76 characters.
    static func quotedPrintable(_ bytes: [UInt8]) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        var lineLength = 0
        for (index, byte) in bytes.enumerated() {
            let isLast = index == bytes.count - 1
            var token: [UInt8]
            if (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=")) || ((byte == 32 || byte == 9) && !isLast) {
                token = [byte]
            } else {
                token = [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
            // Leave room for the soft break "=" unless this is the line's last token.
            let limit = isLast ? 76 : 75
            if lineLength + token.count > limit {
                output += [UInt8(ascii: "="), 13, 10]
                lineLength = 0
            }
            output += token
            lineLength += token.count
        }
        return output
    }

    /// SMTP DATA transparency (RFC 5321 4.5.2): a line starting with "." gets another; ends
    /// with the CRLF "." CRLF terminator.
    public static func dotStuffed(_ message: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(message.count + 16)
        var atLineStart = true
        var previous: UInt8 = 0
        for byte in message {
            if atLineStart && byte == UInt8(ascii: ".") { output.append(UInt8(ascii: ".")) }
            output.append(byte)
            atLineStart = byte == 10 && previous == 13
            previous = byte
        }
        if !(output.count >= 2 && output[output.count - 2] == 13 && output[output.count - 1] == 10) { output += [13, 10] }
        output += Array(".\r\n".utf8)
        return output
    }
}

/// Why a mail did not leave. `permanent` failures (a 5xx reply, a bad address) will never
/// work; anything else may work on a later attempt.
public struct MailError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The server refused for good (5xx): bounce, unknown recipient, policy.
        case rejected
        /// The server said try later (4xx).
        case deferred
        /// Connect, TLS, read or write failed, or timed out.
        case connection
        /// An address SMTP cannot carry.
        case invalidAddress
        /// The `.eml` file could not be written.
        case storage
    }

    public let code: Code
    public let message: String
    /// The server's reply code, when one was received.
    public var replyCode: Int?

    public init(_ code: Code, _ message: String, replyCode: Int? = nil) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
    }

    public var isPermanent: Bool { code == .rejected || code == .invalidAddress }

    public var description: String { message }
}
