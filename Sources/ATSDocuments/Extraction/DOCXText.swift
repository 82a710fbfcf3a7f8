/// Text of a Word (OOXML) document: our ZIP reader, then a small scanner over WordprocessingML.
///
/// No XML parser on purpose: nothing is resolved (no entities beyond the five predefined and numeric
/// references, no DTDs), so XXE and billion-laughs attacks have nothing to work with.
enum DOCXText {
    static let mainContentTypes = [
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "application/vnd.ms-word.document.macroEnabled.main+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
        "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
    ]

    static func extract(_ bytes: [UInt8], limits: ExtractionLimits) throws(DocumentError) -> String {
        if bytes.starts(with: [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            // An OLE compound file: Office wraps password-protected OOXML in one ("EncryptionInfo" stream);
            // otherwise it is a legacy binary .doc.
            let marker = Array("EncryptionInfo".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
            if bytes.firstRange(of: marker) != nil {
                throw DocumentError(.encrypted, "The Word document is password-protected.")
            }
            throw DocumentError(.unsupported, "This is a legacy Word (.doc) file; save it as .docx or PDF.")
        }
        guard bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || bytes.starts(with: [0x50, 0x4B, 0x05, 0x06]) else {
            throw DocumentError(.malformed, "The file is not a Word document.")
        }
        let archive = try ZipReader(bytes: bytes, limits: limits)
        let main = try mainPart(archive)
        // Normalisation only shortens text, so twice the limit is plenty before truncation.
        let budget = limits.maxTextCharacters * 2
        var parts: [String] = []
        // Headers first: contact details often live there. Identical headers (first page, odd, even) once.
        var seen: Set<String> = []
        for name in archive.entryNames.sorted() where isPart(name, prefix: "word/header") {
            let text = WordML.text(try archive.read(name), maxCharacters: budget)
            if !text.isEmpty, seen.insert(text).inserted { parts.append(text) }
        }
        parts.append(WordML.text(try archive.read(main), maxCharacters: budget))
        return parts.joined(separator: "\n")
    }

    static func isPart(_ name: String, prefix: String) -> Bool {
        guard name.hasPrefix(prefix), name.hasSuffix(".xml") else { return false }
        let middle = name.dropFirst(prefix.count).dropLast(4)
        return middle.allSatisfy(\.isNumber)
    }

    static func mainPart(_ archive: ZipReader) throws(DocumentError) -> String {
        if archive.contains("[Content_Types].xml") {
            let types = String(decoding: try archive.read("[Content_Types].xml"), as: UTF8.self)
            for override in XMLScan.tags(named: "Override", in: types) {
                if let type = override["ContentType"], mainContentTypes.contains(type),
                    var part = override["PartName"]
                {
                    if part.hasPrefix("/") { part.removeFirst() }
                    if archive.contains(part) { return part }
                }
            }
        }
        if archive.contains("word/document.xml") { return "word/document.xml" }
        if archive.entryNames.contains(where: { $0.hasPrefix("xl/") }) {
            throw DocumentError(.unsupported, "This is an Excel workbook, not a Word document.")
        }
        if archive.entryNames.contains(where: { $0.hasPrefix("ppt/") }) {
            throw DocumentError(.unsupported, "This is a PowerPoint presentation, not a Word document.")
        }
        throw DocumentError(.malformed, "The file is a ZIP archive but not a Word document.")
    }
}

/// WordprocessingML to text: paragraphs become lines, tabs and breaks kept, deleted text and field codes
/// dropped, VML fallbacks (duplicates of DrawingML text boxes) skipped; a table row with single-paragraph
/// cells becomes one line with the cells separated by tabs, so "Name | Jane Doe" tables stay together.
enum WordML {
    /// The text of a WordprocessingML part; scanning stops once about `maxCharacters` are collected.
    static func text(_ bytes: [UInt8], maxCharacters: Int = .max) -> String {
        var cells: [Cell] = [Cell()]  // the document body, then one per open table cell
        var inText = false, inRun = false
        var skipDepth = 0  // inside w:delText, w:instrText or mc:Fallback
        var paragraphDepth = 0  // a text box's paragraphs sit inside the paragraph that anchors it
        var nestedParagraphEnded = false
        var scanner = XMLScan(bytes)
        var collected = 0
        while collected <= maxCharacters, let token = scanner.next() {
            switch token {
            case .text(let text):
                if inText, skipDepth == 0 {
                    cells[cells.count - 1].line += text
                    collected += text.utf8.count
                }
            case .open(let name, let selfClosing):
                switch name {
                case "w:t": inText = !selfClosing
                case "w:r": inRun = !selfClosing
                case "w:delText", "w:instrText", "mc:Fallback": if !selfClosing { skipDepth += 1 }
                case "w:tab" where inRun: if skipDepth == 0 { cells[cells.count - 1].line += "\t" }
                case "w:br", "w:cr": if inRun, skipDepth == 0 { cells[cells.count - 1].line += "\n" }
                case "w:noBreakHyphen": if skipDepth == 0 { cells[cells.count - 1].line += "-" }
                case "w:tc": if !selfClosing, cells.count < 64 { cells.append(Cell()) }
                case "w:p" where selfClosing: cells[cells.count - 1].endParagraph()
                case "w:p": paragraphDepth += 1
                default: break
                }
            case .close(let name):
                switch name {
                case "w:t": inText = false
                case "w:r": inRun = false
                case "w:delText", "w:instrText", "mc:Fallback": skipDepth = max(0, skipDepth - 1)
                case "w:p":
                    paragraphDepth = max(0, paragraphDepth - 1)
                    if skipDepth > 0 {
                        nestedParagraphEnded = true
                    } else if paragraphDepth > 0 {
                        nestedParagraphEnded = true
                        cells[cells.count - 1].endParagraph()
                    } else if nestedParagraphEnded && cells[cells.count - 1].line.isEmpty {
                        // The anchor of a text box: its own (empty) line would only add a blank line.
                        nestedParagraphEnded = false
                    } else {
                        nestedParagraphEnded = false
                        cells[cells.count - 1].endParagraph()
                    }
                case "w:tc":
                    guard cells.count > 1 else { break }
                    var cell = cells.removeLast()
                    cell.flush()
                    let paragraphs = cell.content
                    if paragraphs.count <= 1 {
                        cells[cells.count - 1].line += (paragraphs.first ?? "") + "\t"
                    } else {
                        cells[cells.count - 1].flush()
                        cells[cells.count - 1].paragraphs += paragraphs
                    }
                case "w:tr": cells[cells.count - 1].flush()
                default: break
                }
            }
        }
        while cells.count > 1 {
            var cell = cells.removeLast()
            cell.flush()
            cells[cells.count - 1].flush()
            cells[cells.count - 1].paragraphs += cell.content
        }
        cells[0].flush()
        return cells[0].content.joined(separator: "\n")
    }

    struct Cell {
        var paragraphs: [String] = []
        var line = ""

        /// Ends a paragraph; an empty one is kept as one blank line between paragraphs.
        mutating func endParagraph() {
            var text = line
            while text.last == "\t" { text.removeLast() }
            if !text.isEmpty || paragraphs.last?.isEmpty == false { paragraphs.append(text) }
            line = ""
        }

        /// Ends the current line only if it holds something (closing a cell or row).
        mutating func flush() {
            if !line.isEmpty { endParagraph() }
        }

        /// The paragraphs without trailing blank lines.
        var content: [String] {
            var result = paragraphs
            while result.last?.isEmpty == true { result.removeLast() }
            return result
        }
    }
}

/// A forgiving, non-validating XML tokenizer: tags, text with predefined and numeric entities decoded,
/// comments, CDATA, processing instructions and declarations skipped.
struct XMLScan {
    enum Token {
        case open(String, selfClosing: Bool)
        case close(String)
        case text(String)
    }

    private let bytes: [UInt8]
    private var position = 0
    private(set) var lastAttributes: Substring = ""

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func next() -> Token? {
        while position < bytes.count {
            if bytes[position] != UInt8(ascii: "<") {
                let start = position
                while position < bytes.count, bytes[position] != UInt8(ascii: "<") { position += 1 }
                return .text(Self.decodeEntities(String(decoding: bytes[start..<position], as: UTF8.self)))
            }
            if matches("<!--", at: position) {
                position = find("-->", from: position + 4).map { $0 + 3 } ?? bytes.count
                continue
            }
            if matches("<![CDATA[", at: position) {
                let start = position + 9
                let end = find("]]>", from: start) ?? bytes.count
                position = min(bytes.count, end + 3)
                return .text(String(decoding: bytes[start..<end], as: UTF8.self))
            }
            if position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "?") || bytes[position + 1] == UInt8(ascii: "!") {
                position = endOfTag(from: position + 1) + 1
                continue
            }
            let end = endOfTag(from: position + 1)
            defer { position = end + 1 }
            let inner = bytes[(position + 1)..<min(end, bytes.count)]
            if inner.first == UInt8(ascii: "/") {
                let name = inner.dropFirst().prefix { !Self.isSpace($0) }
                return .close(String(decoding: name, as: UTF8.self))
            }
            let selfClosing = inner.last == UInt8(ascii: "/")
            let body = selfClosing ? inner.dropLast() : inner
            let name = body.prefix { !Self.isSpace($0) }
            lastAttributes = Substring(String(decoding: body.dropFirst(name.count), as: UTF8.self))
            return .open(String(decoding: name, as: UTF8.self), selfClosing: selfClosing)
        }
        return nil
    }

    /// The attributes of every `<name ...>` tag in a document (used for [Content_Types].xml).
    static func tags(named wanted: String, in text: String) -> [[String: String]] {
        var scanner = XMLScan(Array(text.utf8))
        var found: [[String: String]] = []
        while let token = scanner.next() {
            if case .open(let name, _) = token, name == wanted || name.hasSuffix(":" + wanted) {
                found.append(attributes(scanner.lastAttributes))
            }
        }
        return found
    }

    static func attributes(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var rest = text[...]
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].trimmingWhitespace()
            var after = rest[rest.index(after: equals)...].drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
            guard let quote = after.first, quote == "\"" || quote == "'" else { break }
            after = after.dropFirst()
            guard let close = after.firstIndex(of: quote) else { break }
            result[String(key)] = decodeEntities(String(after[..<close]))
            rest = after[after.index(after: close)...]
        }
        return result
    }

    /// The index of the `>` closing a tag, skipping quoted attribute values.
    private func endOfTag(from start: Int) -> Int {
        var index = start
        var quote: UInt8? = nil
        while index < bytes.count {
            let byte = bytes[index]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: ">") {
                return index
            }
            index += 1
        }
        return bytes.count
    }

    private func matches(_ literal: StaticString, at index: Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return literal.withUTF8Buffer { literal in
            for offset in 0..<count where bytes[index + offset] != literal[offset] { return false }
            return true
        }
    }

    private func find(_ literal: StaticString, from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if matches(literal, at: index) { return index }
            index += 1
        }
        return nil
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var output = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            output += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            guard let semicolon = after.prefix(12).firstIndex(of: ";") else {
                output += "&"
                rest = after
                continue
            }
            let name = after[..<semicolon]
            var replacement: String?
            switch name {
            case "amp": replacement = "&"
            case "lt": replacement = "<"
            case "gt": replacement = ">"
            case "quot": replacement = "\""
            case "apos": replacement = "'"
            default:
                if name.hasPrefix("#x") || name.hasPrefix("#X"), let value = UInt32(name.dropFirst(2), radix: 16) {
                    replacement = Unicode.Scalar(value).map { String(Character($0)) }
                } else if name.hasPrefix("#"), let value = UInt32(name.dropFirst()) {
                    replacement = Unicode.Scalar(value).map { String(Character($0)) }
                }
            }
            if let replacement {
                output += replacement
                rest = after[after.index(after: semicolon)...]
            } else {
                output += "&"
                rest = after
            }
        }
        output += rest
        return output
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first.isWhitespace { result.removeFirst() }
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return result
    }
}
