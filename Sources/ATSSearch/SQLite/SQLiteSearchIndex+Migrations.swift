import GRDB

extension SQLiteSearchIndex {
    /// The FTS5 table of one organization's documents of a kind: one per organization, so its
    /// term statistics (bm25's IDF and average lengths) and its `fts5vocab` view describe that
    /// organization alone, and one per kind, because their columns differ. `number` is the
    /// organization's short number in `search_orgs`, never its id (ids are not identifiers).
    static func ftsTable(_ kind: SearchKind, _ number: Int64) -> String { "search_fts_\(kind.rawValue)_\(number)" }
    /// The `fts5vocab` view over it, where the organization's typo vocabulary comes from.
    static func vocabTable(_ kind: SearchKind, _ number: Int64) -> String { "search_vocab_\(kind.rawValue)_\(number)" }
    /// The shared tables of `search-v1-index`, which held every organization's documents (and so
    /// leaked one organization's words into another's corrections and prefix decisions).
    static func sharedFTSTable(_ kind: SearchKind) -> String { "search_fts_\(kind.rawValue)" }
    static func sharedVocabTable(_ kind: SearchKind) -> String { "search_vocab_\(kind.rawValue)" }

    /// Creates the FTS5 table and vocabulary view of one organization and kind.
    static func createTables(_ kind: SearchKind, _ number: Int64, in db: Database) throws {
        let columns = SearchSchema.fields(kind).map(\.name).joined(separator: ", ")
        try db.execute(
            sql: """
                CREATE VIRTUAL TABLE \(ftsTable(kind, number)) USING fts5(
                    \(columns), tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
                CREATE VIRTUAL TABLE \(vocabTable(kind, number)) USING fts5vocab(\(ftsTable(kind, number)), 'row');
                """)
    }

    static func dropTables(_ kind: SearchKind, _ number: Int64, in db: Database) throws {
        try db.execute(
            sql: "DROP TABLE IF EXISTS \(vocabTable(kind, number)); DROP TABLE IF EXISTS \(ftsTable(kind, number));")
    }

    /// The search tier's schema history, in the store's database. Append-only; identifiers
    /// start with `search-` so they never meet the store's or the job tier's in the shared
    /// `grdb_migrations` table.
    static func makeMigrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("search-v1-index") { db in
            try db.execute(
                sql: """
                    -- One row per indexed document; its rowid is the FTS5 rowid.
                    CREATE TABLE search_docs (
                        doc INTEGER PRIMARY KEY,
                        kind TEXT NOT NULL,
                        org_id TEXT NOT NULL,
                        doc_id TEXT NOT NULL,
                        status TEXT,
                        location TEXT,
                        location_key TEXT,
                        experience INTEGER,
                        available_from TEXT,
                        client_id TEXT,
                        updated_at TEXT NOT NULL,
                        UNIQUE (kind, org_id, doc_id)
                    );
                    -- A search without text: newest first within the tenant.
                    CREATE INDEX search_docs_recent ON search_docs(kind, org_id, updated_at DESC, doc DESC);
                    -- Multi-valued attributes (tag, skill, job, stage, jobstage): a filter is one
                    -- primary-key probe per document, a facet a walk of the doc index.
                    CREATE TABLE search_attrs (
                        attr TEXT NOT NULL,
                        value TEXT NOT NULL,
                        doc INTEGER NOT NULL,
                        PRIMARY KEY (attr, value, doc)
                    ) WITHOUT ROWID;
                    CREATE INDEX search_attrs_doc ON search_attrs(doc, attr, value);
                    -- Suggestions: one row per word start of each name, title, skill, client, job.
                    CREATE TABLE search_suggest (
                        org_id TEXT NOT NULL,
                        key TEXT NOT NULL,
                        type TEXT NOT NULL,
                        norm TEXT NOT NULL,
                        text TEXT NOT NULL,
                        ref_id TEXT,
                        doc INTEGER NOT NULL
                    );
                    CREATE INDEX search_suggest_key ON search_suggest(org_id, key);
                    CREATE INDEX search_suggest_doc ON search_suggest(doc);
                    -- Bumped by every write, so an in-memory vocabulary knows when it is stale.
                    CREATE TABLE search_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
                    INSERT INTO search_meta (key, value) VALUES ('generation', 0);
                    """)
            for kind in SearchKind.allCases {
                let columns = SearchSchema.fields(kind).map(\.name).joined(separator: ", ")
                try db.execute(
                    sql: """
                        CREATE VIRTUAL TABLE \(sharedFTSTable(kind)) USING fts5(
                            \(columns), tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
                        CREATE VIRTUAL TABLE \(sharedVocabTable(kind)) USING fts5vocab(\(sharedFTSTable(kind)), 'row');
                        """)
            }
        }
        // Tenancy of everything derived from the text: one FTS5 table (and vocabulary) per
        // organization and kind, created on the organization's first document; each
        // organization's generation moves with its own writes only. Existing documents move out
        // of the shared tables, which go.
        migrator.registerMigration("search-v2-per-organization") { db in
            try db.execute(
                sql: """
                    -- An organization's short number names its tables; its generation moves with each
                    -- of its writes, so a process knows when its in-memory vocabulary is stale.
                    CREATE TABLE search_orgs (
                        org_id TEXT PRIMARY KEY NOT NULL,
                        n INTEGER NOT NULL UNIQUE,
                        generation INTEGER NOT NULL DEFAULT 0
                    ) WITHOUT ROWID;
                    """)
            let organizations = try String.fetchAll(db, sql: "SELECT DISTINCT org_id FROM search_docs ORDER BY org_id")
            var numbers: [String: Int64] = [:]
            for (index, organization) in organizations.enumerated() {
                let number = Int64(index + 1)
                numbers[organization] = number
                try db.execute(sql: "INSERT INTO search_orgs (org_id, n) VALUES (?, ?)", arguments: [organization, number])
                for kind in SearchKind.allCases { try createTables(kind, number, in: db) }
            }
            for kind in SearchKind.allCases {
                try moveRows(kind, numbers, in: db)
                try db.execute(sql: "DROP TABLE \(sharedVocabTable(kind)); DROP TABLE \(sharedFTSTable(kind));")
            }
        }
        return migrator
    }

    /// Copies a kind's rows out of the shared table into their organizations' tables, in one
    /// pass over the shared table (its statements are done when this returns, so it can go).
    private static func moveRows(_ kind: SearchKind, _ numbers: [String: Int64], in db: Database) throws {
        let names = SearchSchema.fields(kind).map(\.name)
        let shared = sharedFTSTable(kind)
        let placeholders = Array(repeating: "?", count: names.count + 1).joined(separator: ", ")
        var inserts: [Int64: Statement] = [:]
        // One pass over the shared table, each row into its organization's table.
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT d.org_id, f.rowid, \(names.map { "f.\($0)" }.joined(separator: ", "))
                FROM \(shared) f JOIN search_docs d ON d.doc = f.rowid WHERE d.kind = ?
                """,
            arguments: [kind.rawValue])
        while let row = try rows.next() {
            let organization: String = row[0]
            guard let number = numbers[organization] else { continue }
            let insert: Statement
            if let known = inserts[number] {
                insert = known
            } else {
                insert = try db.makeStatement(
                    sql: "INSERT INTO \(ftsTable(kind, number)) (rowid, \(names.joined(separator: ", "))) VALUES (\(placeholders))")
                inserts[number] = insert
            }
            var values: [DatabaseValue] = []
            for index in 1...(names.count + 1) { values.append(row[index]) }
            try insert.execute(arguments: StatementArguments(values))
        }
    }
}
