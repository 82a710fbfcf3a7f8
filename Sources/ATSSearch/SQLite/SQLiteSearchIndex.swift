import Foundation
import GRDB
import Logging
import Synchronization

/// The embedded search index: FTS5 tables in the store's own SQLite file, written through the
/// store's one `DatabasePool`. Each organization has its own FTS5 table per kind, so its ranking
/// statistics, typo vocabulary and prefix decisions are its own: another tenant's words can
/// neither appear in nor move its answers. Filters and facets are plain SQL next to the MATCH,
/// so a filtered page is as full as the match set allows; typo tolerance expands query terms
/// with an in-memory vocabulary read from the organization's `fts5vocab` view.
public final class SQLiteSearchIndex: SearchIndex {
    /// Bounds on a request.
    public enum Limits {
        public static let limit = 1...100
        public static let offset = 0...1_000
        public static let suggestions = 1...50
        /// Typo corrections added per query term.
        public static let correctionsPerTerm = 8
        /// Batches larger than this refresh the vocabulary from the index on the next search
        /// instead of tokenizing every document in Swift.
        static let vocabularyBatch = 64
    }

    public let pool: DatabasePool
    let logger: Logger
    let migrator = SQLiteSearchIndex.makeMigrator()
    let vocabularies = Mutex(VocabularyState())

