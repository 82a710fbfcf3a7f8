/// One token of a line: a run of letters and digits, a single joining symbol (`+ # . / - & '`), or a break
/// (list separators, brackets, sentence ends) that no term crosses.
struct CVToken: Sendable, Hashable {
    enum Kind: Sendable, Hashable { case word, symbol, separator }

    let kind: Kind
    /// As written.
    let text: String
    /// Lowercased, for case-insensitive comparison.
    let lower: String
    /// Directly attached to the previous token (no space and no separator between them).
    let glued: Bool

    var isWord: Bool { kind == .word }
    var isSeparator: Bool { kind == .separator }

    static let joiningSymbols: Set<Character> = ["+", "#", ".", "/", "-", "&", "'", "\u{2019}"]

    /// Splits a line (or a term) into tokens.
    static func tokenize(_ text: some StringProtocol) -> [CVToken] {
        var tokens: [CVToken] = []
        var word = ""
        var wordGlued = false
        var spaceBefore = true
        let characters = Array(text)

        func flush() {
            guard !word.isEmpty else { return }
            tokens.append(CVToken(kind: .word, text: word, lower: word.lowercased(), glued: wordGlued))
            word = ""
        }
        func glued() -> Bool { !spaceBefore && tokens.last.map { !$0.isSeparator } == true }

        for (index, character) in characters.enumerated() {
            if character.isLetter || character.isNumber {
                if word.isEmpty { wordGlued = glued() }
                word.append(character)
                spaceBefore = false
                continue
            }
            flush()
            if character.isWhitespace {
                spaceBefore = true
                continue
            }
            let next = index + 1 < characters.count ? characters[index + 1] : " "
            let previousIsSpace = spaceBefore
            if joiningSymbols.contains(character) {
                // A dot, dash or slash between spaces or ending a sentence separates; inside a word it joins.
                let separates: Bool
                switch character {
                case ".": separates = next.isWhitespace || (!(next.isLetter || next.isNumber) && next != "+" && next != "#")
                case "-", "/", "&": separates = previousIsSpace && next.isWhitespace
                case "'", "\u{2019}": separates = previousIsSpace || next.isWhitespace
                default: separates = false
                }
                if separates {
                    tokens.append(CVToken(kind: .separator, text: String(character), lower: String(character), glued: false))
                } else {
                    tokens.append(CVToken(kind: .symbol, text: String(character), lower: String(character), glued: glued()))
                }
            } else {
                tokens.append(CVToken(kind: .separator, text: String(character), lower: String(character), glued: false))
            }
            spaceBefore = false
        }
        flush()
        return tokens
    }
}

/// Finds taxonomy terms (skills, languages, places) in tokenized lines: word-boundary aware (so "C" is not
/// found in "C++", "Node" not in "Node.js", "R" not in "R&D"), longest match first, and careful with terms
/// that are also everyday words or initials.
struct TermMatcher: Sendable {
    enum Context: Sendable, Hashable {
        /// Anywhere in prose.
        case anywhere
        /// Only as a list item of its own ("Go, Rust, C"): single letters and short abbreviations.
        case listItem
        /// Anywhere in a skills list or section, elsewhere only as written in the taxonomy (capitalised)
        /// or as a list item: words such as "Swift", "Spring", "security", "training".
        case listOrExactCase
    }

    struct Term: Sendable, Hashable {
        let tokens: [CVToken]
        let payload: Int
        let context: Context
        /// Per token: compare as written (abbreviations in capitals, "Go").
        let exactCase: [Bool]
    }

    struct Match: Sendable, Hashable {
        let payload: Int
        let start: Int
        let end: Int  // exclusive
    }

    private var byFirstToken: [String: [Term]] = [:]

    init() {}

