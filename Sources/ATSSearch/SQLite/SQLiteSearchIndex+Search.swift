import GRDB

extension SQLiteSearchIndex {
    /// What an exact match adds to a score, so typo and prefix matches rank after it.
    static let exactBonus = 1_000.0

    public func search(_ query: SearchQuery) async throws -> SearchResults {
        let parsed = try QueryParser.parse(query.text)
        let limit = min(max(query.limit, Limits.limit.lowerBound), Limits.limit.upperBound)
        let offset = min(max(query.offset, Limits.offset.lowerBound), Limits.offset.upperBound)
        return try await read { db in
            // An organization that never indexed a document has no tables: nothing matches, and
            // its (empty) vocabulary neither corrects nor completes.
            let tables = try Self.tables(query.organizationID, in: db)
            guard let root = parsed.root else {
                let expression = MatchExpression(nil) { _ in [] }
                guard let tables else { return Self.nothing(query, expression) }
                return try Self.run(query, expression, number: tables.number, limit: limit, offset: offset, in: db)
            }
            let vocabulary = try tables.map { try self.vocabulary(query.kind, organizationID: query.organizationID, $0, db) }
                ?? Vocabulary()
            // A last word that no other term of this organization starts with needs no prefix
            // search (nor the exact-first second pass a prefix brings).
            let trimmed = root.mapTerms { term in
                var term = term
                if term.implicitPrefix, let last = term.words.last, !vocabulary.hasCompletions(last) {
                    term.implicitPrefix = false
                }
                return term
            }
            let expression = MatchExpression(trimmed) { word in
                vocabulary.corrections(for: word, limit: Limits.correctionsPerTerm).map(\.term)
            }
            guard let tables else { return Self.nothing(query, expression) }
            return try Self.run(query, expression, number: tables.number, limit: limit, offset: offset, in: db)
        }
    }

    /// The answer of an organization without documents.
    static func nothing(_ query: SearchQuery, _ expression: MatchExpression) -> SearchResults {
        SearchResults(
            hits: [], total: 0, facets: query.facets ? ["status": [:], "location": [:], "tags": [:], "skills": [:]] : [:],
            corrections: expression.corrections, parsed: expression.parsed)
    }

    public func filteredIDs(kind: SearchKind, organizationID: String, filters: SearchFilters, limit: Int) async throws
        -> [String]
    {
        guard limit > 0 else { return [] }
        return try await read { db in
            let conditions = filters.sqlConditions()
            let sql = """
                SELECT d.doc_id FROM search_docs d WHERE d.kind = ? AND d.org_id = ?\(conditions.sql)
                ORDER BY d.updated_at DESC, d.doc DESC LIMIT ?
                """
            let arguments: StatementArguments =
                [kind.rawValue, organizationID] + conditions.arguments + [limit]
            return try String.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
        }
    }

    // MARK: Query execution

