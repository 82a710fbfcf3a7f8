import Foundation

/// A parsed query turned into FTS5 MATCH expressions. Every term is quoted here, so nothing
/// the user typed can reach FTS5 as syntax.
struct MatchExpression: Sendable, Hashable {
    /// What a document must match (typo corrections and prefixes included); nil when the query
    /// only excludes.
    var match: String?
    /// The same query with every term as typed: documents matching it rank first. Nil when it
    /// equals `match`.
    var exact: String?
    /// For a query that only excludes ("-java"): what a document must not match.
    var excluded: String?
    /// Query term -> the vocabulary terms it also matched.
    var corrections: [String: [String]]
    var parsed: String

    /// True when the query has no searchable text (filters only).
    var isFilterOnly: Bool { match == nil && excluded == nil }

    /// Compiles `root`; `correct` gives the typo corrections of a single word.
    init(_ root: QueryNode?, correct: (String) -> [String]) {
        parsed = root?.rendered ?? ""
        corrections = [:]
        match = nil
        exact = nil
        excluded = nil
        guard let root else { return }
        var cache: [String: [String]] = [:]
        let expand: (QueryTerm) -> [String] = { term in
            guard term.isSingleWord, !term.quoted, let word = term.words.first else { return [] }
            if let known = cache[word] { return known }
            let found = correct(word)
            cache[word] = found
            return found
        }
        if let positive = Self.compile(root, loose: true, expand: expand) {
            match = positive
            let strict = Self.compile(root, loose: false, expand: expand)
            exact = strict == positive ? nil : strict
            for term in root.terms {
                guard let word = term.words.first, term.isSingleWord else { continue }
                if let found = cache[word], !found.isEmpty { corrections[word] = found }
            }
        } else {
            excluded = Self.negatives(root).compactMap { Self.compile($0, loose: false, expand: { _ in [] }) }
                .joinedOr()
        }
    }

    /// The FTS5 text of `node`, or nil when it cannot match on its own (only negations).
    /// `loose` adds typo corrections and the implicit prefix of the last word.
    static func compile(_ node: QueryNode, loose: Bool, expand: (QueryTerm) -> [String]) -> String? {
        switch node {
        case .term(let term):
            let phrase = quote(term.words.joined(separator: " "))
            let prefixed = term.explicitPrefix || (loose && term.implicitPrefix)
            let base = prefixed ? phrase + "*" : phrase
            guard loose else { return base }
            let extra = expand(term)
            guard !extra.isEmpty else { return base }
            return "(" + ([base] + extra.map(quote)).joined(separator: " OR ") + ")"
        case .and(let nodes):
            var positives: [String] = []
            var negatives: [String] = []
            for child in nodes {
                if case .not(let inner) = child {
                    // Corrections never widen an exclusion: "-pyhton" excludes only "pyhton".
                    if let text = compile(inner, loose: false, expand: expand) { negatives.append(text) }
                } else if let text = compile(child, loose: loose, expand: expand) {
                    positives.append(text)
                }
            }
            guard !positives.isEmpty else { return nil }
            var text = positives.count == 1 ? positives[0] : "(" + positives.joined(separator: " AND ") + ")"
            for negative in negatives { text = "(" + text + " NOT " + negative + ")" }
            return text
        case .or(let nodes):
            let parts = nodes.compactMap { compile($0, loose: loose, expand: expand) }
            return parts.joinedOr()
        case .not:
            return nil
        }
    }

    /// The excluded parts of a query that only excludes.
    static func negatives(_ node: QueryNode) -> [QueryNode] {
        switch node {
        case .not(let inner): [inner]
        case .and(let nodes): nodes.flatMap(negatives)
        default: []
        }
    }

    /// An FTS5 string literal.
    static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension [String] {
    fileprivate func joinedOr() -> String? {
        switch count {
        case 0: nil
        case 1: self[0]
        default: "(" + joined(separator: " OR ") + ")"
        }
    }
}