    /// Adds a term (`canonical` when it is the skill's own name, not a synonym); `ambiguous` words
    /// (everyday English words that are also skills) are matched more strictly.
    mutating func add(_ term: String, payload: Int, canonical: Bool = true, ambiguous: Set<String> = []) {
        let tokens = CVToken.tokenize(term).filter { !$0.isSeparator }
        guard let first = tokens.first else { return }
        let letters = term.filter { $0.isLetter || $0.isNumber }.count
        let hasSymbol = term.contains("+") || term.contains("#") || term.hasPrefix(".")
        let context: Context
        if !hasSymbol && (letters <= 1 || (letters <= 2 && !canonical)) {
            // "R", "C"; and two-letter synonyms ("ML", "CI", "AP", "TA") that are initials of too much else.
            context = .listItem
        } else if tokens.count == 1, ambiguous.contains(first.lower) {
            context = .listOrExactCase
        } else {
            context = .anywhere
        }
        let exactCase = tokens.map { token in
            token.isWord && token.text.count <= 4 && token.text.count >= 1
                && token.text.contains(where: \.isUppercase)
                && (token.text == token.text.uppercased() || token.text.count <= 2)
                && !token.text.allSatisfy(\.isNumber)
        }
        let compiled = Term(tokens: tokens, payload: payload, context: context, exactCase: exactCase)
        byFirstToken[first.lower, default: []].append(compiled)
    }

    /// The non-overlapping matches in one line, longest first; `listContext` relaxes ambiguous words
    /// (a skills section or a "Skills:" line).
    func matches(in tokens: [CVToken], listContext: Bool = false) -> [Match] {
        var found: [(Match, Int)] = []
        for start in tokens.indices where !tokens[start].isSeparator {
            guard let candidates = byFirstToken[tokens[start].lower] else { continue }
            for term in candidates {
                let end = start + term.tokens.count
                guard end <= tokens.count, accepts(term, in: tokens, start: start, end: end, listContext: listContext) else { continue }
                found.append((Match(payload: term.payload, start: start, end: end), term.tokens.count))
            }
        }
        found.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.start < $1.0.start }
        var taken = [Bool](repeating: false, count: tokens.count)
        var result: [Match] = []
        for (match, _) in found where !taken[match.start..<match.end].contains(true) {
            for index in match.start..<match.end { taken[index] = true }
            result.append(match)
        }
        return result.sorted { $0.start < $1.start }
    }

    private func accepts(_ term: Term, in tokens: [CVToken], start: Int, end: Int, listContext: Bool) -> Bool {
        for offset in 0..<term.tokens.count {
            let token = tokens[start + offset], wanted = term.tokens[offset]
            guard token.kind == wanted.kind, token.lower == wanted.lower else { return false }
            if offset > 0, token.glued != wanted.glued { return false }
            if term.exactCase[offset], token.text != wanted.text, token.text != wanted.text.uppercased() { return false }
        }
        // Part of a bigger word: "C" in "C++", "Node" in "Node.js", "R" in "R&D", ".NET" in "ASP.NET".
        if start > 0, tokens[start].glued {
            let previous = tokens[start - 1]
            if previous.isWord || ["+", "#", "&"].contains(previous.text) { return false }
            if previous.text == "." || previous.text == "'" || previous.text == "\u{2019}", start > 1, tokens[start - 2].isWord, previous.glued {
                return false
            }
        }
        if end < tokens.count, tokens[end].glued {
            let next = tokens[end]
            if next.isWord || ["+", "#", "&"].contains(next.text) { return false }
            if next.text == ".", end + 1 < tokens.count, tokens[end + 1].isWord, tokens[end + 1].glued { return false }
            if next.text == "'" || next.text == "\u{2019}", end + 1 < tokens.count, tokens[end + 1].glued, tokens[end + 1].lower != "s" {
                return false
            }
        }
        switch term.context {
        case .anywhere:
            return true
        case .listItem:
            return isListItem(tokens, start: start, end: end)
        case .listOrExactCase:
            if listContext || isListItem(tokens, start: start, end: end) { return true }
            let written = term.tokens[0].text
            return written.first?.isUppercase == true && tokens[start].text == written
        }
    }

    static let conjunctions: Set<String> = ["and", "or", "und", "oder", "et", "ou", "with", "mit", "avec", "in", "en"]

    /// Whether the match stands alone between separators (or conjunctions): a list item.
    private func isListItem(_ tokens: [CVToken], start: Int, end: Int) -> Bool {
        let before = start == 0 || tokens[start - 1].isSeparator || Self.conjunctions.contains(tokens[start - 1].lower)
        var after = end
        // A version or level right after the item keeps it a list item: "R 4", "Go (expert)".
        if after < tokens.count, tokens[after].isWord, tokens[after].text.allSatisfy(\.isNumber) { after += 1 }
        let afterOK = after == tokens.count || tokens[after].isSeparator || Self.conjunctions.contains(tokens[after].lower)
            || tokens[after].text == "/"
        let beforeOK = before || tokens[start - 1].text == "/"
        return beforeOK && afterOK
    }
}