    static func run(
        _ query: SearchQuery, _ expression: MatchExpression, number: Int64, limit: Int, offset: Int, in db: Database
    ) throws -> SearchResults {
        var hits: [SearchHit] = []
        var docs: [Int64] = []
        let total: Int
        if let loose = expression.match {
            let ranker = Ranker(query: query, number: number)
            total = try ranker.count(loose, in: db)
            var page: [(doc: Int64, score: Double)] = []
            if let exact = expression.exact {
                // Exact matches first, then the rest of the wider (typo, prefix) match set.
                let exactCount = try ranker.count(exact, in: db)
                if offset < exactCount {
                    page = try ranker.page(exact, limit: limit, offset: offset, in: db).map { ($0.doc, $0.score + exactBonus) }
                }
                if page.count < limit, exactCount < total {
                    page += try ranker.page(
                        "(\(loose)) NOT (\(exact))", limit: limit - page.count, offset: max(0, offset - exactCount), in: db)
                }
            } else {
                page = try ranker.page(loose, limit: limit, offset: offset, in: db).map { ($0.doc, $0.score + exactBonus) }
            }
            let ids = try ranker.documentIDs(page.map(\.doc), in: db)
            for entry in page {
                guard let id = ids[entry.doc] else { continue }
                docs.append(entry.doc)
                hits.append(SearchHit(id: id, score: entry.score))
            }
        } else {
            let set = matchSet(query, expression, number: number)
            total = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) \(set.from)"), arguments: set.arguments) ?? 0
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT d.doc, d.doc_id \(set.from) ORDER BY d.updated_at DESC, d.doc DESC LIMIT ? OFFSET ?"),
                arguments: set.arguments + [limit, offset])
            while let row = try rows.next() {
                docs.append(row[0])
                hits.append(SearchHit(id: row[1], score: 0))
            }
        }
        if query.highlight, let match = expression.match, !docs.isEmpty {
            let snippets = try highlights(kind: query.kind, number: number, match: match, docs: docs, in: db)
            for index in hits.indices { hits[index].highlights = snippets[docs[index]] ?? [:] }
        }
        let facets = query.facets ? try facetCounts(matchSet(query, expression, number: number), in: db) : [:]
        return SearchResults(
            hits: hits, total: total, facets: facets, corrections: expression.corrections, parsed: expression.parsed)
    }

    /// Ranked pages and counts of one MATCH expression in the organization's own table. Without
    /// filters FTS5 answers alone, as fast as the raw query; with filters each match joins its
    /// `search_docs` row, so they apply before the page is cut.
    struct Ranker {
        let query: SearchQuery
        let table: String
        let weights: String
        let conditions: SQLFragment
        let ftsOnly: Bool

        init(query: SearchQuery, number: Int64) {
            self.query = query
            table = SQLiteSearchIndex.ftsTable(query.kind, number)
            weights = SearchSchema.fields(query.kind).map { String($0.weight) }.joined(separator: ", ")
            conditions = query.filters.sqlConditions()
            ftsOnly = conditions.sql.isEmpty
        }

        func count(_ expression: String, in db: Database) throws -> Int {
            let sql =
                ftsOnly
                ? "SELECT count(*) FROM \(table) WHERE \(table) MATCH ?"
                : """
                SELECT count(*) FROM \(table) CROSS JOIN search_docs d ON d.doc = \(table).rowid
                WHERE \(table) MATCH ? AND d.kind = ? AND d.org_id = ?\(conditions.sql)
                """
            return try Int.fetchOne(db.cachedStatement(sql: sql), arguments: arguments(expression)) ?? 0
        }

        func page(_ expression: String, limit: Int, offset: Int, in db: Database) throws -> [(doc: Int64, score: Double)] {
            // bm25() with the weights in the ORDER BY measures faster here than the `rank` column.
            let score = "bm25(\(table), \(weights))"
            let sql =
                ftsOnly
                ? """
                SELECT rowid, \(score) AS score FROM \(table) WHERE \(table) MATCH ?
                ORDER BY score LIMIT ? OFFSET ?
                """
                : """
                SELECT \(table).rowid, \(score) AS score FROM \(table) CROSS JOIN search_docs d ON d.doc = \(table).rowid
                WHERE \(table) MATCH ? AND d.kind = ? AND d.org_id = ?\(conditions.sql)
                ORDER BY score LIMIT ? OFFSET ?
                """
            return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments(expression) + [limit, offset])
                .map { (doc: $0[0], score: -($0[1] as Double)) }
        }

        func arguments(_ expression: String) -> StatementArguments {
            ftsOnly
                ? [expression]
                : [expression, query.kind.rawValue, query.organizationID] + conditions.arguments
        }

        /// The ids of a page's rows (checked against the tenant once more).
        func documentIDs(_ docs: [Int64], in db: Database) throws -> [Int64: String] {
            guard !docs.isEmpty else { return [:] }
            let placeholders = Array(repeating: "?", count: docs.count).joined(separator: ", ")
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT doc, doc_id FROM search_docs WHERE doc IN (\(placeholders)) AND kind = ? AND org_id = ?"),
                arguments: StatementArguments(docs) + [query.kind.rawValue, query.organizationID])
            return Dictionary(rows.map { ($0[0] as Int64, $0[1] as String) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// The match set as SQL over `search_docs d`, for facets and for searches without ranking.
    struct MatchSet {
        var from: String
        var arguments: StatementArguments
    }

    static func matchSet(_ query: SearchQuery, _ expression: MatchExpression, number: Int64) -> MatchSet {
        let table = ftsTable(query.kind, number)
        let conditions = query.filters.sqlConditions()
        if let match = expression.match {
            return MatchSet(
                from: """
                    FROM \(table) CROSS JOIN search_docs d ON d.doc = \(table).rowid
                    WHERE \(table) MATCH ? AND d.kind = ? AND d.org_id = ?\(conditions.sql)
                    """,
                arguments: [match, query.kind.rawValue, query.organizationID]
                    + conditions.arguments)
        }
        var from = "FROM search_docs d WHERE d.kind = ? AND d.org_id = ?"
        var arguments: StatementArguments = [query.kind.rawValue, query.organizationID]
        if let excluded = expression.excluded {
            from += " AND d.doc NOT IN (SELECT rowid FROM \(table) WHERE \(table) MATCH ?)"
            arguments += [excluded]
        }
        return MatchSet(from: from + conditions.sql, arguments: arguments + conditions.arguments)
    }

    // MARK: Facets

    static let facetSize = 20

    /// Counts over the whole match set, computed once into a materialized CTE.
    static func facetCounts(_ set: MatchSet, in db: Database) throws -> [String: [String: Int]] {
        let n = facetSize
        let sql = """
            WITH m(doc) AS MATERIALIZED (SELECT d.doc \(set.from))
            SELECT * FROM (SELECT 'status', d.status AS v, count(*) AS c FROM m JOIN search_docs d ON d.doc = m.doc
                WHERE d.status IS NOT NULL GROUP BY v ORDER BY c DESC, v LIMIT \(n))
            UNION ALL SELECT * FROM (SELECT 'location', d.location AS v, count(*) AS c FROM m JOIN search_docs d ON d.doc = m.doc
                WHERE d.location IS NOT NULL GROUP BY v ORDER BY c DESC, v LIMIT \(n))
            UNION ALL SELECT * FROM (SELECT 'tags', a.value AS v, count(*) AS c FROM m JOIN search_attrs a
                ON a.doc = m.doc AND a.attr = 'tag' GROUP BY v ORDER BY c DESC, v LIMIT \(n))
            UNION ALL SELECT * FROM (SELECT 'skills', a.value AS v, count(*) AS c FROM m JOIN search_attrs a
                ON a.doc = m.doc AND a.attr = 'skill' GROUP BY v ORDER BY c DESC, v LIMIT \(n))
            """
        var facets: [String: [String: Int]] = ["status": [:], "location": [:], "tags": [:], "skills": [:]]
        let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: set.arguments)
        while let row = try rows.next() {
            let facet: String = row[0]
            let value: String = row[1]
            facets[facet, default: [:]][value] = row[2]
        }
        return facets
    }

    // MARK: Highlights

    /// Fields highlighted whole; the others (long texts) give a snippet around the matches.
    static let wholeFields: Set<String> = ["name", "title", "skills", "industry", "headline"]
    static let snippetTokens = 16

    static func highlights(kind: SearchKind, number: Int64, match: String, docs: [Int64], in db: Database) throws
        -> [Int64: [String: String]]
    {
        let table = ftsTable(kind, number)
        let fields = SearchSchema.fields(kind)
        let columns = fields.enumerated().map { index, field in
            wholeFields.contains(field.name)
                ? "highlight(\(table), \(index), char(1), char(2))"
                : "snippet(\(table), \(index), char(1), char(2), '…', \(snippetTokens))"
        }.joined(separator: ", ")
        // One probe per hit: FTS5 answers "MATCH and rowid =" without walking the match set.
        let statement = try db.cachedStatement(
            sql: "SELECT \(columns) FROM \(table) WHERE \(table) MATCH ? AND rowid = ?")
        var result: [Int64: [String: String]] = [:]
        for doc in docs {
            guard let row = try Row.fetchOne(statement, arguments: [match, doc]) else { continue }
            var marked: [String: String] = [:]
            for (index, field) in fields.enumerated() {
                guard let text = row[index] as String?, text.unicodeScalars.contains("\u{1}") else { continue }
                marked[field.name] = markup(text)
            }
            result[doc] = marked
        }
        return result
    }

    /// HTML-escapes `text` and turns the \u{1}/\u{2} markers into `<mark>`/`</mark>`.
    static func markup(_ text: String) -> String {
        var out = ""
        var segment = ""
        for ch in text {
            switch ch {
            case "\u{1}":
                out += TextNormalizer.escapeHTML(segment) + "<mark>"
                segment = ""
            case "\u{2}":
                out += TextNormalizer.escapeHTML(segment) + "</mark>"
                segment = ""
            default:
                segment.append(ch)
            }
        }
        return out + TextNormalizer.escapeHTML(segment)
    }
}
