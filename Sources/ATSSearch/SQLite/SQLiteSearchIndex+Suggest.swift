import GRDB

extension SQLiteSearchIndex {
    /// How many suggestion rows one prefix may walk before grouping: a one-letter prefix on a
    /// large agency would otherwise count half the table.
    static let suggestionScan = 5_000

    public func suggest(organizationID: String, prefix: String, limit: Int) async throws -> [Suggestion] {
        guard prefix.count <= QueryParser.maxLength else {
            throw SearchQueryError(
                reason: "query-too-long", message: "A prefix may hold at most \(QueryParser.maxLength) characters.")
        }
        let words = TextNormalizer.tokens(prefix)
        guard !words.isEmpty, words.count <= QueryParser.maxTerms else { return [] }
        let limit = min(max(limit, Limits.suggestions.lowerBound), Limits.suggestions.upperBound)
        return try await read { db in
            var found = try Self.suggestions(organizationID: organizationID, key: words.joined(separator: " "), limit: limit, in: db)
            // Typo-near: the last word corrected with this organization's vocabularies.
            if found.count < limit, let last = words.last, Vocabulary.allowedEdits(length: last.count) > 0,
                let tables = try Self.tables(organizationID, in: db)
            {
                var corrections: [Vocabulary.Candidate] = []
                for kind in SearchKind.allCases {
                    corrections += try self.vocabulary(kind, organizationID: organizationID, tables, db)
                        .corrections(for: last, limit: 4)
                }
                corrections.sort { ($0.distance, -$0.frequency, $0.term) < ($1.distance, -$1.frequency, $1.term) }
                var tried = Set<String>()
                for correction in corrections where tried.insert(correction.term).inserted && found.count < limit {
                    let key = (words.dropLast() + [correction.term]).joined(separator: " ")
                    for suggestion in try Self.suggestions(
                        organizationID: organizationID, key: key, limit: limit, in: db)
                    where !found.contains(suggestion) && found.count < limit {
                        found.append(suggestion)
                    }
                }
            }
            return found
        }
    }

    /// Entries of the organization with a word start beginning with `key`, most frequent first.
    static func suggestions(organizationID: String, key: String, limit: Int, in db: Database) throws -> [Suggestion] {
        let sql = """
            SELECT type, min(text) AS text, ref_id, count(DISTINCT doc) AS frequency FROM (
                SELECT type, text, norm, ref_id, doc FROM search_suggest
                WHERE org_id = ? AND key >= ? AND key < ? LIMIT \(suggestionScan))
            GROUP BY type, norm, ref_id ORDER BY frequency DESC, text, type LIMIT ?
            """
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: sql), arguments: [organizationID, key, key + "\u{10FFFF}", limit])
        return rows.map { row in Suggestion(text: row["text"], type: row["type"], id: row["ref_id"]) }
    }
}
