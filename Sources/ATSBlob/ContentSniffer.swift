/// Decides a blob's media type from its first bytes, so a download's `Content-Type` never
/// comes from what an uploader claimed.
///
/// Office Open XML files are ZIPs: the local file headers at the start name their parts
/// (`word/`, `xl/`, `ppt/`), which tells DOCX, XLSX and PPTX apart without the central
/// directory at the end. Text is valid UTF-8 without NUL bytes (a sequence cut at the end of
/// the prefix is fine); JSON, HTML and XML are recognised by their opening.
public enum ContentSniffer {
    /// How many leading bytes `contentType(prefix:)` looks at (the store sniffs this much).
    public static let prefixLength = 64 * 1024

    public static let pdf = "application/pdf"
    public static let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    public static let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    public static let pptx = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    public static let zip = "application/zip"
    public static let doc = "application/msword"
    public static let rtf = "application/rtf"
    public static let png = "image/png"
    public static let jpeg = "image/jpeg"
    public static let gif = "image/gif"
    public static let webp = "image/webp"
    public static let json = "application/json"
    public static let xml = "application/xml"
    public static let html = "text/html; charset=utf-8"
    public static let text = "text/plain; charset=utf-8"
    public static let binary = "application/octet-stream"

    /// The media type of content starting with `prefix` (give it `prefixLength` bytes or the
    /// whole content when shorter). Empty content is `application/octet-stream`.
    public static func contentType(prefix: [UInt8]) -> String {
        prefix.withUnsafeBufferPointer { contentType(bytes: $0) }
    }

    /// True for types worth compressing at rest: text, JSON, XML, RTF, CSV, legacy Word.
    public static func isCompressible(_ contentType: String) -> Bool {
        let type = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? contentType
        return type.hasPrefix("text/") || type == json || type == xml || type == rtf || type == doc
            || type == "text/csv"
    }

    static func contentType(bytes: UnsafeBufferPointer<UInt8>) -> String {
        let count = bytes.count
        if count == 0 { return binary }
        func starts(_ signature: [UInt8], at offset: Int = 0) -> Bool {
            guard count >= offset + signature.count else { return false }
            for index in signature.indices where bytes[offset + index] != signature[index] { return false }
            return true
        }
        // PDF readers accept the header anywhere in the first KiB.
        if find(Array("%PDF-".utf8), in: bytes, limit: 1024) { return pdf }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return zipType(bytes) }
        if starts([0x50, 0x4B, 0x05, 0x06]) || starts([0x50, 0x4B, 0x07, 0x08]) { return zip }
        if starts([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) { return doc }
        if starts(Array("{\\rtf".utf8)) { return rtf }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return png }
        if starts([0xFF, 0xD8, 0xFF]) { return jpeg }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return gif }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return webp }
        guard isText(bytes) else { return binary }
        var start = 0
        if starts([0xEF, 0xBB, 0xBF]) { start = 3 }
        while start < count, isSpace(bytes[start]) { start += 1 }
        guard start < count else { return text }
        switch bytes[start] {
        case UInt8(ascii: "{"):
            let next = firstNonSpace(bytes, after: start)
            if next == nil || next == UInt8(ascii: "\"") || next == UInt8(ascii: "}") { return json }
        case UInt8(ascii: "["):
            if let next = firstNonSpace(bytes, after: start) {
                switch next {
                case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "\""), UInt8(ascii: "]"), UInt8(ascii: "-"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                    return json
                default: break
                }
            }
        case UInt8(ascii: "<"):
            let head = lowercasedASCII(bytes, from: start, count: 64)
            if head.hasPrefix("<!doctype html") || head.hasPrefix("<html") || head.hasPrefix("<head")
                || head.hasPrefix("<body") {
                return html
            }
            if head.hasPrefix("<?xml") {
                // XHTML still renders as a page: call it HTML so the edge treats it as such.
                let more = lowercasedASCII(bytes, from: start, count: 512)
                return more.contains("<html") ? html : xml
            }
        default: break
        }
        return text
    }

    /// Walks the ZIP's local file headers inside the prefix and looks at the part names.
    private static func zipType(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var offset = 0
        var names: [String] = []
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        while offset + 30 <= bytes.count, u32(offset) == 0x0403_4B50, names.count < 200 {
            let flags = u16(offset + 6)
            let compressedSize = u32(offset + 18)
            let nameLength = u16(offset + 26)
            let extraLength = u16(offset + 28)
            guard offset + 30 + nameLength <= bytes.count else { break }
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[(offset + 30)..<(offset + 30 + nameLength)]), as: UTF8.self)
            names.append(name)
            if let type = officeType(name) { return type }
            // A data descriptor (bit 3) leaves the size unknown here: fall back to a scan.
            if flags & 0x08 != 0 || compressedSize == 0xFFFF_FFFF { break }
            offset += 30 + nameLength + extraLength + compressedSize
        }
        // Only a package whose parts so far are all Office package parts may be Office: a zip
        // that merely holds a .docx (a candidate's documents) contains "word/" too.
        let packageParts = ["[Content_Types].xml", "_rels/", "docProps/", "customXml/"]
        guard names.allSatisfy({ name in packageParts.contains { name.hasPrefix($0) } }) else { return zip }
        for (marker, type) in [("word/", docx), ("xl/", xlsx), ("ppt/", pptx)]
        where find(Array(marker.utf8), in: bytes, limit: bytes.count) {
            return type
        }
        return zip
    }

    private static func officeType(_ name: String) -> String? {
        if name.hasPrefix("word/") { return docx }
        if name.hasPrefix("xl/") { return xlsx }
        if name.hasPrefix("ppt/") { return pptx }
        return nil
    }

    private static func find(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, limit: Int) -> Bool {
        let end = min(bytes.count, limit)
        guard needle.count <= end else { return false }
        var index = 0
        while index + needle.count <= end {
            if bytes[index] == needle[0] {
                var matched = true
                for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return true }
            }
            index += 1
        }
        return false
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func firstNonSpace(_ bytes: UnsafeBufferPointer<UInt8>, after index: Int) -> UInt8? {
        var position = index + 1
        while position < bytes.count, isSpace(bytes[position]) { position += 1 }
        return position < bytes.count ? bytes[position] : nil
    }

    private static func lowercasedASCII(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, count: Int) -> String {
        let end = min(bytes.count, start + count)
        return String(decoding: bytes[start..<end].map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// Valid UTF-8 with no NUL and few control characters; a multi-byte sequence cut by the end
    /// of the prefix counts as valid.
    static func isText(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        var controls = 0
        while index < count {
            let byte = bytes[index]
            if byte < 0x80 {
                if byte == 0 { return false }
                if byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D && byte != 0x0C && byte != 0x1B {
                    controls += 1
                }
                index += 1
                continue
            }
            let length: Int
            let minimum: UInt32
            var scalar: UInt32
            switch byte {
            case 0xC2...0xDF: length = 2; minimum = 0x80; scalar = UInt32(byte & 0x1F)
            case 0xE0...0xEF: length = 3; minimum = 0x800; scalar = UInt32(byte & 0x0F)
            case 0xF0...0xF4: length = 4; minimum = 0x10000; scalar = UInt32(byte & 0x07)
            default: return false
            }
            var offset = 1
            while offset < length {
                if index + offset >= count { return true }  // cut by the prefix
                let next = bytes[index + offset]
                guard next & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(next & 0x3F)
                offset += 1
            }
            if scalar < minimum || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { return false }
            index += length
        }
        // A handful of stray control characters is still text; many means binary.
        return controls * 100 <= count
    }
}
