import ATSSearch
import Testing

/// The contract of `SearchIndex` (see its doc comment), run against every backend.
@Suite("SearchIndex conformance")
struct SearchIndexConformanceTests {
    /// A small agency: a few people with distinct skills, so each query has one right answer.
    static let people: [SearchDocument] = [
        candidate("c1", name: "Ada Lovelace", title: "Python Developer", skills: ["Python", "Django"],
                  summary: "Builds data pipelines.", status: "active", tags: ["remote", "senior"],
                  location: "Zürich, Switzerland", years: 8, availableFrom: "2024-03-01"),
        candidate("c2", name: "Grace Hopper", title: "JavaScript Engineer", skills: ["JavaScript", "React"],
                  summary: "Frontend work, some python scripting.", status: "active", tags: ["remote"],
                  location: "Geneva", years: 3, availableFrom: "2024-06-01"),
        candidate("c3", name: "Linus Torvalds", title: "Platform Engineer", skills: ["Kubernetes", "Go"],
                  summary: "Runs clusters as a data engineer would.", status: "placed", tags: ["senior"],
                  location: "Zurich", years: 15),
        candidate("c4", name: "Margaret Hamilton", title: "Data Engineer", skills: ["Scala", "Spark"],
                  cv: "Worked on <b>real-time</b> systems & Apollo.", status: "active", location: "Bern", years: 20,
                  availableFrom: "2024-01-15"),
        candidate("c5", name: "Alan Turing", title: "Java Developer", skills: ["Java", "Spring"],
                  summary: "Engineer focused on data and backend services.", status: "inactive", location: "Basel",
                  years: 1),
    ]

    func seeded(_ index: any SearchIndex) async throws {
        try await index.upsert(Self.people)
    }

    // MARK: Upsert, update, remove

