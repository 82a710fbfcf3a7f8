import Foundation

/// Reads a CV's text into candidate fields with heuristics that hold up across common layouts: headed
/// sections (English, French, German), "Name:" forms and tables, one-line contact headers separated by
/// "|" or "•", and flowing text with no headings at all.
///
/// Pure and fast (no I/O, one pass per field over pre-tokenized lines), so it runs inline in the ingest job.
public struct CVParser: Sendable {
    /// The skills, languages and places the parser recognises.
    public let taxonomy: CVTaxonomy

    /// A parser over a taxonomy (build both once and share them: they are immutable and Sendable).
    public init(taxonomy: CVTaxonomy) {
        self.taxonomy = taxonomy
    }

    /// Parses extracted CV text; `now` dates "2019 – present" ranges.
    public func parse(_ text: String, now: Date = Date()) -> ParsedCV {
        let document = CVDocument(text: text)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: now)
        let nowMonth = (parts.year ?? 2025) * 12 + (parts.month ?? 1) - 1

        var result = ParsedCV()
        var confidence: [String: Double] = [:]

        if let (email, score) = findEmail(document) {
            result.email = email
            confidence["email"] = score
        }
        if let (phone, score) = findPhone(document) {
            result.phone = phone
            confidence["phone"] = score
        }
        if let name = findName(document, email: result.email) {
            result.firstName = name.first
            result.lastName = name.last
            confidence["firstName"] = name.confidence
            confidence["lastName"] = name.confidence
        }
        if let (title, score) = findTitle(document, name: [result.firstName, result.lastName].compactMap { $0 }.joined(separator: " ")) {
            result.currentTitle = title
            confidence["currentTitle"] = score
        }
        if let location = findLocation(document) {
            result.city = location.city
            result.country = location.country
            confidence["currentLocation"] = location.confidence
        }
        let skills = findSkills(document)
        result.skills = skills.names
        result.skillsByCategory = skills.byCategory
        for category in skills.byCategory.keys { confidence[category] = skills.confidence }
        if let (languages, score) = findLanguages(document) {
            result.languages = languages
            confidence["spokenLanguages"] = score
        }
        if let (education, score) = findEducation(document, nowMonth: nowMonth) {
            result.education = education
            confidence["education"] = score
        }
        if let (years, score) = findExperienceYears(document, nowMonth: nowMonth) {
            result.yearsOfExperience = years
            confidence["experienceYears"] = score
        }

        result.confidence = confidence
        let weights: [(String, Double)] = [
            ("firstName", 1), ("lastName", 1), ("email", 1.5), ("phone", 1), ("currentLocation", 1), ("currentTitle", 1),
            ("skills", 1.5), ("spokenLanguages", 0.5), ("education", 0.75), ("experienceYears", 0.75),
        ]
        var sum = 0.0, total = 0.0
        for (field, weight) in weights {
            let value = field == "skills" ? (skills.names.isEmpty ? 0 : skills.confidence) : (confidence[field] ?? 0)
            sum += weight * value
            total += weight
        }
        result.overallConfidence = total > 0 ? sum / total : 0
        return result
    }
}

/// The CV's lines, cleaned, tokenized once, each tagged with the section it belongs to.
struct CVDocument {
    struct Line {
        let index: Int
        let text: String
        let tokens: [CVToken]
        /// The section the line is in; an inline "Skills: ..." line counts as that section.
        let section: Lexicon.Section
        let isHeading: Bool
        /// "label" of a "Label: value" line, lowercased.
        let label: String?
        let value: String?
    }

    let lines: [Line]
    let hasSections: Bool

