import GRDB

extension SQLiteSearchIndex {
    /// The FTS5 table of a kind (one per kind: their columns differ).
    static func ftsTable(_ kind: SearchKind) -> String { "search_fts_\(kind.rawValue)" }
    /// The `fts5vocab` view over it, where the typo vocabulary comes from.
    static func vocabTable(_ kind: SearchKind) -> String { "search_vocab_\(kind.rawValue)" }

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
                        CREATE VIRTUAL TABLE \(ftsTable(kind)) USING fts5(
                            \(columns), tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
                        CREATE VIRTUAL TABLE \(vocabTable(kind)) USING fts5vocab(\(ftsTable(kind)), 'row');
                        """)
            }
        }
        return migrator
    }
}
