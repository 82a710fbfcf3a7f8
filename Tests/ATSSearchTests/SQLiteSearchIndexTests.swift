@testable import ATSSearch
import Foundation
import GRDB
import Logging
import Testing

/// What only the SQLite backend has: its migrations and its in-memory typo vocabulary.
@Suite("SQLiteSearchIndex")
struct SQLiteSearchIndexTests {
    @Test("migration identifiers carry the search- prefix and migrate twice safely")
    func migrations() throws {
        #expect(SQLiteSearchIndex.migrationNames.allSatisfy { $0.hasPrefix("search-") })
        let (pool, folder) = try SearchIndexFactory.makePool()
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = SQLiteSearchIndex(pool: pool, logger: Logger(label: "test"))
        try index.migrate()
        try index.migrate()
    }

    @Test("the vocabulary follows small batches, large batches and another writer on the file")
    func vocabularyFreshness() async throws {
        let (pool, folder) = try SearchIndexFactory.makePool()
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = SQLiteSearchIndex(pool: pool, logger: Logger(label: "test"))
        try index.migrate()
        try await index.warmUp()
        // A small batch: folded into the loaded vocabulary.
        try await index.upsert([candidate("c1", title: "Kubernetes Engineer")])
        #expect(try await index.ids("kubernets") == ["c1"])
        // A large batch: the vocabulary is read again from the index.
        try await index.upsert((0..<100).map { candidate("p\($0)", title: "Terraform Specialist") })
        #expect(try await index.ids("terrafrom specialist").count == 100)
        // Another index object on the same pool (another process would do the same) writes.
        let other = SQLiteSearchIndex(pool: pool, logger: Logger(label: "other"))
        try await other.upsert([candidate("c2", title: "Salesforce Consultant")])
        #expect(try await index.ids("salesfroce") == ["c2"])
    }

    @Test("the per-organization migration moves each document out of the shared tables into its organization's")
    func perOrganizationMigration() async throws {
        let (pool, folder) = try SearchIndexFactory.makePool()
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = SQLiteSearchIndex(pool: pool, logger: Logger(label: "test"))
        // Given an index of the shared-table era holding two organizations' documents.
        try index.migrator.migrate(pool, upTo: "search-v1-index")
        try await pool.write { db in
            for (doc, org, id, name) in [(1, Org.a, "c1", "Zyphorine Keller"), (2, Org.b, "b1", "Bea Zypher"),
                                         (3, Org.a, "c2", "Alphafirst Huber")] {
                try db.execute(
                    sql: "INSERT INTO search_docs (doc, kind, org_id, doc_id, updated_at) VALUES (?, 'candidate', ?, ?, '2024')",
                    arguments: [doc, org, id])
                try db.execute(
                    sql: "INSERT INTO search_fts_candidate (rowid, name, title) VALUES (?, ?, 'Engineer')",
                    arguments: [doc, name])
            }
            try db.execute(
                sql: "INSERT INTO search_docs (doc, kind, org_id, doc_id, updated_at) VALUES (4, 'job', ?, 'j1', '2024')",
                arguments: [Org.b])
            try db.execute(sql: "INSERT INTO search_fts_job (rowid, title) VALUES (4, 'Zyphorine Engineer')")
        }
        // When the index migrates.
        try index.migrate()
        // Then each organization finds its own documents, in its own tables only.
        #expect(try await index.ids("engineer").sorted() == ["c1", "c2"])
        #expect(try await index.ids("engineer", org: Org.b) == ["b1"])
        #expect(try await index.ids("zyph", kind: .job, org: Org.b) == ["j1"])
        #expect(try await index.ids("zyph", kind: .job).isEmpty)
        let shared = try await pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM sqlite_master WHERE name IN ('search_fts_candidate', 'search_fts_job', 'search_fts_client',
                        'search_vocab_candidate', 'search_vocab_job', 'search_vocab_client')
                    """)
        }
        #expect(shared.isEmpty, "the shared tables are gone: \(shared)")
        let corrections = try await index.search(SearchQuery(kind: .candidate, organizationID: Org.b, text: "alphafirts"))
        #expect(corrections.corrections.isEmpty, "B never sees A's words: \(corrections.corrections)")
        // And a document written afterwards joins its organization's tables.
        try await index.upsert([candidate("b2", org: Org.b, name: "Ben Engineer")])
        #expect(try await index.ids("engineer", org: Org.b).sorted() == ["b1", "b2"])
    }
}
