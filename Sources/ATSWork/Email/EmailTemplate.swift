import ATSDomain
import ATSStore

/// A template's `{{namespace.field}}` placeholders, rendered against the values of one send.
///
/// Plain text: no escaping. Unknown names and unclosed braces are errors, never silently left
/// in a mail a candidate reads. A name the catalogue knows but this send has no value for
/// (a candidate without a phone) renders empty; a namespace the send lacks entirely (`job.*`
/// without a job) is an error, since the recruiter picked the wrong template or forgot the job.
public struct EmailTemplate: Sendable, Hashable {
    public let text: String

    public init(_ text: String) { self.text = text }

    /// One `{{...}}` occurrence.
    public struct Placeholder: Sendable, Hashable {
        public let name: String
    }

    enum Part: Hashable {
        case literal(Substring)
        case variable(String)
    }

    /// The template split into literals and variable names, or the first syntax error.
    func parse() throws(TemplateError) -> [Part] {
        try scan().map(\.part)
    }

    /// `parse`, with where each part starts (for errors that point at a place).
    private func scan() throws(TemplateError) -> [(part: Part, start: String.Index)] {
        var parts: [(part: Part, start: String.Index)] = []
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append((.literal(rest[rest.startIndex..<open.lowerBound]), rest.startIndex)) }
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else {
                throw TemplateError(.syntax, "a `{{` is never closed with `}}`", variable: nil, position: position(of: open.lowerBound))
            }
            let name = afterOpen[afterOpen.startIndex..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.count <= 100, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_") })
            else {
                throw TemplateError(
                    .syntax, "`{{\(afterOpen[afterOpen.startIndex..<close.lowerBound].prefix(40))}}` is not a variable name",
                    variable: nil, position: position(of: open.lowerBound))
            }
            parts.append((.variable(name), open.lowerBound))
            rest = afterOpen[close.upperBound...]
        }
        if !rest.isEmpty { parts.append((.literal(rest), rest.startIndex)) }
        return parts
    }

    /// The 1-based line and column (in characters) of an index of `text`.
    private func position(of index: String.Index) -> TemplateError.Position {
        var line = 1
        var column = 1
        for character in text[..<index] {
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return TemplateError.Position(line: line, column: column)
    }

    /// The first fault that would stop every send of this template, with its place: broken
    /// `{{` syntax (an unclosed tag, a section or anything else that is not a variable name) or
    /// a name outside `TemplateValues.catalogue`. nil when the template is sound. Checked when a
    /// template is saved, so a recruiter hears of it then, not when a mail fails.
    public func firstFault() -> TemplateError? {
        let parts: [(part: Part, start: String.Index)]
        do {
            parts = try scan()
        } catch {
            return error
        }
        for item in parts {
            guard case .variable(let name) = item.part, !TemplateValues.isKnown(name) else { continue }
            return TemplateError(
                .unknownVariable, "`{{\(name)}}` is not a known variable", variable: name, position: position(of: item.start))
        }
        return nil
    }

    /// The variable names the template uses, in order of first use.
    public func variables() throws(TemplateError) -> [String] {
        var seen = Set<String>()
        var names: [String] = []
        for case .variable(let name) in try parse() where seen.insert(name).inserted { names.append(name) }
        return names
    }

    /// Replaces every placeholder with its value; unknown names and missing namespaces throw.
    public func render(_ values: TemplateValues) throws(TemplateError) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for part in try parse() {
            switch part {
            case .literal(let text): output += text
            case .variable(let name): output += try values.value(of: name)
            }
        }
        return output
    }
}

/// The values one send offers to a template: per namespace (`candidate`, `job`, `client`,
/// `recruiter`, `organization`), the fields it has. A namespace that is absent (no job given)
/// is nil, so its use can be reported precisely.
public struct TemplateValues: Sendable, Hashable {
    public var namespaces: [String: [String: String]]
    /// Why a namespace is absent, for the error message (`job`: "send a jobId").
    public var absentReasons: [String: String]

    public init(namespaces: [String: [String: String]] = [:], absentReasons: [String: String] = [:]) {
        self.namespaces = namespaces
        self.absentReasons = absentReasons
    }

    /// Every variable a template may use: the catalogue the API documents.
    public static let catalogue: [String: [String]] = [
        "candidate": [
            "firstName", "lastName", "fullName", "email", "phone", "currentTitle", "professionalHeadline", "currentLocation",
            "source",
        ],
        "job": ["title", "location", "employmentType", "remote", "salaryMin", "salaryMax", "salaryCurrency"],
        "client": ["name", "industry", "website", "location"],
        "recruiter": ["name", "email"],
        "organization": ["name"],
    ]

    /// Every known name as `namespace.field`, sorted.
    public static var knownNames: [String] {
        catalogue.flatMap { entry in entry.value.map { "\(entry.key).\($0)" } }.sorted()
    }

    /// Whether `namespace.field` is in the catalogue.
    static func isKnown(_ name: String) -> Bool {
        let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count == 2, let fields = catalogue[String(pieces[0])] else { return false }
        return fields.contains(String(pieces[1]))
    }

    func value(of name: String) throws(TemplateError) -> String {
        let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
        guard Self.isKnown(name) else {
            throw TemplateError(.unknownVariable, "`{{\(name)}}` is not a known variable", variable: name)
        }
        let namespace = String(pieces[0])
        guard let values = namespaces[namespace] else {
            let reason = absentReasons[namespace] ?? "this send has no \(namespace)"
            throw TemplateError(.missingContext, "`{{\(name)}}` needs a \(namespace): \(reason)", variable: name)
        }
        return values[String(pieces[1])] ?? ""
    }
}

/// Why a template does not render. A struct over a code, so it can grow.
public struct TemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// Unclosed braces or a placeholder that is not a name.
        case syntax
        /// A name outside `TemplateValues.catalogue`.
        case unknownVariable
        /// A known name whose namespace this send lacks (`job.title` without a job).
        case missingContext
    }

    /// Where in the template text: 1-based line and column (in characters).
    public struct Position: Sendable, Hashable {
        public let line: Int
        public let column: Int

        public init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }
    }

    public let code: Code
    public let message: String
    public let variable: String?
    /// Where the fault starts, when it is a fault of the text (not of a send's values).
    public let position: Position?

    public init(_ code: Code, _ message: String, variable: String?, position: Position? = nil) {
        self.code = code
        self.message = message
        self.variable = variable
        self.position = position
    }

    public var description: String { message }

    /// The message with its place, for a field error: "at line 2, column 5: ...".
    public var located: String {
        guard let position else { return message }
        return "at line \(position.line), column \(position.column): \(message)"
    }
}

extension TemplateValues {
    /// The scalar fields of a stored record as text, for a namespace.
    static func fields(of record: Record, _ names: [String]) -> [String: String] {
        var output: [String: String] = [:]
        for name in names {
            switch record[name] {
            case .string(let text)?: output[name] = text
            case .int(let number)?: output[name] = String(number)
            case .double(let number)?: output[name] = String(number)
            case .bool(let flag)?: output[name] = flag ? "yes" : "no"
            default: break
            }
        }
        return output
    }
}
