@testable import ATSSearch
import Testing

/// What the parser makes of each class of input, good and bad: every accepted query becomes
/// quoted FTS5 terms, so nothing the user types reaches FTS5 as syntax.
@Suite("Query parser")
struct QueryParserTests {
    func parsed(_ text: String) throws -> String {
        try QueryParser.parse(text).rendered
    }

    func match(_ text: String, corrections: [String: [String]] = [:]) throws -> String? {
        MatchExpression(try QueryParser.parse(text).root) { corrections[$0] ?? [] }.match
    }

    @Test("plain words are ANDed; the last word is a prefix")
    func plainWords() throws {
        #expect(try parsed("Senior  python developer") == "senior AND python AND developer*")
        #expect(try match("senior python") == "(\"senior\" AND \"python\"*)")
        #expect(try parsed("x") == "x")  // one letter: no prefix
        #expect(try parsed("") == "")
        #expect(try parsed("   ") == "")
    }

    @Test("AND, OR, NOT, -term and parentheses")
    func booleans() throws {
        #expect(try parsed("java OR kotlin") == "java OR kotlin*")
        #expect(try parsed("a1 AND b2 OR c3") == "(a1 AND b2) OR c3*")
        #expect(try parsed("(react OR vue) AND typescript") == "(react OR vue) AND typescript*")
        #expect(try parsed("engineer NOT manager") == "engineer AND NOT manager")
        #expect(try parsed("engineer -manager") == "engineer AND NOT manager")
        #expect(try match("engineer -manager") == "(\"engineer\" NOT \"manager\")")
        #expect(try match("(java OR go) NOT (php OR perl)") == "((\"java\" OR \"go\") NOT (\"php\" OR \"perl\"))")
        #expect(try parsed("NOT NOT python") == "python")  // written negated: no prefix
        #expect(try parsed("and or not") == "and AND or AND not*")  // lowercase: words
    }

    @Test("quoted phrases, explicit prefixes and words the tokenizer splits")
    func phrases() throws {
        #expect(try parsed("\"Data Engineer\" zurich") == "\"data engineer\" AND zurich*")
        #expect(try match("\"data engineer\"") == "\"data engineer\"")
        #expect(try parsed("pyth* dev") == "pyth* AND dev*")
        #expect(try parsed("node.js") == "\"node js\"*")
        #expect(try parsed("“smart quotes”") == "\"smart quotes\"")
        #expect(try parsed("Zürich Müller") == "zurich AND muller*")
    }

    @Test("unbalanced parentheses close themselves or are skipped")
    func unbalancedParentheses() throws {
        #expect(try parsed("(python OR java") == "python OR java*")
        #expect(try parsed("python) OR java") == "python AND java*")
        #expect(try parsed(")(") == "")
        #expect(try parsed("((a1") == "a1*")
        #expect(try parsed(String(repeating: "(", count: 300) + "rust" + String(repeating: ")", count: 10)) == "rust*")
    }

    @Test("lone operators are dropped, or read as words when nothing else is left")
    func loneOperators() throws {
        #expect(try parsed("AND python") == "python*")
        #expect(try parsed("python OR") == "python*")
        #expect(try parsed("OR OR python") == "python*")
        #expect(try parsed("python NOT") == "python*")
        #expect(try parsed("python AND AND java") == "python AND java*")
        #expect(try parsed("AND") == "and")
        #expect(try parsed("OR NOT") == "or AND not")
        #expect(try parsed("-") == "")
        #expect(try parsed("- python") == "python*")
        #expect(try parsed("a OR NOT b") == "a")  // a negation is no alternative
    }

    @Test("control characters are spaces")
    func controlCharacters() throws {
        #expect(try parsed("py\u{0}thon\u{7}java\tgo\n") == "py AND thon AND java AND go*")
        #expect(try parsed("\u{1}\u{2}\u{1B}[31m") == "31m*")
        #expect(try parsed("ab\u{202E}cd") == "ab AND cd*")
    }

