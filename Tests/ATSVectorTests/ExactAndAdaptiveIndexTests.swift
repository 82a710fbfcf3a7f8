import ATSVector
import Foundation
import Testing

@Suite struct ExactVectorIndexTests {
    @Test(arguments: [1, 7, 16, 37, 64, 100])
    func matchesBruteForceExactly(dimensions: Int) {
        let data = ClusteredVectors(count: 500, queries: 10, dimensions: dimensions, clusters: 5, seed: UInt64(dimensions))
        let ids = (0..<500).map { "e\($0)" }
        let index = ExactVectorIndex(dimensions: dimensions, capacity: 8)
        for (id, row) in zip(ids, data.rows) { index.upsert(id: id, vector: row) }
        for query in data.queries {
            let truth = bruteForce(data.rows, ids: ids, query: query, k: 15)
            let hits = index.search(query, k: 15)
            // Same set; same order except among equal scores.
            #expect(Set(hits.map(\.id)) == Set(truth) || dimensions == 1)
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
        #expect(index.search(data.queries[0], k: 10_000).count == 500)
        #expect(index.memoryBytes >= 500 * dimensions * 4)
    }
}

@Suite struct AdaptiveVectorIndexTests {
    @Test func switchesToHNSWAtTheThresholdAndPersistsIt() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let data = ClusteredVectors(count: 400, queries: 20, dimensions: 16, clusters: 6)
        let index = AdaptiveVectorIndex(dimensions: 16, threshold: 200, parameters: .init(m: 8, efConstruction: 60, efSearch: 48))
        for number in 0..<199 { index.upsert(id: "a\(number)", vector: data.rows[number]) }
        #expect(!index.isApproximate)
        try index.save(to: folder.file("small.atsv"))
        index.upsert(id: "a199", vector: data.rows[199])
        #expect(index.isApproximate)
        #expect(index.count == 200)
        for number in 200..<400 { index.upsert(id: "a\(number)", vector: data.rows[number]) }
        let ids = (0..<400).map { "a\($0)" }
        let found = data.queries.map { index.search($0, k: 10).map(\.id) }
        let truth = data.queries.map { bruteForce(data.rows, ids: ids, query: $0, k: 10) }
        #expect(recall(found, truth) >= 0.95)
        // Shrinking does not switch back.
        for number in 0..<300 { index.remove(id: "a\(number)") }
        #expect(index.isApproximate)
        #expect(index.count == 100)

        try index.save(to: folder.file("large.atsv"))
        let large = try AdaptiveVectorIndex.load(from: folder.file("large.atsv"))
        #expect(large.isApproximate && large.threshold == 200 && large.parameters.m == 8 && large.count == 100)
        let small = try AdaptiveVectorIndex.load(from: folder.file("small.atsv"))
        #expect(!small.isApproximate && small.threshold == 200 && small.count == 199)
        small.upsert(id: "more", vector: data.rows[300])
        #expect(small.isApproximate)
    }
}
