import ATSVector
import Foundation
import Testing

/// The contract every `VectorIndex` passes (exact, HNSW, adaptive).
@Suite struct VectorIndexConformanceTests {
    static let dimensions = 24

    private func filled(_ kind: IndexKind, count: Int = 300) -> (any VectorIndex, ClusteredVectors, [String]) {
        let data = ClusteredVectors(count: count, queries: 20, dimensions: Self.dimensions, clusters: 8)
        let index = kind.make(dimensions: Self.dimensions)
        let ids = (0..<count).map { "id-\($0)" }
        for (id, row) in zip(ids, data.rows) { index.upsert(id: id, vector: row) }
        return (index, data, ids)
    }

    @Test(arguments: IndexKind.allCases)
    func searchReturnsTheNearestBestFirst(kind: IndexKind) {
        let (index, data, ids) = filled(kind)
        #expect(index.count == 300)
        #expect(index.dimensions == Self.dimensions)
        var found: [[String]] = []
        var truth: [[String]] = []
        for query in data.queries {
            let hits = index.search(query, k: 10)
            #expect(hits.count == 10)
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
            found.append(hits.map(\.id))
            truth.append(bruteForce(data.rows, ids: ids, query: query, k: 10))
        }
        #expect(recall(found, truth) >= 0.95)
        // A stored vector finds itself first, with cosine 1.
        let first = index.search(data.rows[42], k: 1)
        #expect(first.first?.id == "id-42")
        #expect(abs((first.first?.score ?? 0) - 1) < 1e-4)
    }

    @Test(arguments: IndexKind.allCases)
    func emptyAndEdgeCases(kind: IndexKind) {
        let index = kind.make(dimensions: 4)
        #expect(index.count == 0)
        #expect(index.search([1, 0, 0, 0], k: 5).isEmpty)
        index.upsert(id: "a", vector: [2, 0, 0, 0])  // normalized on the way in
        #expect(index.search([1, 0, 0, 0], k: 0).isEmpty)
        #expect(index.search([1, 0, 0, 0], k: 5) == [VectorMatch(id: "a", score: 1)])
        #expect(index.vector(for: "a") == [1, 0, 0, 0])
        #expect(index.vector(for: "b") == nil)
        index.remove(id: "a")
        index.remove(id: "a")
        #expect(index.count == 0)
        #expect(index.search([1, 0, 0, 0], k: 5).isEmpty)
        index.upsert(id: "b", vector: [0, 1, 0, 0])
        #expect(index.search([1, 0, 0, 0], k: 5).map(\.id) == ["b"])
    }

    @Test(arguments: IndexKind.allCases)
    func upsertReplacesAndRemoveForgets(kind: IndexKind) {
        let (index, data, _) = filled(kind)
        // Move id-7 onto the spot of id-100: both are now the nearest of that vector.
        index.upsert(id: "id-7", vector: data.rows[100])
        #expect(index.count == 300)
        #expect(Set(index.search(data.rows[100], k: 2).map(\.id)) == ["id-7", "id-100"])
        #expect(!index.search(data.rows[7], k: 1).contains { $0.id == "id-7" && $0.score > 0.9999 })
        index.remove(id: "id-100")
        #expect(index.count == 299)
        #expect(index.search(data.rows[100], k: 1).first?.id == "id-7")
        for id in 0..<150 { index.remove(id: "id-\(id)") }
        #expect(index.count == 150)
        let hits = index.search(data.queries[0], k: 300)
        #expect(hits.count == 150)
        #expect(hits.allSatisfy { Int($0.id.dropFirst(3)) ?? 0 >= 150 })
    }

    @Test(arguments: IndexKind.allCases)
    func filteredSearchReturnsOnlyAllowedIds(kind: IndexKind) {
        let (index, data, ids) = filled(kind)
        for allowed in [Set(ids.prefix(5)), Set(ids.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)), Set<String>()] {
            let query = data.queries[3]
            let hits = index.search(query, k: 10, allowed: allowed.union(["not-there"]))
            #expect(hits.allSatisfy { allowed.contains($0.id) })
            #expect(hits.count == min(10, allowed.count))
            let truth = bruteForce(data.rows, ids: ids, query: query, k: 10, allowed: allowed)
            #expect(recall([hits.map(\.id)], [truth]) >= 0.9)
        }
    }

    @Test(arguments: IndexKind.allCases)
    func saveAndLoadRoundTrip(kind: IndexKind) throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let (index, data, _) = filled(kind)
        index.remove(id: "id-3")
        let path = folder.file("index.atsv")
        try index.save(to: path)
        let loaded = try kind.load(path)
        #expect(loaded.count == index.count)
        #expect(loaded.dimensions == index.dimensions)
        #expect(loaded.vector(for: "id-3") == nil)
        #expect(loaded.vector(for: "id-9") == index.vector(for: "id-9"))
        for query in data.queries {
            #expect(loaded.search(query, k: 10) == index.search(query, k: 10))
        }
        // Still writable after loading.
        loaded.upsert(id: "new", vector: data.queries[0])
        #expect(loaded.search(data.queries[0], k: 1).first?.id == "new")
        // No temporary file left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["index.atsv"])
    }

    @Test(arguments: IndexKind.allCases)
    func corruptOrTruncatedFilesAreErrors(kind: IndexKind) throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let (index, _, _) = filled(kind, count: 120)
        let path = folder.file("index.atsv")
        try index.save(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var cases: [[UInt8]] = [[], Array(bytes.prefix(40)), Array(bytes.dropLast(1)), Array(bytes.prefix(bytes.count / 2)), bytes + [0]]
        for position in [9, 20, 100, bytes.count / 3, bytes.count - 20, bytes.count - 3] {
            var flipped = bytes
            flipped[position] ^= 0x5A
            cases.append(flipped)
        }
        var garbage = SplitMix64(seed: 3)
        cases.append(Array("ATSVECIX".utf8) + (0..<400).map { _ in UInt8(truncatingIfNeeded: garbage.next()) })
        for (number, corrupt) in cases.enumerated() {
            let broken = folder.file("broken-\(number)")
            try Data(corrupt).write(to: URL(fileURLWithPath: broken))
            #expect(throws: VectorIndexError.self) { _ = try kind.load(broken) }
        }
        #expect(throws: VectorIndexError.self) { _ = try kind.load(folder.file("missing")) }
    }

    @Test(arguments: IndexKind.allCases)
    func concurrentReadersWithAWriter(kind: IndexKind) async {
        let (index, data, _) = filled(kind, count: 200)
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for round in 0..<150 {
                    index.upsert(id: "extra-\(round % 40)", vector: data.queries[round % data.queries.count])
                    if round % 3 == 0 { index.remove(id: "id-\(round)") }
                }
                return true
            }
            for reader in 0..<4 {
                group.addTask {
                    var fine = true
                    for round in 0..<60 {
                        let hits = index.search(data.queries[(reader + round) % data.queries.count], k: 5)
                        fine = fine && hits.count == 5 && zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score }
                    }
                    return fine
                }
            }
            for await fine in group { #expect(fine) }
        }
        #expect(index.count == 200 - 50 + 40)
    }
}