    @Test("upserted documents are found and counted", arguments: SearchIndexFactory.all)
    func upsertAndFind(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            #expect(try await index.count(kind: .candidate, organizationID: Org.a) == 5)
            #expect(try await index.count(kind: .job, organizationID: Org.a) == 0)
            #expect(try await index.ids("lovelace") == ["c1"])
            #expect(try await index.ids("spring") == ["c5"])
            let results = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.a, text: "engineer"))
            #expect(Set(results.hits.map(\.id)) == ["c2", "c3", "c4", "c5"])
            #expect(results.total == 4)
        }
    }

    @Test("an upsert replaces the document's text and attributes", arguments: SearchIndexFactory.all)
    func update(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            var changed = Self.people[0]
            changed.fields["title"] = "Rust Developer"
            changed.fields["skills"] = "Rust"
            changed.skills = ["Rust"]
            changed.tags = ["onsite"]
            try await index.upsert([changed])
            #expect(try await index.count(kind: .candidate, organizationID: Org.a) == 5)
            #expect(try await index.ids("rust") == ["c1"])
            #expect(try await index.ids("django").isEmpty)
            var remote = SearchFilters()
            remote.tags = ["remote"]
            #expect(try await index.ids("", filters: remote) == ["c2"])
            // The last of two versions in one batch wins.
            var first = changed
            first.fields["title"] = "Cobol Developer"
            var second = changed
            second.fields["title"] = "Fortran Developer"
            try await index.upsert([first, second])
            #expect(try await index.ids("cobol").isEmpty)
            #expect(try await index.ids("fortran") == ["c1"])
        }
    }

    @Test("remove and removeAll drop documents, scoped by organization", arguments: SearchIndexFactory.all)
    func remove(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            try await index.upsert([candidate("b1", org: Org.b, name: "Ada Byron", title: "Python Developer")])
            try await index.remove(kind: .candidate, organizationID: Org.a, ids: ["c1", "nope"])
            #expect(try await index.ids("lovelace").isEmpty)
            #expect(try await index.count(kind: .candidate, organizationID: Org.a) == 4)
            // Removing in A does not touch B's document with another id.
            try await index.remove(kind: .candidate, organizationID: Org.a, ids: ["b1"])
            #expect(try await index.ids("ada", org: Org.b) == ["b1"])
            try await index.removeAll(organizationID: Org.a)
            #expect(try await index.count(kind: .candidate, organizationID: Org.a) == 0)
            #expect(try await index.ids("engineer").isEmpty)
            #expect(try await index.count(kind: .candidate, organizationID: Org.b) == 1)
            try await index.removeAll(organizationID: nil)
            #expect(try await index.count(kind: .candidate, organizationID: Org.b) == 0)
            // The index takes documents again after a wipe.
            try await seeded(index)
            #expect(try await index.ids("lovelace") == ["c1"])
        }
    }

    // MARK: Tenancy

    @Test("another organization's documents never show, in search, filters or suggestions", arguments: SearchIndexFactory.all)
    func tenancy(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            try await index.upsert([
                candidate("b1", org: Org.b, name: "Adalbert Secret", title: "Python Developer", skills: ["Python"],
                          status: "active", tags: ["remote"]),
                client("bc1", org: Org.b, name: "Secret Bank"),
            ])
            #expect(try await index.ids("python").contains("b1") == false)
            #expect(try await index.ids("python", org: Org.b) == ["b1"])
            #expect(try await index.ids("").count == 5)
            var remote = SearchFilters()
            remote.tags = ["remote"]
            #expect(try await index.filteredIDs(kind: .candidate, organizationID: Org.a, filters: remote, limit: 10)
                .sorted() == ["c1", "c2"])
            let suggestions = try await index.suggest(organizationID: Org.a, prefix: "ada", limit: 10)
            #expect(suggestions.map(\.text) == ["Ada Lovelace"])
            #expect(try await index.suggest(organizationID: Org.a, prefix: "secret", limit: 10).isEmpty)
            #expect(try await index.suggest(organizationID: Org.b, prefix: "secret", limit: 10).count == 2)
            let facets = try await index.search(
                SearchQuery(kind: .candidate, organizationID: Org.a, text: "python", facets: true)).facets
            #expect(facets["tags"]?["remote"] == 2)
        }
    }

    /// Everything organization B can ask the index, answered: hits, totals, scores, facets,
    /// highlights, corrections, the parsed query, suggestions, filtered ids and counts.
    struct Observed: Hashable {
        var results: [SearchResults] = []
        var suggestions: [[Suggestion]] = []
        var ids: [[String]] = []
        var counts: [Int] = []
    }

    static func observe(_ index: any SearchIndex, _ org: String) async throws -> Observed {
        var seen = Observed()
        var active = SearchFilters()
        active.status = ["active"]
        var remote = SearchFilters()
        remote.tags = ["remote"]
        // The planted words of the other organization, their prefixes and typos, words both
        // organizations use (their statistics move bm25 in a shared table), and no text at all.
        let texts = ["zyph", "zyphorine", "zyphorinx", "zyphorine*", "alphafirst9", "alphafirs", "quixotrellis", "quixotrelis",
                     "engineer", "python engineer", "pyhton", "enginer", "engineer OR zyphorine", "python -zyphorine", ""]
        for kind in SearchKind.allCases {
            for text in texts {
                for filters in [SearchFilters(), active] {
                    seen.results.append(try await index.search(SearchQuery(
                        kind: kind, organizationID: org, text: text, filters: filters, limit: 100, facets: true,
                        highlight: true)))
                }
            }
            seen.ids.append(try await index.filteredIDs(kind: kind, organizationID: org, filters: remote, limit: 100))
            seen.counts.append(try await index.count(kind: kind, organizationID: org))
        }
        for prefix in ["zyph", "zyphorinx", "alphafirst9", "alphafirs", "quixotrelis", "eng", "pyth", "pyhton", "e"] {
            seen.suggestions.append(try await index.suggest(organizationID: org, prefix: prefix, limit: 50))
        }
        return seen
    }

    @Test("nothing one organization indexes or removes changes any answer another organization gets",
          arguments: SearchIndexFactory.all)
    func tenancyOfEverythingDerived(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            // Given organization B's own small agency.
            try await index.upsert([
                candidate("b1", org: Org.b, name: "Bea Keller", title: "Python Engineer", skills: ["Python", "Django"],
                          summary: "Data engineer building pipelines.", status: "active", tags: ["remote"],
                          location: "Bern", years: 5),
                candidate("b2", org: Org.b, name: "Ben Huber", title: "Java Engineer", skills: ["Java"],
                          summary: "Backend engineer; some python.", status: "passive", location: "Basel", years: 9),
                candidate("b3", org: Org.b, name: "Bo Zypher", title: "Engineering Manager", skills: ["Go"],
                          status: "active", tags: ["remote"], location: "Bern", years: 12),
                job("bj1", org: Org.b, title: "Python Engineer", skills: ["Python"], description: "An engineer for data."),
                client("bk1", org: Org.b, name: "Bern Engineering AG", industry: "Engineering"),
            ])
            let before = try await Self.observe(index, Org.b)
            #expect(before.results.contains { !$0.hits.isEmpty }, "B's own searches find B's documents")

            // When A plants distinctive and shared words: a large batch (the index reads its
            // vocabulary afresh) and a small one (folded in as it is written).
            let planted = (1...70).map { n in
                candidate("a\(n)", org: Org.a, name: "Zyphorine Alphafirst\(n % 4 + 1)", title: "Python Engineer",
                          skills: ["Python", "Zyphorine"], summary: "Confidential: quixotrellis engineer engineer.",
                          status: "active", tags: ["remote", "zyphorine"], location: "Bern", years: 5)
            }
            try await index.upsert(planted)
            try await index.upsert([
                candidate("a100", org: Org.a, name: "Alphafirst1 Zyphorinexus", title: "Engineer", skills: ["Python"],
                          status: "active", tags: ["remote"]),
                job("aj1", org: Org.a, title: "Zyphorine Engineer", skills: ["Python"], description: "alphafirst2 quixotrellis"),
                client("ak1", org: Org.a, name: "Alphafirst3 Zyphorine Holdings", industry: "Engineering"),
            ])
            // (A's words are really there: A's own answers find and correct them.)
            #expect(try await index.ids("zyph", org: Org.a).count == 71)
            let typo = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.a, text: "alphafirst9"))
            #expect(typo.corrections["alphafirst9"]?.contains("alphafirst1") == true, "\(typo.corrections)")
            #expect(!(try await index.suggest(organizationID: Org.a, prefix: "zyph", limit: 10)).isEmpty)

            // Then B's answers are exactly what they were, down to the scores.
            let planting = try await Self.observe(index, Org.b)
            #expect(planting == before)
            for (old, new) in zip(before.results, planting.results) where old != new {
                Issue.record("B's answer moved: \(old) -> \(new)")
                break
            }

            // And stay so as A removes some documents, then all of them.
            try await index.remove(kind: .candidate, organizationID: Org.a, ids: (1...35).map { "a\($0)" })
            #expect(try await Self.observe(index, Org.b) == before)
            try await index.removeAll(organizationID: Org.a)
            #expect(try await index.ids("zyph", org: Org.a).isEmpty)
            #expect(try await Self.observe(index, Org.b) == before)
        }
    }

    // MARK: Ranking

    @Test("a name or title hit outranks a summary or CV hit", arguments: SearchIndexFactory.all)
    func weights(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            // c1 has Python in title and skills; c2 only in the summary.
            #expect(try await index.ids("python") == ["c1", "c2"])
            // c4 and c3 say "data engineer" in the title / summary; c5 only has the words apart.
            let ranked = try await index.ids("data engineer")
            #expect(ranked.first == "c4")
            let scores = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.a, text: "python"))
                .hits.map(\.score)
            #expect(scores == scores.sorted(by: >))
        }
    }

    // MARK: Filters

    @Test("every filter restricts the match set in the database", arguments: SearchIndexFactory.all)
    func filters(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            try await index.upsert([
                candidate("c6", name: "Barbara Liskov", title: "Engineer", status: "active",
                          jobIDs: ["j1", "j2"], stages: ["j1:interview", "j2:offer"]),
                candidate("c7", name: "Edsger Dijkstra", title: "Engineer", jobIDs: ["j1"], stages: ["offer"]),
                job("j1", title: "Backend Engineer", skills: ["Go"], clientID: "k1"),
                job("j2", title: "Frontend Engineer", skills: ["React"], clientID: "k2"),
            ])
            func ids(_ text: String = "", kind: SearchKind = .candidate, _ change: (inout SearchFilters) -> Void)
                async throws -> [String]
            {
                var filters = SearchFilters()
                change(&filters)
                #expect(!filters.isEmpty)
                return try await index.ids(text, kind: kind, filters: filters).sorted()
            }
            #expect(try await ids { $0.status = ["ACTIVE"] } == ["c1", "c2", "c4", "c6"])
            #expect(try await ids { $0.status = ["placed", "inactive"] } == ["c3", "c5"])
            #expect(try await ids { $0.tags = ["remote", "Senior"] } == ["c1"])
            #expect(try await ids { $0.tags = ["senior"] } == ["c1", "c3"])
            #expect(try await ids { $0.skills = ["kubernetes"] } == ["c3"])
            #expect(try await ids { $0.location = "zur" } == ["c1", "c3"])
            #expect(try await ids { $0.location = "100%_" }.isEmpty)
            #expect(try await ids { $0.minExperience = 8 } == ["c1", "c3", "c4"])
            #expect(try await ids { $0.minExperience = 3; $0.maxExperience = 10 } == ["c1", "c2"])
            #expect(try await ids { $0.availableBy = "2024-03-01" } == ["c1", "c4"])
            #expect(try await ids { $0.jobID = "j1" } == ["c6", "c7"])
            #expect(try await ids { $0.jobID = "j2" } == ["c6"])
            #expect(try await ids { $0.stage = "offer" } == ["c6", "c7"])
            #expect(try await ids { $0.jobID = "j1"; $0.stage = "Interview" } == ["c6"])
            #expect(try await ids { $0.jobID = "j1"; $0.stage = "offer" } == ["c7"])
            #expect(try await ids(kind: .job) { $0.clientID = "k2" } == ["j2"])
            #expect(try await ids("engineer", kind: .job) { $0.skills = ["go"] } == ["j1"])
            // Text and filters together.
            #expect(try await ids("engineer") { $0.status = ["active"] } == ["c2", "c4", "c6"])
        }
    }

    @Test("a filtered search still fills its page when enough documents match", arguments: SearchIndexFactory.all)
    func filtersWithLimit(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            // 120 engineers; only every fourth is remote, and those rank lowest on the text.
            let documents = (0..<120).map { n in
                candidate(
                    "e\(n)", name: "Person \(n)", title: n % 4 == 0 ? "Support" : "Engineer engineer",
                    summary: "engineer", tags: n % 4 == 0 ? ["remote"] : [], updatedAt: String(format: "2024-01-01T00:%02d:%02dZ", n / 60, n % 60))
            }
            try await index.upsert(documents)
            var remote = SearchFilters()
            remote.tags = ["remote"]
            let page = try await index.search(
                SearchQuery(kind: .candidate, organizationID: Org.a, text: "engineer", filters: remote, limit: 25))
            #expect(page.hits.count == 25)
            #expect(page.total == 30)
            let next = try await index.search(
                SearchQuery(kind: .candidate, organizationID: Org.a, text: "engineer", filters: remote, limit: 25, offset: 25))
            #expect(next.hits.count == 5)
            #expect(Set(page.hits.map(\.id)).isDisjoint(with: next.hits.map(\.id)))
            let beyond = try await index.search(
                SearchQuery(kind: .candidate, organizationID: Org.a, text: "engineer", filters: remote, limit: 25, offset: 100))
            #expect(beyond.hits.isEmpty)
            #expect(beyond.total == 30)
            // Without text: filters only, newest first.
            let newest = try await index.search(
                SearchQuery(kind: .candidate, organizationID: Org.a, text: "", filters: remote, limit: 3))
            #expect(newest.hits.map(\.id) == ["e116", "e112", "e108"])
            #expect(newest.total == 30)
            let ids = try await index.filteredIDs(kind: .candidate, organizationID: Org.a, filters: remote, limit: 50)
            #expect(ids.count == 30)
            #expect(try await index.filteredIDs(kind: .candidate, organizationID: Org.a, filters: SearchFilters(), limit: 7)
                .count == 7)
        }
    }

    @Test("facet counts cover the whole match set, not the page", arguments: SearchIndexFactory.all)
    func facets(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            let results = try await index.search(
                SearchQuery(kind: .candidate, organizationID: Org.a, text: "engineer", limit: 1, facets: true))
            #expect(results.hits.count == 1)
            #expect(results.total == 4)
            #expect(results.facets["status"] == ["active": 2, "placed": 1, "inactive": 1])
            #expect(results.facets["tags"] == ["remote": 1, "senior": 1])
            #expect(results.facets["skills"]?["kubernetes"] == 1)
            #expect(results.facets["skills"]?.count == 8)
            #expect(results.facets["location"]?["zurich"] == 1)
            var active = SearchFilters()
            active.status = ["active"]
            let all = try await index.search(
                SearchQuery(kind: .candidate, organizationID: Org.a, text: "", filters: active, facets: true))
            #expect(all.facets["status"] == ["active": 3])
            #expect(all.facets["tags"] == ["remote": 2, "senior": 1])
        }
    }

    // MARK: Query syntax

    @Test("AND, OR, NOT, -term and parentheses", arguments: SearchIndexFactory.all)
    func booleanSyntax(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            #expect(try await index.ids("engineer data").sorted() == ["c3", "c4", "c5"])
            #expect(try await index.ids("engineer AND data").sorted() == ["c3", "c4", "c5"])
            #expect(try await index.ids("react OR spark").sorted() == ["c2", "c4"])
            #expect(try await index.ids("engineer NOT data").sorted() == ["c2"])
            #expect(try await index.ids("engineer -data -javascript").isEmpty)
            #expect(try await index.ids("(react OR spark) AND engineer").sorted() == ["c2", "c4"])
            #expect(try await index.ids("(python OR java) NOT (django OR spring)") == ["c2"])
            // Only an exclusion: everything else, newest first.
            #expect(try await index.ids("-engineer").sorted() == ["c1"])
            // Lowercase operators are words.
            #expect(try await index.ids("python or java").isEmpty)
        }
    }

    @Test("quoted phrases match the words together and in order", arguments: SearchIndexFactory.all)
    func phrases(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            #expect(try await index.ids("\"data engineer\"").sorted() == ["c3", "c4"])
            #expect(try await index.ids("\"engineer data\"").isEmpty)
            #expect(try await index.ids("\"data pipelines\"") == ["c1"])
        }
    }

    @Test("the last word and term* match as prefixes; exact words rank first", arguments: SearchIndexFactory.all)
    func prefixes(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            #expect(try await index.ids("kube") == ["c3"])
            #expect(try await index.ids("pyth* engineer") == ["c2"])
            #expect(try await index.ids("kube engineer").isEmpty)  // only the last word is a prefix
            // "java" finds Java first, then JavaScript by prefix.
            #expect(try await index.ids("java") == ["c5", "c2"])
            #expect(try await index.ids("\"java\"") == ["c5"])
        }
    }

    @Test("typos: 1 edit from 5 characters, 2 from 9; exact matches rank first", arguments: SearchIndexFactory.all)
    func typos(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            let python = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.a, text: "pyhton"))
            #expect(python.hits.map(\.id) == ["c1", "c2"])
            #expect(python.corrections["pyhton"] == ["python"])
            #expect(try await index.ids("javscript") == ["c2"])
            #expect(try await index.ids("kubernets") == ["c3"])
            #expect(try await index.ids("kubrnetis engineer") == ["c3"])  // 9 letters: two edits
            #expect(try await index.ids("kbernets engineer").isEmpty)  // 8 letters: one edit only
            #expect(try await index.ids("sprng") == ["c5"])  // 5 letters: one edit
            #expect(try await index.ids("sprnig") == ["c5"])  // a transposition is one edit
            #expect(try await index.ids("sprxnq").isEmpty)  // 6 letters, two edits
            #expect(try await index.ids("jav").count == 2)  // prefix only
            #expect(try await index.ids("\"pyhton\"").isEmpty)  // quoted: as typed
            #expect(try await index.ids("gp").isEmpty)
            // A document that really says "pyhton" ranks above the corrected matches.
            try await index.upsert([candidate("c9", name: "Typo Person", summary: "pyhton")])
            let ranked = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.a, text: "pyhton"))
            #expect(ranked.hits.first?.id == "c9")
            #expect(Set(ranked.hits.map(\.id)) == ["c1", "c2", "c9"])
            // And the right word, typed right, ranks its own matches above the typo document.
            let exact = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.a, text: "python"))
            #expect(exact.hits.last?.id == "c9")
        }
    }

    @Test("highlights mark matched terms and escape HTML", arguments: SearchIndexFactory.all)
    func highlights(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            let results = try await index.search(
                SearchQuery(kind: .candidate, organizationID: Org.a, text: "apollo OR hamilton", highlight: true))
            let hit = try #require(results.hits.first)
            #expect(hit.id == "c4")
            #expect(hit.highlights["name"] == "Margaret <mark>Hamilton</mark>")
            #expect(hit.highlights["cv"] == "Worked on &lt;b&gt;real-time&lt;/b&gt; systems &amp; <mark>Apollo</mark>.")
            #expect(hit.highlights["title"] == nil)
            let typo = try await index.search(
                SearchQuery(kind: .candidate, organizationID: Org.a, text: "pyhton", highlight: true))
            #expect(typo.hits.first?.highlights["title"] == "<mark>Python</mark> Developer")
            let plain = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.a, text: "apollo"))
            #expect(plain.hits.first?.highlights.isEmpty == true)
        }
    }

    @Test("suggestions: prefixes and typos, most frequent first, per organization", arguments: SearchIndexFactory.all)
    func suggestions(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            try await index.upsert([
                candidate("c8", name: "Pat Engel", title: "Data Engineer", skills: ["Python"]),
                job("j1", title: "Senior Data Engineer", skills: ["Python", "Airflow"]),
                client("k1", name: "Dataflow AG", industry: "Banking"),
            ])
            let data = try await index.suggest(organizationID: Org.a, prefix: "dat", limit: 10)
            #expect(data.first == Suggestion(text: "Data Engineer", type: "title"))
            #expect(data.contains(Suggestion(text: "Senior Data Engineer", type: "job", id: "j1")))
            #expect(data.contains(Suggestion(text: "Dataflow AG", type: "client", id: "k1")))
            let python = try await index.suggest(organizationID: Org.a, prefix: "Pyth", limit: 10)
            #expect(python.first == Suggestion(text: "Python", type: "skill"))
            #expect(python.contains(Suggestion(text: "Python Developer", type: "title")))
            let names = try await index.suggest(organizationID: Org.a, prefix: "grace h", limit: 10)
            #expect(names == [Suggestion(text: "Grace Hopper", type: "candidate", id: "c2")])
            let typo = try await index.suggest(organizationID: Org.a, prefix: "pyhton", limit: 10)
            #expect(typo.first == Suggestion(text: "Python", type: "skill"))
            #expect(try await index.suggest(organizationID: Org.a, prefix: "zzzz", limit: 10).isEmpty)
            #expect(try await index.suggest(organizationID: Org.a, prefix: "  \"(*", limit: 10).isEmpty)
            #expect(try await index.suggest(organizationID: Org.a, prefix: "a", limit: 2).count == 2)
        }
    }

    @Test("bad input reads as a literal search, never as an error", arguments: SearchIndexFactory.all)
    func badInput(_ factory: SearchIndexFactory) async throws {
        try await withIndex(factory) { index in
            try await seeded(index)
            let nasty = [
                "(python", "python)", ")(", "AND", "OR OR", "NOT", "python AND", "OR python", "NOT NOT python",
                "\"python", "py\"thon", "pyth*on", "*", "**python", "NEAR(python java)", "NEAR/3", "title:python",
                "name : ada", "^python", "+python", "python^2", "{python}", "-", "--", "- python", "\u{0}python\u{7}",
                "python\u{202E}", "'; DROP TABLE search_docs; --", "%_%", "\\", "c++", "(((((((((((((((((((python",
                String(repeating: "(", count: 400) + "python", "a OR NOT b", "\"\"", "\"*\"", "OR AND NOT", "python*java",
                "ÄÖÜ éè", "🙂 python", "x AND (y OR (z NOT (w)))",
            ]
            for text in nasty {
                let results = try await index.search(
                    SearchQuery(kind: .candidate, organizationID: Org.a, text: text, facets: true, highlight: true))
                #expect(results.total >= 0, "\(text)")
            }
            #expect(try await index.ids("(python").sorted() == ["c1", "c2"])
            #expect(try await index.ids("title:python").sorted() == ["c1", "c2"])
            #expect(try await index.ids("NEAR(python java)").isEmpty)
            #expect(try await index.ids("\u{0}lovelace\u{7}") == ["c1"])
            await #expect(throws: SearchQueryError.self) {
                _ = try await index.search(
                    SearchQuery(kind: .candidate, organizationID: Org.a, text: String(repeating: "a", count: 10_000)))
            }
        }
    }
}