    init(text: String) {
        var lines: [Line] = []
        var section = Lexicon.Section.header
        var sawHeading = false
        for raw in text.precomposedStringWithCanonicalMapping.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let cleaned = Self.clean(raw)
            guard !cleaned.isEmpty else { continue }
            if let heading = Self.heading(cleaned) {
                section = heading
                sawHeading = true
                lines.append(Line(index: lines.count, text: cleaned, tokens: [], section: heading, isHeading: true, label: nil, value: nil))
                continue
            }
            let (label, value) = Self.labelled(cleaned)
            var lineSection = section
            if let label, let inline = Lexicon.headings[label], value != nil, inline == .skills || inline == .languages {
                lineSection = inline
            }
            lines.append(Line(
                index: lines.count, text: cleaned, tokens: CVToken.tokenize(cleaned), section: lineSection, isHeading: false,
                label: label, value: value))
        }
        self.lines = lines
        self.hasSections = sawHeading
    }

    /// The lines before the first heading (or the first ten when there is none), where name and contact live.
    var header: ArraySlice<Line> {
        let count = hasSections ? lines.prefix { $0.section == .header && !$0.isHeading }.count : 10
        return lines.prefix(min(max(count, 0), 15))
    }

    /// Trimmed, runs of spaces collapsed, leading bullets removed.
    static func clean(_ raw: Substring) -> String {
        var text = ""
        var space = false
        for character in raw {
            if character == "\t" {
                while text.last == " " { text.removeLast() }
                if !text.isEmpty, text.last != "\t" { text.append("\t") }
                space = false
            } else if character.isWhitespace {
                space = !text.isEmpty && text.last != "\t"
            } else {
                if space { text.append(" ") }
                space = false
                text.append(character)
            }
        }
        while text.last == "\t" { text.removeLast() }
        let bullets: Set<Character> = [
            "•", "·", "●", "▪", "◦", "►", "▸", "‣", "*", "-", "–", "—", "o", "❖", "✓", "✔", "➢", "→", "■", "□", "◆", "○",
        ]
        while let first = text.first, bullets.contains(first) {
            let second = text.dropFirst().first
            let symbol = !"o-–—".contains(first)
            guard second == " " || second == "\t" || (symbol && second != nil) else { break }
            text.removeFirst()
            while text.first == " " || text.first == "\t" { text.removeFirst() }
        }
        return text
    }

    /// The section a heading line opens, if the line is one.
    static func heading(_ line: String) -> Lexicon.Section? {
        guard line.count <= 50 else { return nil }
        var key = line.lowercased()
        key = String(key.drop { "#=*_-–—:|[(".contains($0) || $0 == " " })
        while let last = key.last, ":=*_-–—|])".contains(last) || last == " " { key.removeLast() }
        // Letter-spaced headings: "S K I L L S".
        let parts = key.split(separator: " ")
        if parts.count >= 4, parts.allSatisfy({ $0.count == 1 }) { key = parts.joined() }
        key = key.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return Lexicon.headings[key]
    }

    /// A "Label: value" line split in two (the label lowercased, at most four words); value nil when empty.
    static func labelled(_ line: String) -> (String?, String?) {
        guard let separator = line.firstIndex(where: { $0 == ":" || $0 == "：" || $0 == "\t" }) else { return (nil, nil) }
        let label = line[..<separator].trimmingCharacters(in: .whitespaces).lowercased()
        guard !label.isEmpty, label.count <= 30, label.split(separator: " ").count <= 4,
            !label.contains(where: { $0.isNumber || $0 == "@" })
        else { return (nil, nil) }
        let value = line[line.index(after: separator)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t:"))
        return (label, value.isEmpty ? nil : value)
    }

    /// The pieces of a line between list and header separators ("|", "•", tabs, " - ", commas, ...).
    static func segments(_ line: String, commas: Bool = true) -> [String] {
        var pieces: [String] = []
        var current = ""
        let characters = Array(line)
        var index = 0
        func push() {
            let piece = current.trimmingCharacters(in: .whitespaces)
            if !piece.isEmpty { pieces.append(piece) }
            current = ""
        }
        while index < characters.count {
            let character = characters[index]
            let previousSpace = index > 0 && characters[index - 1] == " "
            let nextSpace = index + 1 < characters.count && characters[index + 1] == " "
            switch character {
            case "|", "•", "·", "●", "▪", "◦", "‣", "⋅", "\t", ";", "♦", "◆", "■", "¦":
                push()
            case ",":
                if commas { push() } else { current.append(character) }
            case "-", "–", "—", "/":
                if previousSpace && nextSpace { push() } else { current.append(character) }
            default:
                current.append(character)
            }
            index += 1
        }
        push()
        return pieces
    }

    /// The value of the first line labelled with one of `labels` ("Phone: ..."), or of the line after a
    /// label standing alone.
    func labelledValues(_ labels: Set<String>) -> [(value: String, line: Int)] {
        var found: [(String, Int)] = []
        for (position, line) in lines.enumerated() {
            guard let label = line.label, labels.contains(label) else { continue }
            if let value = line.value {
                found.append((value, position))
            } else if position + 1 < lines.count, !lines[position + 1].isHeading, lines[position + 1].label == nil {
                found.append((lines[position + 1].text, position + 1))
            }
        }
        return found
    }
}
