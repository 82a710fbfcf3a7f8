import ATSVector
import Foundation
import Testing

/// HNSW beyond the conformance suite: recall at a size where the graph matters, repairs after
/// deletes and updates, both filtered paths, determinism, persistence of the graph.
@Suite struct HNSWIndexTests {
    static let dimensions = 32
    static let data = ClusteredVectors(count: 4000, queries: 100, dimensions: dimensions, clusters: 40, noise: 0.5)
    static let ids = (0..<4000).map { "c\($0)" }
    static let parameters = HNSWIndex.Parameters(m: 12, efConstruction: 80, efSearch: 64, seed: 42)

    private func build(_ parameters: HNSWIndex.Parameters = Self.parameters) -> HNSWIndex {
        let index = HNSWIndex(dimensions: Self.dimensions, parameters: parameters)
        for (id, row) in zip(Self.ids, Self.data.rows) { index.upsert(id: id, vector: row) }
        return index
    }

    private func measuredRecall(_ index: HNSWIndex, rows: [[Float]], ids: [String], allowed: Set<String>? = nil) -> Double {
        let found = Self.data.queries.map { index.search($0, k: 10, allowed: allowed).map(\.id) }
        let truth = Self.data.queries.map { bruteForce(rows, ids: ids, query: $0, k: 10, allowed: allowed) }
        return recall(found, truth)
    }

    @Test func recallAgainstExactIsAtLeast95Percent() {
        let index = build()
        let measured = measuredRecall(index, rows: Self.data.rows, ids: Self.ids)
        #expect(measured >= 0.95, "recall@10 \(measured)")
        index.efSearch = 10
        #expect(index.efSearch == 10)
        #expect(measuredRecall(index, rows: Self.data.rows, ids: Self.ids) <= measured)
    }

    @Test func deletesAndUpdatesKeepRecall() {
        let index = build()
        var rows = Dictionary(uniqueKeysWithValues: zip(Self.ids, Self.data.rows))
        var random = SplitMix64(seed: 9)
        // Remove a quarter, then move a fifth of the rest to other points of the data.
        for id in Self.ids where random.next() % 4 == 0 {
            index.remove(id: id)
            rows[id] = nil
        }
        let removed = index.tombstones
        #expect(removed > 800)
        for id in Self.ids where rows[id] != nil && random.next() % 5 == 0 {
            let row = Self.data.rows[Int(random.next() % 4000)]
            index.upsert(id: id, vector: row)
            rows[id] = row
        }
        // New ids reuse the tombstoned slots.
        for number in 0..<300 {
            let row = Self.data.queries[number % 100]
            index.upsert(id: "new\(number)", vector: row)
            rows["new\(number)"] = row
        }
        #expect(index.tombstones == removed - 300)
        #expect(index.count == rows.count)
        let ids = Array(rows.keys)
        let measured = measuredRecall(index, rows: ids.compactMap { rows[$0] }, ids: ids)
        #expect(measured >= 0.95, "recall@10 after churn \(measured)")
        #expect(Self.data.rows.indices.allSatisfy { _ in true })
    }

    @Test func filteredSearchOnTheGraphAndByExactScoring() {
        let index = build()
        // 70%: the graph path (a masked beam); 3%: exact over the allowed ids.
        for share in [70, 3] {
            let allowed = Set(Self.ids.enumerated().filter { $0.offset % 100 < share }.map(\.element))
            let measured = measuredRecall(index, rows: Self.data.rows, ids: Self.ids, allowed: allowed)
            #expect(measured >= 0.95, "filtered (\(share)%) recall@10 \(measured)")
            let hits = index.search(Self.data.queries[0], k: 10, allowed: allowed)
            #expect(hits.count == 10 && hits.allSatisfy { allowed.contains($0.id) })
        }
    }

    @Test func sameSeedSameGraph() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let small = HNSWIndex.Parameters(m: 8, efConstruction: 40, efSearch: 32, seed: 5)
        var files: [Data] = []
        for seed in [5, 5, 6] as [UInt64] {
            var parameters = small
            parameters.seed = seed
            let index = HNSWIndex(dimensions: Self.dimensions, parameters: parameters)
            for (id, row) in zip(Self.ids, Self.data.rows).prefix(600) { index.upsert(id: id, vector: row) }
            let path = folder.file("seed-\(files.count)")
            try index.save(to: path)
            files.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        #expect(files[0] == files[1])
        #expect(files[0] != files[2])
    }

    @Test func loadedGraphAnswersLikeTheSavedOne() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let index = build()
        index.efSearch = 48
        let path = folder.file("graph.atsv")
        try index.save(to: path)
        let loaded = try HNSWIndex.load(from: path)
        #expect(loaded.efSearch == 48)
        #expect(loaded.parameters.m == 12)
        for query in Self.data.queries.prefix(30) {
            #expect(loaded.search(query, k: 10) == index.search(query, k: 10))
        }
        // An exact index's file is not an HNSW graph.
        let exact = ExactVectorIndex(dimensions: 4)
        exact.upsert(id: "a", vector: [1, 0, 0, 0])
        try exact.save(to: folder.file("exact.atsv"))
        let error = #expect(throws: VectorIndexError.self) { _ = try HNSWIndex.load(from: folder.file("exact.atsv")) }
        #expect(error?.reason == .unsupportedFormat)
    }

    @Test func removingMostIdsCompactsTheGraph() {
        let index = build(.init(m: 8, efConstruction: 40, efSearch: 64))
        for id in Self.ids.prefix(3000) { index.remove(id: id) }
        // More tombstones than live slots (and over 1,024): rebuilt without them.
        #expect(index.tombstones < 1025)
        #expect(index.count == 1000)
        let rest = Array(Self.data.rows.suffix(1000))
        let restIDs = Array(Self.ids.suffix(1000))
        let found = Self.data.queries.map { index.search($0, k: 10).map(\.id) }
        let truth = Self.data.queries.map { bruteForce(rest, ids: restIDs, query: $0, k: 10) }
        #expect(recall(found, truth) >= 0.95)
        index.compact()
        #expect(index.tombstones == 0)
        #expect(index.count == 1000)
    }
}
