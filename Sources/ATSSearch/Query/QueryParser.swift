/// Turns what a recruiter types into a `QueryNode`, accepting the boolean syntax they use
/// (AND, OR, NOT or `-term`, parentheses, quoted phrases, `term*`) and reading anything else
/// as literal words: FTS5 syntax never passes through, because the MATCH expression is built
/// from these folded tokens, each quoted.
public enum QueryParser {
    /// The longest query accepted, in characters.
    public static let maxLength = 1_000
    /// The most words a query may hold.
    public static let maxTerms = 64
    /// Parentheses deeper than this group nothing (FTS5's parser has a bounded stack).
    static let maxDepth = 12
    /// The shortest last word that also matches as a prefix while typing.
    static let implicitPrefixMinimum = 2

    /// What the parser made of a query.
    struct Result: Sendable, Hashable {
        /// Nil when nothing searchable is left (empty text, only punctuation).
        var root: QueryNode?
        var rendered: String { root?.rendered ?? "" }
    }

    /// Parses `text`; throws only for input too large to accept.
    static func parse(_ text: String) throws(SearchQueryError) -> Result {
        guard text.count <= maxLength else {
            throw SearchQueryError(
                reason: "query-too-long", message: "A query may hold at most \(maxLength) characters.")
        }
        let tokens = lex(text)
        let words = tokens.reduce(0) { count, token in
            switch token {
            case .word(let term): count + term.words.count
            case .phrase(let term): count + term.words.count
            default: count
            }
        }
        guard words <= maxTerms else {
            throw SearchQueryError(reason: "query-too-long", message: "A query may hold at most \(maxTerms) terms.")
        }
        var parser = Parser(tokens: markLastWord(tokens))
        if let root = parser.parseQuery() { return Result(root: root) }
        // Only operators (or only negations of nothing): read the operator words literally.
        let literal = tokens.compactMap { token -> QueryNode? in
            switch token {
            case .word(let term), .phrase(let term): return .term(term)
            case .and: return .term(QueryTerm(words: ["and"], quoted: false, explicitPrefix: false, implicitPrefix: false))
            case .or: return .term(QueryTerm(words: ["or"], quoted: false, explicitPrefix: false, implicitPrefix: false))
            case .not: return .term(QueryTerm(words: ["not"], quoted: false, explicitPrefix: false, implicitPrefix: false))
            default: return nil
            }
        }
        switch literal.count {
        case 0: return Result(root: nil)
        case 1: return Result(root: literal[0])
        default: return Result(root: .and(literal))
        }
    }

    // MARK: Lexer

    enum Token: Hashable {
        case word(QueryTerm)
        case phrase(QueryTerm)
        case open, close, and, or, not, minus
    }

    static func lex(_ text: String) -> [Token] {
        var tokens: [Token] = []
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func isSpace(_ s: Unicode.Scalar) -> Bool {
            s.properties.isWhitespace || TextNormalizer.isControl(s)
        }
        while i < scalars.count {
            let s = scalars[i]
            if isSpace(s) {
                i += 1
                continue
            }
            switch s {
            case "(":
                tokens.append(.open)
                i += 1
            case ")":
                tokens.append(.close)
                i += 1
            case "\"", "\u{201C}", "\u{201D}", "\u{201E}":
                // A phrase runs to the next quote, or to the end when unbalanced.
                var j = i + 1
                var body = String.UnicodeScalarView()
                while j < scalars.count, !isQuote(scalars[j]) {
                    body.append(TextNormalizer.isControl(scalars[j]) ? " " : scalars[j])
                    j += 1
                }
                i = min(j + 1, scalars.count)
                var prefix = false
                if i < scalars.count, scalars[i] == "*" {
                    prefix = true
                    i += 1
                }
                let words = TextNormalizer.tokens(String(body))
                if !words.isEmpty {
                    tokens.append(.phrase(QueryTerm(words: words, quoted: true, explicitPrefix: prefix, implicitPrefix: false)))
                }
            case "-" where i + 1 < scalars.count && !isSpace(scalars[i + 1]) && scalars[i + 1] != "-":
                tokens.append(.minus)
                i += 1
            default:
                var j = i
                var raw = String.UnicodeScalarView()
                while j < scalars.count, !isSpace(scalars[j]), !isQuote(scalars[j]), scalars[j] != "(", scalars[j] != ")" {
                    raw.append(scalars[j])
                    j += 1
                }
                i = j
                let word = String(raw)
                switch word {
                case "AND", "&&": tokens.append(.and)
                case "OR", "||", "|": tokens.append(.or)
                case "NOT": tokens.append(.not)
                default:
                    let words = TextNormalizer.tokens(withoutFieldName(word))
                    guard !words.isEmpty else { continue }
                    // `term*` asks for a prefix; a `*` elsewhere only separates words.
                    let prefix = word.hasSuffix("*") && TextNormalizer.isTokenScalar(
                        word.unicodeScalars.reversed().first(where: { $0 != "*" }) ?? "*")
                    tokens.append(.word(QueryTerm(words: words, quoted: false, explicitPrefix: prefix, implicitPrefix: false)))
                }
            }
        }
        return tokens
    }

