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
}
