import Foundation

/// Normalized forms used for duplicate detection: two spellings of one address or number
/// must compare equal, so the check lives in one place.
public enum Normalize {
    /// `Jane.Doe+cv@GMail.com` -> `janedoe@gmail.com`; other domains keep dots and tags
    /// except for case and surrounding space.
    public static func email(_ raw: String) -> String {
        let lowered = raw.trimmingCharacters(in: .whitespaces).lowercased()
        guard let at = lowered.lastIndex(of: "@") else { return lowered }
        var local = String(lowered[..<at])
        let domain = String(lowered[lowered.index(after: at)...])
        if domain == "gmail.com" || domain == "googlemail.com" {
            if let plus = local.firstIndex(of: "+") { local = String(local[..<plus]) }
            local.removeAll { $0 == "." }
            return "\(local)@gmail.com"
        }
        return "\(local)@\(domain)"
    }

    /// The last nine digits of a number, so `+41 79 123 45 67` and `079 123 45 67` match;
    /// shorter numbers keep all their digits.
    public static func phone(_ raw: String) -> String {
        let digits = raw.unicodeScalars.filter { $0.properties.numericType == .decimal && $0.isASCII }
        let text = String(String.UnicodeScalarView(digits))
        return text.count > 9 ? String(text.suffix(9)) : text
    }

    public static func isEmail(_ text: String) -> Bool {
        guard text.utf8.count <= 254, !text.contains(where: { $0.isWhitespace || $0.isNewline }),
            !TextRules.hasForbiddenControl(text, multiline: false)
        else { return false }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64 else { return false }
        let domain = parts[1]
        guard domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix("."), !domain.contains("..") else {
            return false
        }
        return domain.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }
    }

    public static func isPhone(_ text: String) -> Bool {
        guard text.count <= 40 else { return false }
        var digits = 0
        for scalar in text.unicodeScalars {
            switch scalar {
            case "0"..."9": digits += 1
            case "+", "-", " ", "(", ")", ".", "/": continue
            default: return false
            }
        }
        return (5...20).contains(digits)
    }
}
