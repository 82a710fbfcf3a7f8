import ATSSearch
import Foundation
import GRDB
import Logging
import Testing

/// A fresh, migrated, empty index and how to throw it away.
struct IndexUnderTest: Sendable {
    let index: any SearchIndex
    let cleanup: @Sendable () -> Void
}

/// One way to get an index. The conformance suite runs once per factory; a PostgreSQL backend
/// joins by adding itself to `all`.
struct SearchIndexFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () throws -> IndexUnderTest

    var testDescription: String { name }

    static let sqlite = SearchIndexFactory(name: "SQLite") {
        let (pool, folder) = try makePool()
        let index = SQLiteSearchIndex(pool: pool, logger: Logger(label: "test.search"))
        try index.migrate()
        return IndexUnderTest(index: index, cleanup: { try? FileManager.default.removeItem(at: folder) })
    }

    static let all: [SearchIndexFactory] = [.sqlite]

    /// A WAL pool on a temporary file, configured like the store's.
    static func makePool() throws -> (DatabasePool, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var config = Configuration()
        config.journalMode = .wal
        config.foreignKeysEnabled = true
        let pool = try DatabasePool(path: folder.appendingPathComponent("ats.sqlite").path, configuration: config)
        return (pool, folder)
    }
}

func withIndex(_ factory: SearchIndexFactory, _ body: (any SearchIndex) async throws -> Void) async throws {
    let subject = try factory.make()
    defer { subject.cleanup() }
    try await body(subject.index)
}

// MARK: Test documents

enum Org {
    static let a = "org-a"
    static let b = "org-b"
}

func candidate(
    _ id: String, org: String = Org.a, name: String = "", title: String = "", headline: String = "",
    skills: [String] = [], summary: String = "", cv: String = "", status: String? = nil, tags: [String] = [],
    location: String? = nil, years: Int? = nil, availableFrom: String? = nil, jobIDs: [String] = [],
    stages: [String] = [], updatedAt: String = "2024-01-01T00:00:00Z"
) -> SearchDocument {
    SearchDocument(
        kind: .candidate, organizationID: org, id: id,
        fields: [
            "name": name, "title": title, "headline": headline, "skills": skills.joined(separator: ", "),
            "summary": summary, "cv": cv,
        ],
        status: status, tags: tags, skills: skills, location: location, experienceYears: years,
        availableFrom: availableFrom, jobIDs: jobIDs, stages: stages, updatedAt: updatedAt)
}

func job(_ id: String, org: String = Org.a, title: String, skills: [String] = [], description: String = "",
         clientID: String? = nil, status: String? = "open") -> SearchDocument {
    SearchDocument(
        kind: .job, organizationID: org, id: id,
        fields: ["title": title, "skills": skills.joined(separator: ", "), "description": description],
        status: status, skills: skills, clientID: clientID, updatedAt: "2024-01-01T00:00:00Z")
}

func client(_ id: String, org: String = Org.a, name: String, industry: String = "") -> SearchDocument {
    SearchDocument(
        kind: .client, organizationID: org, id: id, fields: ["name": name, "industry": industry],
        updatedAt: "2024-01-01T00:00:00Z")
}

extension SearchIndex {
    /// The ids a text query finds in organization A's candidates, best first.
    func ids(_ text: String, kind: SearchKind = .candidate, org: String = Org.a, filters: SearchFilters = SearchFilters(),
             limit: Int = 100) async throws -> [String] {
        try await search(SearchQuery(kind: kind, organizationID: org, text: text, filters: filters, limit: limit)).hits.map(\.id)
    }
}
