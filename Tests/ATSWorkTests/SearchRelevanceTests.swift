import ATSDemo
import ATSDomain
import ATSSearch
import ATSStore
import ATSWork
import Foundation
import Testing

/// Relevance on a fixed generated agency (seeded, 1,500 candidates) with a few planted people
/// whose profiles the queries aim at: names (with typos), skills with typos and synonyms,
/// boolean queries, skills plus location, and job matching. recall@10 (is the target in the
/// first ten) and nDCG@10 (how high) are printed and held above a floor.
@Suite("Search relevance", .serialized)
struct SearchRelevanceTests {
    /// The cases, shared with `Tests/integration/relevance_check.py`, which runs them against
    /// the release binary over HTTP (the optimizer once hid a typo defect from this suite).
    struct Cases {
        let planted: [(key: String, fields: JSONObject)]
        /// Query, planted target, semantic weight.
        let queries: [(String, String, Double)]
        /// Misspelt word, planted target, the correction it must be given.
        let typos: [(String, String, String)]
        /// Misspelt word and the agency's word it must be corrected to (the target is anyone).
        let corrections: [(String, String)]
        let candidates: Int
        let seed: UInt64
        /// A client and a job written for one planted profile, and what her match must show.
        let matching: JSONObject
        /// The least recall@10 and nDCG@10 that pass.
        let recallFloor: Double
        let ndcgFloor: Double

        static func load() throws -> Cases {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("integration/relevance_cases.json")
            let root = try #require(try JSONText.parse(Array(Data(contentsOf: url))).objectValue)
            let planted = try #require(root["planted"]?.objectValue).sorted { $0.key < $1.key }.map {
                (key: $0.key, fields: try #require($0.value.objectValue))
            }
            func rows(_ name: String) throws -> [[JSONValue]] {
                try #require(root[name]?.arrayValue).map { try #require($0.arrayValue) }
            }
            let queries = try rows("queries").map {
                (try #require($0[0].stringValue), try #require($0[1].stringValue), try #require($0[2].doubleValue))
            }
            let typos = try rows("typos").map {
                (try #require($0[0].stringValue), try #require($0[1].stringValue), try #require($0[2].stringValue))
            }
            let corrections = try rows("corrections").map {
                (try #require($0[0].stringValue), try #require($0[1].stringValue))
            }
            let agency = try #require(root["agency"]?.objectValue)
            return Cases(
                planted: planted, queries: queries, typos: typos, corrections: corrections,
                candidates: Int(try #require(agency["candidates"]?.doubleValue)),
                seed: UInt64(try #require(agency["seed"]?.doubleValue)),
                matching: try #require(root["matching"]?.objectValue),
                recallFloor: try #require(root["floors"]?.objectValue?["recall@10"]?.doubleValue),
                ndcgFloor: try #require(root["floors"]?.objectValue?["nDCG@10"]?.doubleValue))
        }
    }

    @Test func plantedProfilesComeFirst() async throws {
        let cases = try Cases.load()
        let fixture = try await SearchFixture.make()
        defer { fixture.cleanup() }
        let reference = try ReferenceData.load(from: try #require(ReferenceData.locate()))
        var configuration = DemoConfiguration()
        configuration.candidates = cases.candidates
        configuration.seed = cases.seed
        _ = try await DemoAgency.load(into: fixture.store, reference: reference, configuration: configuration)
        let organization = try #require(try await fixture.store.organization(slug: DemoAgency.slug))
        var ids: [String: String] = [:]
        for person in cases.planted {
            ids[person.key] = try await fixture.create(.candidate, organizationID: organization.id, person.fields).id
        }
        try await fixture.search.reindex { _, _ in }

        var recall = 0.0
        var ndcg = 0.0
        var lines: [String] = []
        for (text, key, semantic) in cases.queries {
            let results = try await fixture.search.search(
                HybridQuery(kind: .candidate, organizationID: organization.id, text: text, limit: 10, semantic: semantic))
            let rank = results.hits.firstIndex { $0.id == ids[key] }.map { $0 + 1 }
            if let rank {
                recall += 1
                ndcg += 1 / log2(Double(rank) + 1)
            }
            lines.append("  \(rank.map { "#\($0)" } ?? "miss")  \(text)  (semantic \(semantic))")
        }
        recall /= Double(cases.queries.count)
        ndcg /= Double(cases.queries.count)

        // A misspelt word alone (keywords only) is corrected to the planted profile's word.
        var typosFound = 0
        for (word, key, correction) in cases.typos {
            let results = try await fixture.search.search(
                HybridQuery(kind: .candidate, organizationID: organization.id, text: word, limit: 10, semantic: 0))
            let found = results.hits.contains { $0.id == ids[key] }
            let corrected = results.corrections[word]?.contains(correction) == true
            if found && corrected { typosFound += 1 }
            lines.append("  \(found ? "found" : "miss ")  \(word) -> \(results.corrections[word] ?? [])")
        }
        for (word, correction) in cases.corrections {
            let results = try await fixture.search.search(
                HybridQuery(kind: .candidate, organizationID: organization.id, text: word, limit: 10, semantic: 0))
            if results.corrections[word]?.contains(correction) == true, !results.hits.isEmpty { typosFound += 1 }
            lines.append("  \(results.hits.isEmpty ? "none " : "found")  \(word) -> \(results.corrections[word] ?? [])")
        }

        // Job matching: a job written for one planted profile finds her.
        let matching = cases.matching
        let target = try #require(matching["target"]?.stringValue)
        let client = try await fixture.create(
            .client, organizationID: organization.id, try #require(matching["client"]?.objectValue))
        var jobFields = try #require(matching["job"]?.objectValue)
        jobFields["clientId"] = .string(client.id)
        let job = try await fixture.create(.job, organizationID: organization.id, jobFields)
        try await fixture.drainSearchJobs()
        let matches = try #require(try await fixture.search.matches(forJob: job.id, organizationID: organization.id, limit: 10))
        let matchRank = matches.firstIndex { $0.id == ids[target] }.map { $0 + 1 }
        let top = try #require(matches.first { $0.id == ids[target] })
        lines.append("  \(matchRank.map { "#\($0)" } ?? "miss")  matches for the job (score \(top.score), met \(top.skillsMet), missing \(top.skillsMissing))")

        print("search relevance on \(configuration.candidates) generated candidates + \(cases.planted.count) planted:")
        print(lines.joined(separator: "\n"))
        print(String(format: "  recall@10 = %.3f, nDCG@10 = %.3f over %d queries", recall, ndcg, cases.queries.count))
        #expect(recall >= cases.recallFloor, "recall@10 \(recall)")
        #expect(ndcg >= cases.ndcgFloor, "nDCG@10 \(ndcg)")
        let typoCount = cases.typos.count + cases.corrections.count
        #expect(typosFound == typoCount, "typo queries corrected and found: \(typosFound) of \(typoCount)")
        let floors = (rank: Int(matching["maxRank"]?.doubleValue ?? 3), score: matching["minScore"]?.doubleValue ?? 70)
        #expect(matchRank.map { $0 <= floors.rank } == true, "the target is among the first \(floors.rank) matches")
        #expect(Set(top.skillsMet) == Set(matching["skillsMet"]?.stringArray ?? []))
        #expect(Double(top.score) >= floors.score)
    }
}