    @Test("FTS5 syntax is read literally")
    func injectedSyntax() throws {
        #expect(try parsed("py\"thon") == "py AND \"thon\"")  // an unclosed quote runs to the end
        #expect(try parsed("py*thon") == "\"py thon\"*")
        #expect(try parsed("**") == "")
        #expect(try parsed("NEAR(python java)") == "near AND python AND java*")
        #expect(try parsed("NEAR/2") == "\"near 2\"")
        #expect(try parsed("title:python") == "python*")
        #expect(try parsed("secret:python") == "\"secret python\"*")
        #expect(try parsed("^python +java") == "python AND java*")
        #expect(try parsed("{a1 b2}: c3") == "a1 AND b2 AND c3*")
        #expect(try match("x\"y") == "(\"x\" AND \"y\")")
        // Whatever comes in, the MATCH text is quoted words, operators and parentheses only.
        for nasty in ["a\"b\"c", "\"\"\"", "col:\"x\" NEAR(a b, 3) ^c +d *e f*", "'; DROP TABLE x; --"] {
            guard let text = try match(nasty) else { continue }
            let outsideQuotes = text.split(separator: "\"", omittingEmptySubsequences: false)
                .enumerated().filter { $0.offset % 2 == 0 }.map(\.element).joined()
            #expect(outsideQuotes.allSatisfy { " ()*ANDORT".contains($0) }, "\(nasty) -> \(text)")
        }
    }

    @Test("typo corrections widen terms; quoted terms and exclusions stay as typed")
    func corrections() throws {
        let fixes = ["pyhton": ["python"], "manger": ["manager"]]
        let expression = MatchExpression(try QueryParser.parse("pyhton -manger \"pyhton\"").root) { fixes[$0] ?? [] }
        #expect(expression.match == "(((\"pyhton\" OR \"python\") AND \"pyhton\") NOT \"manger\")")
        #expect(expression.corrections == ["pyhton": ["python"]])
        #expect(expression.exact == "((\"pyhton\" AND \"pyhton\") NOT \"manger\")")
    }

    @Test("queries over 1,000 characters or 64 terms are refused")
    func tooLong() throws {
        #expect(throws: SearchQueryError(reason: "query-too-long", message: "A query may hold at most 1000 characters.")) {
            try QueryParser.parse(String(repeating: "x", count: 1_001))
        }
        #expect(throws: SearchQueryError.self) {
            try QueryParser.parse(String(repeating: "ab ", count: 65))
        }
        #expect(throws: SearchQueryError.self) {
            try QueryParser.parse("\"" + String(repeating: "ab ", count: 65) + "\"")
        }
        _ = try QueryParser.parse(String(repeating: "ab ", count: 64))
        _ = try QueryParser.parse(String(repeating: "x", count: 1_000))
    }
}

@Suite("Typo vocabulary")
struct VocabularyTests {
    @Test("optimal string alignment distance; transpositions count one")
    func distances() {
        #expect(Vocabulary.distance("python", "pyhton", budget: 2) == 1)
        #expect(Vocabulary.distance("javascript", "javscript", budget: 2) == 1)
        #expect(Vocabulary.distance("kubernetes", "kubernets", budget: 2) == 1)
        #expect(Vocabulary.distance("kitten", "sitting", budget: 3) == 3)
        #expect(Vocabulary.distance("kitten", "sitting", budget: 1) == 2)  // capped at budget + 1
        #expect(Vocabulary.distance("same", "same", budget: 1) == 0)
    }

    @Test("the edit budget follows the term length")
    func budgets() {
        #expect(Vocabulary.allowedEdits(length: 4) == 0)
        #expect(Vocabulary.allowedEdits(length: 5) == 1)
        #expect(Vocabulary.allowedEdits(length: 8) == 1)
        #expect(Vocabulary.allowedEdits(length: 9) == 2)
    }

