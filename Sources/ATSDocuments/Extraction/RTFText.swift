/// Text of an RTF document: a single pass over groups and control words, with the usual
/// non-text destinations (font and colour tables, pictures, metadata, field instructions) skipped.
///
/// `\'hh` escapes decode as Windows-1252 (the ANSI code page of virtually every Western RTF writer;
/// other code pages fall back to it), `\uN` as Unicode with its `\ucN` fallback characters skipped.
enum RTFText {
    static let maxDepth = 512

    static let skippedDestinations: Set<String> = [
        "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "objdata", "themedata", "colorschememapping",
        "datastore", "latentstyles", "listtable", "listoverridetable", "rsidtbl", "generator", "xmlnstbl", "mmathPr",
        "fldinst", "filetbl", "revtbl", "footer", "footerl", "footerr", "footerf", "bkmkstart", "bkmkend", "pntext",
        "pntxta", "pntxtb", "listtext", "nonshppict", "shppict", "blipuid", "userprops", "docvar", "template", "xe", "tc",
        "pgdsctbl", "protusertbl", "wgrffmtfilter", "passwordhash", "ftnsep", "ftnsepc", "aftnsep", "aftnsepc", "sp", "sn",
        "sv", "falt", "panose", "fontemb", "fontfile", "listpicture", "ud", "upr",
    ]

    static let symbols: [String: String] = [
        "par": "\n", "line": "\n", "sect": "\n", "page": "\n", "row": "\n", "cell": "\t", "nestcell": "\t", "tab": "\t",
        "emdash": "\u{2014}", "endash": "\u{2013}", "bullet": "\u{2022}", "lquote": "\u{2018}", "rquote": "\u{2019}",
        "ldblquote": "\u{201C}", "rdblquote": "\u{201D}", "emspace": " ", "enspace": " ", "qmspace": " ",
    ]

    struct Group {
        var skip = false
        var fallbackCount = 1
    }

    /// The text of an RTF document; parsing stops once about `maxCharacters` are collected.
    static func extract(_ bytes: [UInt8], maxCharacters: Int = .max) throws(DocumentError) -> String {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        while start < bytes.count, XMLScan.isSpace(bytes[start]) { start += 1 }
        guard bytes[start...].starts(with: Array("{\\rtf".utf8)) else {
            throw DocumentError(.malformed, "The file is not an RTF document.")
        }
        var output = String.UnicodeScalarView()
        var produced = 0
        var stack: [Group] = []
        var group = Group()
        var pendingFallback = 0
        var highSurrogate: UInt32? = nil
        var index = start

        func emit(_ scalar: Unicode.Scalar, _ group: Group) {
            guard !group.skip else { return }
            if pendingFallback > 0 {
                pendingFallback -= 1
                return
            }
            output.append(scalar)
            produced += 1
        }

        while index < bytes.count, produced <= maxCharacters {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "{"):
                guard stack.count < maxDepth else { throw DocumentError(.malformed, "The RTF document is nested too deeply.") }
                stack.append(group)
                pendingFallback = 0
            case UInt8(ascii: "}"):
                guard let outer = stack.popLast() else { return String(output) }
                group = outer
                pendingFallback = 0
            case 0x0A, 0x0D:
                continue
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { break }
                let next = bytes[index]
                if Self.isLetter(next) {
                    let wordStart = index
                    while index < bytes.count, Self.isLetter(bytes[index]), index - wordStart < 32 { index += 1 }
                    let word = String(decoding: bytes[wordStart..<index], as: UTF8.self)
                    var parameter: Int? = nil
                    let numberStart = index
                    if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
                    while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39, index - numberStart < 11 { index += 1 }
                    if index > numberStart {
                        parameter = Int(String(decoding: bytes[numberStart..<index], as: UTF8.self))
                    }
                    if index < bytes.count, bytes[index] == 0x20 { index += 1 }
                    if skippedDestinations.contains(word) {
                        group.skip = true
                    } else if let symbol = symbols[word] {
                        if !group.skip { pendingFallback = 0 }
                        for scalar in symbol.unicodeScalars { emit(scalar, group) }
                    } else if word == "u", let value = parameter {
                        let code = UInt32(truncatingIfNeeded: value < 0 ? value + 65_536 : value) & 0xFFFF
                        var scalar: Unicode.Scalar?
                        if (0xD800..<0xDC00).contains(code) {
                            highSurrogate = code
                        } else if (0xDC00..<0xE000).contains(code), let high = highSurrogate {
                            scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00))
                            highSurrogate = nil
                        } else {
                            scalar = Unicode.Scalar(code)
                        }
                        if let scalar, !group.skip {
                            pendingFallback = 0
                            output.append(scalar)
                            produced += 1
                        }
                        pendingFallback = group.skip ? 0 : group.fallbackCount
                    } else if word == "uc", let value = parameter {
                        group.fallbackCount = max(0, min(value, 16))
                    } else if word == "bin", let value = parameter {
                        index = min(bytes.count, index + max(0, value))
                    }
                } else {
                    index += 1
                    switch next {
                    case UInt8(ascii: "'"):
                        guard index + 1 < bytes.count,
                            let value = UInt8(String(decoding: bytes[index...(index + 1)], as: UTF8.self), radix: 16)
                        else { break }
                        index += 2
                        emit(PlainText.windows1252(value), group)
                    case UInt8(ascii: "*"): group.skip = true
                    case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\\"): emit(Unicode.Scalar(next), group)
                    case UInt8(ascii: "~"): emit(" ", group)
                    case UInt8(ascii: "_"): emit("-", group)
                    case 0x0A, 0x0D: emit("\n", group)
                    default: break
                    }
                }
            case 0x09:
                emit("\t", group)
            default:
                emit(byte < 0x80 ? Unicode.Scalar(byte) : PlainText.windows1252(byte), group)
            }
        }
        return String(output)
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}
