@testable import ATSSearch
import Foundation
import GRDB
import Logging
import Testing

/// Keyword search on 100,000 synthetic candidates, next to the same MATCH run raw. Figures are
/// printed, not asserted; the suite runs only with `ATS_SEARCH_BENCH=1` (it takes minutes in a
/// debug build, mostly indexing).
@Suite("Search speed", .enabled(if: ProcessInfo.processInfo.environment["ATS_SEARCH_BENCH"] == "1"))
struct SearchSpeedTests {
    static let skills = [
        "Python", "Java", "JavaScript", "TypeScript", "Kubernetes", "Docker", "React", "Angular", "Go", "Rust",
        "Scala", "Spark", "Kafka", "PostgreSQL", "MySQL", "Redis", "AWS", "Azure", "GCP", "Terraform", "Django",
        "Flask", "Spring", "Node", "Swift", "Kotlin", "SAP", "Salesforce", "Excel", "Figma", "Tableau", "Airflow",
    ]
    static let titles = [
        "Software Engineer", "Data Engineer", "Frontend Developer", "Backend Developer", "DevOps Engineer",
        "Product Manager", "Data Scientist", "Platform Engineer", "QA Engineer", "Solutions Architect",
        "Account Manager", "Controller", "HR Business Partner", "Project Manager", "Security Analyst",
    ]
    static let first = ["Anna", "Luca", "Marco", "Sara", "Noah", "Lea", "Mia", "Elias", "Julia", "David", "Laura", "Nina"]
    static let last = ["Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Rossi", "Bianchi", "Favre", "Graf"]

    struct Generator {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        mutating func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
    }

    /// A synthetic vocabulary of pronounceable words, so the index has a realistic term count.
    static let words: [String] = {
        var g = Generator(state: 7)
        let syllables = ["ka", "lo", "mi", "ne", "ra", "to", "su", "vi", "de", "po", "an", "er", "in", "os", "ul", "ter"]
        return (0..<5_000).map { _ in (0..<(2 + g.next(3))).map { _ in syllables[g.next(syllables.count)] }.joined() }
    }()

    static func document(_ n: Int, _ g: inout Generator) -> SearchDocument {
        let skills = (0..<(3 + g.next(4))).map { _ in Self.skills[g.next(Self.skills.count)] }
        let prose = { (count: Int, g: inout Generator) -> String in
            (0..<count).map { _ in g.next(40) == 0 ? Self.skills[g.next(Self.skills.count)] : Self.words[g.next(Self.words.count)] }
                .joined(separator: " ")
        }
        return candidate(
            "c\(n)", name: "\(first[g.next(first.count)]) \(last[g.next(last.count)])", title: titles[g.next(titles.count)],
            headline: prose(8, &g), skills: skills, summary: prose(40, &g), cv: prose(200, &g),
            status: ["active", "placed", "inactive"][g.next(3)], tags: g.next(3) == 0 ? ["remote"] : [],
            location: ["Zürich", "Geneva", "Basel", "Bern", "Lausanne"][g.next(5)], years: g.next(25),
            updatedAt: String(format: "2024-%02d-%02d", 1 + g.next(12), 1 + g.next(28)))
    }

    @Test("keyword queries on 100k candidates: API vs raw FTS5")
    func keywordSpeed() async throws {
        let (pool, folder) = try SearchIndexFactory.makePool()
        let keep = ProcessInfo.processInfo.environment["ATS_SEARCH_BENCH_KEEP"] == "1"
        defer { if keep { print("search-bench kept \(folder.path)") } else { try? FileManager.default.removeItem(at: folder) } }
        let index = SQLiteSearchIndex(pool: pool, logger: Logger(label: "bench"))
        try index.migrate()
        let count = Int(ProcessInfo.processInfo.environment["ATS_SEARCH_BENCH_COUNT"] ?? "100000") ?? 100_000
        var g = Generator()
        let started = ContinuousClock.now
        for batch in stride(from: 0, to: count, by: 1_000) {
            try await index.upsert((batch..<min(batch + 1_000, count)).map { Self.document($0, &g) })
        }
        print("search-bench index \(count) docs: \(ContinuousClock.now - started)")
        if ProcessInfo.processInfo.environment["ATS_SEARCH_BENCH_OTHER_ORG"] == "1" {
            // A second agency on the same appliance: its documents must not slow down the first's queries.
            try await index.upsert((0..<100).map { n in candidate("b\(n)", org: Org.b, title: "Python Engineer") })
        }
        let warm = ContinuousClock.now
        try await index.warmUp()
        print("search-bench vocabulary load: \(ContinuousClock.now - warm)")

        let vocabulary = try await pool.read { db in try index.vocabulary(.candidate, organizationID: Org.a, db) }
        // Organization A's own table, for the raw query.
        let table = try await pool.read { db in
            SQLiteSearchIndex.ftsTable(.candidate, try SQLiteSearchIndex.tables(Org.a, in: db)?.number ?? 0)
        }
        let v0 = ContinuousClock.now
        for word in ["pyhton", "javscript", "kubernets", "muller", "engineer"] { _ = vocabulary.corrections(for: word) }
        print("search-bench 5 correction lookups over \(vocabulary.correctableCount) terms: \(ContinuousClock.now - v0)")
        let queries = ["python", "kubernetes engineer", "pyhton", "data engineer", "react OR angular", "kafka -java", "müller",
                       "\"data engineer\" python", "terraform", "javscript"]
        for text in queries {
            var api: [Duration] = []
            var raw: [Duration] = []
            var total = 0
            let parsed = try QueryParser.parse(text)
            let expression = MatchExpression(parsed.root) { _ in [] }
            for _ in 0..<30 {
                let t0 = ContinuousClock.now
                total = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.a, text: text, limit: 10)).total
                api.append(ContinuousClock.now - t0)
                if let match = expression.match {
                    let t1 = ContinuousClock.now
                    _ = try await pool.read { db in
                        try Int64.fetchAll(
                            db.cachedStatement(sql: "SELECT rowid FROM \(table) WHERE \(table) MATCH ? ORDER BY bm25(\(table)) LIMIT 10"),
                            arguments: [match])
                    }
                    raw.append(ContinuousClock.now - t1)
                }
            }
            api.sort()
            raw.sort()
            print("search-bench \"\(text)\" total \(total): api p50 \(api[api.count / 2]) p99 \(api[api.count - 1]); raw p50 \(raw.isEmpty ? "-" : "\(raw[raw.count / 2])")")
        }
        var remote = SearchFilters()
        remote.tags = ["remote"]
        remote.minExperience = 5
        let t = ContinuousClock.now
        let facets = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.a, text: "python", filters: remote, facets: true, highlight: true))
        print("search-bench filtered+facets+highlights: \(ContinuousClock.now - t), total \(facets.total)")
        let s = ContinuousClock.now
        let suggestions = try await index.suggest(organizationID: Org.a, prefix: "da", limit: 10)
        print("search-bench suggest 'da': \(ContinuousClock.now - s) \(suggestions.count)")
    }
}