    @Test("corrections: within budget, closest then most frequent")
    func corrections() {
        var vocabulary = Vocabulary()
        for (term, docs) in [("python", 50), ("jython", 2), ("pythons", 1), ("javascript", 40), ("java", 99),
                             ("kubernetes", 10), ("kubelet", 3), ("ab", 1), ("12345", 1)] {
            vocabulary.add(term, frequency: docs)
        }
        vocabulary.add("python", frequency: 5)
        #expect(vocabulary.count == 9)
        #expect(vocabulary.correctableCount == 7)
        #expect(vocabulary.hasCompletions("pyth"))
        #expect(vocabulary.hasCompletions("python"))  // pythons
        #expect(!vocabulary.hasCompletions("jython"))
        #expect(!vocabulary.hasCompletions("zebra"))
        #expect(vocabulary.hasCompletions("a"))
        #expect(vocabulary.corrections(for: "pyhton").map(\.term) == ["python"])
        #expect(vocabulary.corrections(for: "python").map(\.term) == ["jython", "pythons"])
        #expect(vocabulary.corrections(for: "pytho").map(\.term) == ["python"])
        #expect(vocabulary.corrections(for: "javscript").map(\.term) == ["javascript"])
        #expect(vocabulary.corrections(for: "kubrnetis").map(\.term) == ["kubernetes"])
        #expect(vocabulary.corrections(for: "jav").isEmpty)
        #expect(vocabulary.corrections(for: "12346").isEmpty)
        #expect(vocabulary.corrections(for: "pyhton", limit: 0).isEmpty)
    }

    @Test("the misspellings users type are corrected, each against its own word")
    func misspellings() {
        // The release build once corrected nothing: its three DP rows shared one buffer.
        // Many candidates of every length run through the same scratch, so a row that leaks
        // into another shows up as a wrong or missing correction.
        var vocabulary = Vocabulary()
        for term in ["python", "docker", "django", "recruiter", "kubernetes", "javascript", "typescript",
                     "pytorch", "dockerfile", "recruiting", "golang", "rust", "swift", "manager"] {
            vocabulary.add(term, frequency: 3)
        }
        #expect(vocabulary.corrections(for: "pyhton").map(\.term) == ["python"])
        #expect(vocabulary.corrections(for: "dokcer").map(\.term) == ["docker"])
        #expect(vocabulary.corrections(for: "djnago").map(\.term) == ["django"])
        #expect(vocabulary.corrections(for: "recruter").map(\.term) == ["recruiter"])
        #expect(vocabulary.corrections(for: "typscript").map(\.term) == ["typescript"])
        #expect(vocabulary.corrections(for: "managr").map(\.term) == ["manager"])
    }

    @Test("the row-rotating distance agrees with a full-matrix reference")
    func distanceMatchesReference() {
        // A full (n+1)x(m+1) optimal-string-alignment matrix: slow, obviously right.
        func reference(_ a: [Character], _ b: [Character]) -> Int {
            var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
            for i in 0...a.count { d[i][0] = i }
            for j in 0...b.count { d[0][j] = j }
            for i in stride(from: 1, through: a.count, by: 1) {
                for j in stride(from: 1, through: b.count, by: 1) {
                    let cost = a[i - 1] == b[j - 1] ? 0 : 1
                    d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                    if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                        d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                    }
                }
            }
            return d[a.count][b.count]
        }
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcde")
        for _ in 0..<2_000 {
            let a = (0..<Int.random(in: 0...9, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            let b = (0..<Int.random(in: 0...9, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            let expected = reference(a, b)
            for budget in 0...3 {
                let got = Vocabulary.distance(String(a), String(b), budget: budget)
                #expect(got == min(expected, budget + 1), "\(String(a)) -> \(String(b)) budget \(budget)")
            }
        }
    }
}
