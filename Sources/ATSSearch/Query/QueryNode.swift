/// One searchable unit of a parsed query: a word, or several adjacent words (a quoted phrase,
/// or a word the tokenizer splits, like "node.js").
struct QueryTerm: Sendable, Hashable {
    /// Folded tokens, never empty, each only letters and digits.
    var words: [String]
    /// The user quoted it: matched as typed, no typo expansion.
    var quoted: Bool
    /// The user wrote `term*`.
    var explicitPrefix: Bool
    /// The last term of the query while the user is still typing it.
    var implicitPrefix: Bool

    var prefix: Bool { explicitPrefix || implicitPrefix }
    var isSingleWord: Bool { words.count == 1 }
}

/// The parsed query: AND, OR and NOT over terms. NOT appears only as a child of AND (or alone
/// at the top, meaning "everything except").
indirect enum QueryNode: Sendable, Hashable {
    case term(QueryTerm)
    case and([QueryNode])
    case or([QueryNode])
    case not(QueryNode)

    /// Every term, left to right.
    var terms: [QueryTerm] {
        switch self {
        case .term(let term): [term]
        case .and(let nodes), .or(let nodes): nodes.flatMap(\.terms)
        case .not(let node): node.terms
        }
    }

    /// The normalized text of the query, for explain and for cache keys.
    var rendered: String {
        switch self {
        case .term(let term):
            let body = term.words.joined(separator: " ")
            let text = term.quoted || term.words.count > 1 ? "\"\(body)\"" : body
            return term.prefix ? text + "*" : text
        case .and(let nodes):
            return nodes.map { node in
                if case .or = node { return "(\(node.rendered))" }
                return node.rendered
            }.joined(separator: " AND ")
        case .or(let nodes):
            return nodes.map { node in
                if case .and = node { return "(\(node.rendered))" }
                return node.rendered
            }.joined(separator: " OR ")
        case .not(let node):
            if case .term = node { return "NOT \(node.rendered)" }
            return "NOT (\(node.rendered))"
        }
    }
}

extension QueryNode {
    /// The same tree with every term passed through `transform`.
    func mapTerms(_ transform: (QueryTerm) -> QueryTerm) -> QueryNode {
        switch self {
        case .term(let term): .term(transform(term))
        case .and(let nodes): .and(nodes.map { $0.mapTerms(transform) })
        case .or(let nodes): .or(nodes.map { $0.mapTerms(transform) })
        case .not(let node): .not(node.mapTerms(transform))
        }
    }
}