    /// Field names any kind has: `title:python` reads as `python` (column filters are not
    /// part of the syntax, but the user's intent is clear enough to keep the term).
    static let fieldNames: Set<String> = Set(SearchKind.allCases.flatMap { SearchSchema.fields($0).map(\.name) })

    static func withoutFieldName(_ word: String) -> String {
        guard let colon = word.firstIndex(of: ":") else { return word }
        let field = word[..<colon].lowercased()
        let rest = word[word.index(after: colon)...]
        return fieldNames.contains(field) && !rest.isEmpty ? String(rest) : word
    }

    static func isQuote(_ s: Unicode.Scalar) -> Bool {
        s == "\"" || s == "\u{201C}" || s == "\u{201D}" || s == "\u{201E}"
    }

    /// The last bare word of the query (when nothing but operators follows it and it is not
    /// negated) is matched as a prefix too: the user may still be typing it.
    static func markLastWord(_ tokens: [Token]) -> [Token] {
        guard let index = tokens.lastIndex(where: {
            if case .word = $0 { return true }
            if case .phrase = $0 { return true }
            return false
        }), case .word(var term) = tokens[index] else { return tokens }
        if index > 0, tokens[index - 1] == .minus || tokens[index - 1] == .not { return tokens }
        guard let last = term.words.last, last.count >= implicitPrefixMinimum, !term.explicitPrefix else { return tokens }
        term.implicitPrefix = true
        var result = tokens
        result[index] = .word(term)
        return result
    }

    // MARK: Parser

    /// Recursive descent that never fails: stray operators and parentheses are skipped,
    /// unclosed parentheses close at the end.
    struct Parser {
        let tokens: [Token]
        var position = 0
        var depth = 0

        init(tokens: [Token]) { self.tokens = tokens }

        var peek: Token? { position < tokens.count ? tokens[position] : nil }

        mutating func parseQuery() -> QueryNode? {
            var parts: [QueryNode] = []
            while position < tokens.count {
                if let node = parseOr() { parts.append(node) }
                // A `)` without its `(`: skip it and go on.
                if peek == .close { position += 1 }
            }
            return Self.conjunction(parts)
        }

        mutating func parseOr() -> QueryNode? {
            var alternatives: [QueryNode] = []
            if let first = parseAnd() { alternatives.append(first) }
            while peek == .or {
                position += 1
                if let next = parseAnd() { alternatives.append(next) }
            }
            // A negation cannot be an alternative in FTS5 ("a OR NOT b"): it is dropped.
            let usable = alternatives.count > 1 ? alternatives.filter { !Self.isNegative($0) } : alternatives
            switch usable.count {
            case 0: return nil
            case 1: return usable[0]
            default:
                return .or(usable.flatMap { node -> [QueryNode] in
                    if case .or(let inner) = node { return inner }
                    return [node]
                })
            }
        }

        mutating func parseAnd() -> QueryNode? {
            var parts: [QueryNode] = []
            loop: while let token = peek {
                switch token {
                case .or, .close: break loop
                case .and: position += 1
                default:
                    if let node = parseUnary() { parts.append(node) }
                }
            }
            return Self.conjunction(parts)
        }

        mutating func parseUnary() -> QueryNode? {
            guard let token = peek else { return nil }
            if token == .not || token == .minus {
                position += 1
                // "NOT" at the end or before an operator negates nothing.
                guard let next = peek, next != .or, next != .and, next != .close else { return nil }
                guard let operand = parseUnary() else { return nil }
                if case .not(let inner) = operand { return inner }
                return .not(operand)
            }
            return parsePrimary()
        }

        mutating func parsePrimary() -> QueryNode? {
            guard let token = peek else { return nil }
            position += 1
            switch token {
            case .word(let term), .phrase(let term):
                return .term(term)
            case .open:
                depth += 1
                defer { depth -= 1 }
                if depth > QueryParser.maxDepth {
                    // Too deep: this group's content joins the enclosing one.
                    return parseUnary()
                }
                let inner = parseOr()
                if peek == .close { position += 1 }
                return inner
            default:
                return nil
            }
        }

        static func isNegative(_ node: QueryNode) -> Bool {
            switch node {
            case .not: true
            case .and(let parts): parts.allSatisfy(isNegative)
            default: false
            }
        }

        static func conjunction(_ parts: [QueryNode]) -> QueryNode? {
            let flat = parts.flatMap { node -> [QueryNode] in
                if case .and(let inner) = node { return inner }
                return [node]
            }
            switch flat.count {
            case 0: return nil
            case 1: return flat[0]
            default: return .and(flat)
            }
        }
    }
}
