import Foundation

/// Turns an uploaded document into plain text for the parser and the search index.
///
/// Every failure is a `DocumentError` with a reason a recruiter can read; hostile input (bombs, truncated
/// archives, binary data under a text type, damaged or encrypted PDFs) ends there, never in a crash, a hang
/// or an allocation beyond the limits.
public enum TextExtractor {
    /// The text of a document, normalised (Unix newlines, no trailing spaces, at most one blank line in a row)
    /// and truncated to `limits.maxTextCharacters`.
    ///
    /// PDFs go through poppler's `pdftotext` in a child process (reading order rather than `-layout`, so a
    /// two-column CV comes out one column after the other), killed when `limits.timeout` passes.
    public static func extract(
        bytes: [UInt8], format: DocumentFormat, limits: ExtractionLimits = .init()
    ) async throws(DocumentError) -> String {
        guard !bytes.isEmpty else { throw DocumentError(.empty, "The file is empty.") }
        guard bytes.count <= limits.maxInputBytes else {
            throw DocumentError(.tooLarge, "The file is larger than \(ZipReader.megabytes(limits.maxInputBytes)).")
        }
        let raw: String
        switch format {
        case .pdf: raw = try await PDFText.extract(bytes, limits: limits)
        case .docx: raw = try DOCXText.extract(bytes, limits: limits)
        case .rtf: raw = try RTFText.extract(bytes, maxCharacters: limits.maxTextCharacters * 2)
        case .text: raw = try PlainText.decode(bytes)
        }
        let text = normalize(raw, maxCharacters: limits.maxTextCharacters)
        guard text.contains(where: { $0.isLetter || $0.isNumber }) else {
            switch format {
            case .pdf: throw DocumentError(.empty, "The PDF has no text layer; it may be a scanned image.")
            default: throw DocumentError(.empty, "The document contains no text.")
            }
        }
        return text
    }

    /// The text of a document of a given MIME type (decided from the content, not the uploader's word);
    /// a type we do not read fails as `unsupported`, with a hint for the usual ones.
    public static func extract(
        bytes: [UInt8], contentType: String, limits: ExtractionLimits = .init()
    ) async throws(DocumentError) -> String {
        guard let format = DocumentFormat(contentType: contentType) else {
            let essence = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            switch essence {
            case "application/msword", "application/x-ole-storage", "application/cdfv2":
                throw DocumentError(.unsupported, "Word 97-2003 (.doc) files are not read; save the CV as .docx or PDF.")
            case let type where type.hasPrefix("image/"):
                throw DocumentError(.unsupported, "The file is an image; upload the CV as PDF, DOCX, RTF or text.")
            default:
                throw DocumentError(.unsupported, "This kind of file is not read; upload the CV as PDF, DOCX, RTF or text.")
            }
        }
        return try await extract(bytes: bytes, format: format, limits: limits)
    }

    /// Unix newlines, no NULs or other control characters, trailing spaces trimmed, runs of blank lines
    /// collapsed, ligatures and non-breaking spaces unfolded, NFC, and at most `maxCharacters` characters.
    public static func normalize(_ text: String, maxCharacters: Int = 200_000) -> String {
        var lines: [Substring] = []
        var blank = 0
        var total = 0
        let unified = text.precomposedStringWithCanonicalMapping
        let breaks: Set<Character> = ["\n", "\r\n", "\r", "\u{0C}", "\u{2028}", "\u{2029}"]
        for line in unified.split(omittingEmptySubsequences: false, whereSeparator: { breaks.contains($0) }) {
            var cleaned = ""
            cleaned.reserveCapacity(line.utf8.count)
            for scalar in line.unicodeScalars {
                switch scalar.value {
                case 0x09: cleaned.unicodeScalars.append(scalar)
                case 0x00..<0x20, 0x7F, 0x80..<0xA0, 0xAD, 0x200B, 0x200C, 0x200D, 0xFEFF: continue
                case 0xA0, 0x2007, 0x202F: cleaned.append(" ")
                case 0xFB00: cleaned.append("ff")
                case 0xFB01: cleaned.append("fi")
                case 0xFB02: cleaned.append("fl")
                case 0xFB03: cleaned.append("ffi")
                case 0xFB04: cleaned.append("ffl")
                default: cleaned.unicodeScalars.append(scalar)
                }
            }
            while let last = cleaned.last, last == " " || last == "\t" { cleaned.removeLast() }
            if cleaned.isEmpty {
                blank += 1
                if blank > 1 || lines.isEmpty { continue }
            } else {
                blank = 0
            }
            lines.append(Substring(cleaned))
            total += cleaned.count + 1
            if total > maxCharacters { break }
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        let joined = lines.joined(separator: "\n")
        return joined.count > maxCharacters ? String(joined.prefix(maxCharacters)) : joined
    }
}

/// Plain text: BOMs, UTF-8, or Windows-1252 (a superset of Latin-1's printable range); binary data refused.
enum PlainText {
    static func decode(_ bytes: [UInt8]) throws(DocumentError) -> String {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { return try checked(String(decoding: bytes.dropFirst(3), as: UTF8.self)) }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            let little = bytes[0] == 0xFF
            var units: [UInt16] = []
            units.reserveCapacity(bytes.count / 2)
            var index = 2
            while index + 1 < bytes.count {
                units.append(little ? UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8 : UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]))
                index += 2
            }
            return try checked(String(decoding: units, as: UTF16.self))
        }
        guard !bytes.contains(0) else { throw binary() }
        if let text = String(validating: bytes, as: UTF8.self) { return try checked(text) }
        return try checked(windows1252(bytes[...]))
    }

    /// Refuses text that is mostly control characters or replacement characters: binary data under a text type.
    static func checked(_ text: String) throws(DocumentError) -> String {
        var suspicious = 0, total = 0
        for scalar in text.unicodeScalars {
            total += 1
            switch scalar.value {
            case 0x09, 0x0A, 0x0C, 0x0D: continue
            case 0x00..<0x20, 0x7F, 0xFFFD, 0x80..<0xA0: suspicious += 1
            default: continue
            }
        }
        guard total == 0 || suspicious * 100 <= total else { throw binary() }
        return text
    }

    static func binary() -> DocumentError {
        DocumentError(.malformed, "The file is declared as text but contains binary data.")
    }

    /// Decodes Windows-1252; its five undefined bytes become U+FFFD.
    static func windows1252(_ bytes: ArraySlice<UInt8>) -> String {
        var text = ""
        text.unicodeScalars.reserveCapacity(bytes.count)
        for byte in bytes { text.unicodeScalars.append(windows1252(byte)) }
        return text
    }

    static func windows1252(_ byte: UInt8) -> Unicode.Scalar {
        guard (0x80..<0xA0).contains(byte) else { return Unicode.Scalar(byte) }
        let value = cp1252High[Int(byte) - 0x80]
        return Unicode.Scalar(value) ?? "\u{FFFD}"
    }

    static let cp1252High: [UInt32] = [
        0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
        0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
    ]

    /// The Windows-1252 byte of a character, if it has one (for generated PDFs and RTF fallbacks).
    static func windows1252Byte(_ scalar: Unicode.Scalar) -> UInt8? {
        if scalar.value < 0x80 || (0xA0...0xFF).contains(scalar.value) { return UInt8(scalar.value) }
        if let index = cp1252High.firstIndex(of: scalar.value), scalar.value != 0xFFFD { return UInt8(0x80 + index) }
        return nil
    }
}