    /// `pool` must be the store's: never open a second pool on the file. Does not migrate.
    public init(pool: DatabasePool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    // MARK: Migrations

    /// Creates or updates the FTS5 tables and their companions; safe on each start.
    public func migrate() throws {
        do { try migrator.migrate(pool) } catch { throw Self.indexError(error) }
    }

    /// The search tier's migration names, in order.
    public static var migrationNames: [String] { makeMigrator().migrations }

    // MARK: Writes

    public func upsert(_ documents: [SearchDocument]) async throws {
        guard !documents.isEmpty else { return }
        // Last write wins within a batch.
        var latest: [DocumentKey: SearchDocument] = [:]
        var order: [DocumentKey] = []
        for document in documents {
            let key = DocumentKey(kind: document.kind, organizationID: document.organizationID, id: document.id)
            if latest.updateValue(document, forKey: key) == nil { order.append(key) }
        }
        let batch = order.compactMap { latest[$0] }
        // One transaction for the batch; each organization's documents go to its own tables
        // and move its own generation only.
        var organizations: [String] = []
        var byOrganization: [String: [SearchDocument]] = [:]
        for document in batch {
            if byOrganization[document.organizationID] == nil { organizations.append(document.organizationID) }
            byOrganization[document.organizationID, default: []].append(document)
        }
        let sequence = organizations
        let groups = byOrganization
        let generations = try await write { db in
            var generations: [String: Int64] = [:]
            for organization in sequence {
                let number = try Self.ensureTables(organization, in: db)
                for document in groups[organization] ?? [] { try Self.write(document, number: number, in: db) }
                generations[organization] = try Self.bumpGeneration(organization, in: db)
            }
            return generations
        }
        for organization in organizations {
            guard let generation = generations[organization] else { continue }
            let documents = byOrganization[organization] ?? []
            if documents.count <= Limits.vocabularyBatch {
                var terms: [SearchKind: [String: Int]] = [:]
                for document in documents {
                    var seen = Set<String>()
                    for text in document.fields.values {
                        for token in TextNormalizer.tokens(text) where seen.insert(token).inserted {
                            terms[document.kind, default: [:]][token, default: 0] += 1
                        }
                    }
                }
                vocabularies.withLock { $0.advance(organization, to: generation, adding: terms) }
            } else {
                vocabularies.withLock { $0.advance(organization, to: generation, adding: nil) }
            }
        }
    }

    public func remove(kind: SearchKind, organizationID: String, ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        let generation = try await write { db -> Int64? in
            guard let tables = try Self.tables(organizationID, in: db) else { return nil }
            let find = try db.cachedStatement(
                sql: "SELECT doc FROM search_docs WHERE kind = ? AND org_id = ? AND doc_id = ?")
            for id in Set(ids) {
                if let doc = try Int64.fetchOne(find, arguments: [kind.rawValue, organizationID, id]) {
                    try Self.delete(doc: doc, kind: kind, number: tables.number, in: db)
                }
            }
            return try Self.bumpGeneration(organizationID, in: db)
        }
        // Removals leave the vocabulary as it is: a stale term only widens a query (of this
        // organization, whose own word it was).
        if let generation { vocabularies.withLock { $0.advance(organizationID, to: generation, adding: [:]) } }
    }

    public func removeAll(organizationID: String?) async throws {
        try await write { db in
            // Fresh tables rather than deleted rows: the organization's statistics and
            // vocabulary start from nothing, as if it had never indexed a document.
            let organizations: [(String, Int64)] =
                if let organizationID {
                    try Self.tables(organizationID, in: db).map { [(organizationID, $0.number)] } ?? []
                } else {
                    try Row.fetchAll(db, sql: "SELECT org_id, n FROM search_orgs").map { ($0[0], $0[1]) }
                }
            for (organization, number) in organizations {
                for kind in SearchKind.allCases {
                    try Self.dropTables(kind, number, in: db)
                    try Self.createTables(kind, number, in: db)
                }
                _ = try Self.bumpGeneration(organization, in: db)
            }
            if let organizationID {
                try db.execute(
                    sql: "DELETE FROM search_attrs WHERE doc IN (SELECT doc FROM search_docs WHERE org_id = ?)",
                    arguments: [organizationID])
                try db.execute(sql: "DELETE FROM search_suggest WHERE org_id = ?", arguments: [organizationID])
                try db.execute(sql: "DELETE FROM search_docs WHERE org_id = ?", arguments: [organizationID])
            } else {
                try db.execute(sql: "DELETE FROM search_attrs; DELETE FROM search_suggest; DELETE FROM search_docs;")
            }
        }
        // A full reindex follows: read the vocabularies afresh when it is done.
        vocabularies.withLock { state in
            if let organizationID { state.organizations[organizationID] = nil } else { state.reset() }
        }
    }

    public func count(kind: SearchKind, organizationID: String) async throws -> Int {
        try await read { db in
            try Int.fetchOne(
                db.cachedStatement(sql: "SELECT count(*) FROM search_docs WHERE kind = ? AND org_id = ?"),
                arguments: [kind.rawValue, organizationID]) ?? 0
        }
    }

    /// Loads the typo vocabularies now rather than on the first search after a start: every
    /// kind of the organizations with the most documents, as many as stay loaded.
    public func warmUp() async throws {
        let organizations = try await read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT org_id FROM search_docs GROUP BY org_id ORDER BY count(*) DESC, org_id LIMIT ?
                    """,
                arguments: [VocabularyState.organizationLimit])
        }
        for organization in organizations {
            for kind in SearchKind.allCases {
                _ = try await read { db in try self.vocabulary(kind, organizationID: organization, db) }
            }
        }
    }

    // MARK: Row writes

    struct DocumentKey: Hashable {
        var kind: SearchKind
        var organizationID: String
        var id: String
    }

    static func write(_ document: SearchDocument, number: Int64, in db: Database) throws {
        let kind = document.kind
        let existing = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT doc FROM search_docs WHERE kind = ? AND org_id = ? AND doc_id = ?"),
            arguments: [kind.rawValue, document.organizationID, document.id])
        let location = document.location.map(SearchValue.fold).flatMap { $0.isEmpty ? nil : $0 }
        let status = document.status.map(SearchValue.fold).flatMap { $0.isEmpty ? nil : $0 }
        let values: StatementArguments = [
            status, location, location.map(TextNormalizer.fold), document.experienceYears, document.availableFrom, document.clientID,
            document.updatedAt,
        ]
        let doc: Int64
        if let existing {
            try clearCompanions(doc: existing, kind: kind, number: number, in: db)
            try db.cachedStatement(
                sql: """
                    UPDATE search_docs SET status = ?, location = ?, location_key = ?, experience = ?, available_from = ?,
                        client_id = ?, updated_at = ? WHERE doc = ?
                    """
            ).execute(arguments: values + [existing])
            doc = existing
        } else {
            try db.cachedStatement(
                sql: """
                    INSERT INTO search_docs (kind, org_id, doc_id, status, location, location_key, experience,
                        available_from, client_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [kind.rawValue, document.organizationID, document.id] + values)
            doc = db.lastInsertedRowID
        }
        // The searchable text.
        let fields = SearchSchema.fields(kind)
        let placeholders = Array(repeating: "?", count: fields.count + 1).joined(separator: ", ")
        var texts: [(any DatabaseValueConvertible)?] = [doc]
        for field in fields {
            texts.append(TextNormalizer.stripControls(document.fields[field.name] ?? ""))
        }
        try db.cachedStatement(
            sql: "INSERT INTO \(ftsTable(kind, number)) (rowid, \(fields.map(\.name).joined(separator: ", "))) VALUES (\(placeholders))"
        ).execute(arguments: StatementArguments(texts))
        // Attributes.
        let attribute = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO search_attrs (attr, value, doc) VALUES (?, ?, ?)")
        for (attr, value) in attributes(of: document) {
            try attribute.execute(arguments: [attr, value, doc])
        }
        // Suggestions.
        let suggestion = try db.cachedStatement(
            sql: "INSERT INTO search_suggest (org_id, key, type, norm, text, ref_id, doc) VALUES (?, ?, ?, ?, ?, ?, ?)")
        for entry in suggestionEntries(of: document) {
            for key in SuggestionKeys.keys(entry.text) {
                try suggestion.execute(arguments: [
                    document.organizationID, key, entry.type, entry.norm, entry.text, entry.id, doc,
                ])
            }
        }
    }

