import Foundation

/// Folds text the way the index's `unicode61 remove_diacritics 2` tokenizer does, so terms the
/// parser and the typo vocabulary see compare equal to the terms FTS5 stored.
enum TextNormalizer {
    /// Lowercased, diacritics removed ("Zürich" -> "zurich").
    static func fold(_ text: some StringProtocol) -> String {
        let decomposed = asciiOrDecomposed(String(text))
        var scalars = String.UnicodeScalarView()
        for scalar in decomposed.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark: continue
            default: scalars.append(scalar)
            }
        }
        return String(scalars).lowercased()
    }

    private static func asciiOrDecomposed(_ text: String) -> String {
        // Plain ASCII needs no decomposition (the common case, and the fast one).
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        return text.decomposedStringWithCanonicalMapping
    }

    /// True for the characters a token is made of (letters, numbers, private use), as unicode61.
    static func isTokenScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (v >= 48 && v <= 57) || (v >= 65 && v <= 90) || (v >= 97 && v <= 122)
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber, .privateUse,
            .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default:
            return false
        }
    }

    /// The folded tokens of `text`, in order.
    static func tokens(_ text: some StringProtocol) -> [String] {
        var result: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in fold(text).unicodeScalars {
            if isTokenScalar(scalar) {
                current.append(scalar)
            } else if !current.isEmpty {
                result.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { result.append(String(current)) }
        return result
    }

    /// `text` without control characters (the highlighter's markers are control characters,
    /// so indexed text must not carry any).
    static func stripControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            scalars.append(isControl(scalar) ? " " : scalar)
        }
        return String(scalars)
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format
    }

    /// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attributes.
    static func escapeHTML(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}
