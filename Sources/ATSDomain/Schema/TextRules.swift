/// Which characters stored text may hold. A NUL truncates the text in C libraries and some
/// databases' tools, and the other control characters are invisible in every view, garble
/// exports and mail headers, and hide one value behind another that looks the same.
public enum TextRules {
    /// Strings whose limit is at least this long are prose (summaries, notes, mail bodies): they
    /// may hold tabs and line breaks. Shorter ones (names, titles, lines) may not.
    public static let multilineFromLength = 500

    /// Whether `text` holds a control character it must not: NUL, the rest of C0 and DEL
    /// anywhere, except tab, line feed and carriage return in a multi-line text.
    public static func hasForbiddenControl(_ text: String, multiline: Bool) -> Bool {
        text.unicodeScalars.contains { scalar in
            let value = scalar.value
            guard value < 0x20 || value == 0x7F else { return false }
            return !(multiline && (value == 0x09 || value == 0x0A || value == 0x0D))
        }
    }

    /// The field error's message for such a text.
    public static func controlMessage(multiline: Bool) -> String {
        multiline
            ? "must not contain control characters (NUL and the like) other than tabs and line breaks"
            : "must not contain control characters (NUL, tabs, line breaks and the like)"
    }

    /// The first forbidden control character anywhere in a JSON value (keys too), as the path
    /// of the string that holds it; free-form objects (settings, filters) follow the
    /// multi-line rule.
    public static func firstForbiddenControl(in value: JSONValue, path: String) -> String? {
        switch value {
        case .string(let text):
            return hasForbiddenControl(text, multiline: true) ? path : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = firstForbiddenControl(in: item, path: "\(path)[\(index)]") { return found }
            }
            return nil
        case .object(let object):
            for (key, item) in object {
                if hasForbiddenControl(key, multiline: false) { return path }
                if let found = firstForbiddenControl(in: item, path: "\(path).\(key)") { return found }
            }
            return nil
        default:
            return nil
        }
    }
}