    /// The (attr, value) rows of a document.
    static func attributes(of document: SearchDocument) -> [(String, String)] {
        var rows: [(String, String)] = []
        for tag in document.tags where !SearchValue.fold(tag).isEmpty { rows.append(("tag", SearchValue.fold(tag))) }
        for skill in document.skills where !SearchValue.fold(skill).isEmpty {
            rows.append(("skill", SearchValue.fold(skill)))
        }
        for job in document.jobIDs where !job.isEmpty { rows.append(("job", job)) }
        for (index, entry) in document.stages.enumerated() {
            // "jobID:stage", or a plain stage paired with jobIDs[index].
            var job: String?
            var stage = entry
            if let colon = entry.firstIndex(of: ":") {
                job = String(entry[..<colon])
                stage = String(entry[entry.index(after: colon)...])
            } else if document.stages.count == document.jobIDs.count {
                job = document.jobIDs[index]
            }
            let folded = SearchValue.fold(stage)
            guard !folded.isEmpty else { continue }
            rows.append(("stage", folded))
            if let job, !job.isEmpty {
                rows.append(("jobstage", SearchValue.jobStage(job, folded)))
                rows.append(("job", job))
            }
        }
        return rows
    }

    struct SuggestionEntry {
        var type: String
        var text: String
        var norm: String
        var id: String?
    }

    static func suggestionEntries(of document: SearchDocument) -> [SuggestionEntry] {
        func entry(_ type: String, _ raw: String?, id: String? = nil) -> SuggestionEntry? {
            guard let raw else { return nil }
            let text = TextNormalizer.stripControls(raw).split(whereSeparator: \.isWhitespace).joined(separator: " ")
            let norm = TextNormalizer.tokens(text).joined(separator: " ")
            guard !norm.isEmpty, text.count <= 200 else { return nil }
            return SuggestionEntry(type: type, text: text, norm: norm, id: id)
        }
        var entries: [SuggestionEntry?] = []
        switch document.kind {
        case .candidate:
            entries.append(entry("candidate", document.fields["name"], id: document.id))
            entries.append(entry("title", document.fields["title"]))
        case .job:
            entries.append(entry("job", document.fields["title"], id: document.id))
        case .client:
            entries.append(entry("client", document.fields["name"], id: document.id))
        }
        for skill in document.skills { entries.append(entry("skill", skill)) }
        var seen = Set<String>()
        return entries.compactMap { $0 }.filter { seen.insert($0.type + "\u{1F}" + $0.norm).inserted }
    }

    static func clearCompanions(doc: Int64, kind: SearchKind, number: Int64, in db: Database) throws {
        try db.cachedStatement(sql: "DELETE FROM \(ftsTable(kind, number)) WHERE rowid = ?").execute(arguments: [doc])
        try db.cachedStatement(sql: "DELETE FROM search_attrs WHERE doc = ?").execute(arguments: [doc])
        try db.cachedStatement(sql: "DELETE FROM search_suggest WHERE doc = ?").execute(arguments: [doc])
    }

    static func delete(doc: Int64, kind: SearchKind, number: Int64, in db: Database) throws {
        try clearCompanions(doc: doc, kind: kind, number: number, in: db)
        try db.cachedStatement(sql: "DELETE FROM search_docs WHERE doc = ?").execute(arguments: [doc])
    }

    // MARK: Database access

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch let error as SearchQueryError { throw error } catch {
            throw Self.indexError(error)
        }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.write(body) } catch {
            throw Self.indexError(error)
        }
    }

    static func indexError(_ error: any Error) -> SearchIndexError {
        if let error = error as? SearchIndexError { return error }
        if let error = error as? DatabaseError {
            return SearchIndexError("database error \(error.resultCode.rawValue): \(error.message ?? "unknown")")
        }
        return SearchIndexError(String(describing: error))
    }
}

/// The word starts a suggestion is found by: "Ada Lovelace King" is found by "ada", "lovelace"
/// and "king" prefixes (each key runs to the end of the text).
enum SuggestionKeys {
    static let maxWords = 4

    static func keys(_ text: String) -> [String] {
        let words = TextNormalizer.tokens(text)
        guard !words.isEmpty else { return [] }
        return (0..<min(words.count, maxWords)).map { words[$0...].joined(separator: " ") }
    }
}
