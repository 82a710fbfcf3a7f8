import ATSVector
import ArgumentParser
import Foundation

/// `ats vector-bench`: the vector index on generated clustered vectors, so `make bench`
/// (Tests/bench/sections/55-vectors.sh) can print it beside hnswlib/usearch and numpy on the
/// very same files. Writes DIR/vectors.f32 and DIR/queries.f32 (raw little-endian float32,
/// row-major) and DIR/truth.i32 (the exact top 10 row indices per query, int32), then prints
/// `vector-bench <name> <metric> <value>` lines: build seconds, memory bytes, single-thread
/// queries/s, recall@10, exact GB/s scanned, save and load seconds.
///
/// The data: `count / 100` cluster centres on the unit sphere; each vector is a centre plus a
/// point of a shared 24-dimensional subspace plus a little isotropic noise, normalized. Real
/// embeddings sit near a low-dimensional manifold like this; uniform random vectors, where
/// every point is nearly equidistant, make any HNSW look broken.
struct VectorBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vector-bench",
        abstract: "Measure the exact and HNSW vector indexes on generated clustered vectors.",
        shouldDisplay: false)

    @Option(help: "Vectors in the index.") var count: Int = 100_000
    @Option(help: "Dimensions per vector.") var dimensions: Int = 384
    @Option(help: "Queries (recall and queries/s are measured over all of them).") var queries: Int = 1000
    @Option(help: "HNSW links per node (M).") var m: Int = 16
    @Option(name: .customLong("ef-construction"), help: "HNSW beam width while building.") var efConstruction: Int = 200
    @Option(name: .customLong("ef-search"), help: "HNSW beam width while searching.") var efSearch: Int = 64
    @Option(help: "Also measure these efSearch values (comma-separated; empty for none).") var sweep: String = "16,32,128"
    @Option(help: "Seed of the generated data.") var seed: UInt64 = 42
    @Option(help: "The folder for the vector, query, truth and index files.") var out: String

    func validate() throws {
        guard count > 10, dimensions > 0, queries > 0, m >= 2, efConstruction > 0, efSearch > 0 else {
            throw ValidationError("--count must exceed 10; --dimensions, --queries, --ef-* positive; --m at least 2")
        }
    }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let k = 10
        let started = Self.seconds()
        let (rows, queryRows) = generate()
        log("generated \(count) + \(queries) vectors of \(dimensions) in \(format(Self.seconds() - started)) s")
        try write(rows.flatMap { $0 }, to: "vectors.f32")
        try write(queryRows.flatMap { $0 }, to: "queries.f32")
        let ids = (0..<count).map(String.init)

        // Exact: build, truth (two tasks), then single-thread throughput on a sample.
        var mark = Self.seconds()
        let exact = ExactVectorIndex(dimensions: dimensions, capacity: count)
        for (id, row) in zip(ids, rows) { exact.upsert(id: id, vector: row) }
        report("exact", "build_seconds", Self.seconds() - mark)
        report("exact", "memory_bytes", Double(exact.memoryBytes))
        let truth = await exactTruth(exact, queryRows, k: k)
        var truthBytes: [Int32] = []
        truthBytes.reserveCapacity(queries * k)
        for row in truth { truthBytes += row.map { Int32($0) ?? -1 } }
        try write(truthBytes, to: "truth.i32")
        let sample = Array(queryRows.prefix(max(1, min(queries, 200))))
        mark = Self.seconds()
        for query in sample { _ = exact.search(query, k: k) }
        let exactSeconds = Self.seconds() - mark
        report("exact", "qps", Double(sample.count) / exactSeconds)
        report("exact", "gbps", Double(sample.count) * Double(count * dimensions * 4) / exactSeconds / 1e9)
        report("exact", "recall@10", 1)

        // HNSW: build single-threaded, then queries one at a time.
        let hnsw = HNSWIndex(dimensions: dimensions, parameters: .init(m: m, efConstruction: efConstruction, efSearch: efSearch, seed: seed))
        mark = Self.seconds()
        for (number, (id, row)) in zip(ids, rows).enumerated() {
            hnsw.upsert(id: id, vector: row)
            if number % 10_000 == 9_999 { log("hnsw: \(number + 1) inserted, \(format(Self.seconds() - mark)) s") }
        }
        report("hnsw", "build_seconds", Self.seconds() - mark)
        report("hnsw", "memory_bytes", Double(hnsw.memoryBytes))
        measure(hnsw, name: "hnsw", queryRows, truth, k: k)
        let extra = sweep.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        for ef in extra where ef != efSearch && ef > 0 {
            hnsw.efSearch = ef
            measure(hnsw, name: "hnsw-ef\(ef)", queryRows, truth, k: k)
        }
        hnsw.efSearch = efSearch

        // Filtered: 10% of the ids allowed.
        let allowed = Set(ids.enumerated().filter { $0.offset % 10 == 0 }.map(\.element))
        let filteredQueries = Array(queryRows.prefix(200))
        mark = Self.seconds()
        var filteredFound: [[String]] = []
        for query in filteredQueries { filteredFound.append(hnsw.search(query, k: k, allowed: allowed).map(\.id)) }
        let filteredSeconds = Self.seconds() - mark
        var filteredTruth: [[String]] = []
        for query in filteredQueries { filteredTruth.append(exact.search(query, k: k, allowed: allowed).map(\.id)) }
        report("hnsw-filter10pct", "qps", Double(filteredQueries.count) / filteredSeconds)
        report("hnsw-filter10pct", "recall@10", recall(filteredFound, filteredTruth))

        // Persistence.
        let path = out + "/index.atsv"
        mark = Self.seconds()
        try hnsw.save(to: path)
        report("hnsw", "save_seconds", Self.seconds() - mark)
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        report("hnsw", "file_bytes", Double(fileBytes))
        mark = Self.seconds()
        let loaded = try HNSWIndex.load(from: path)
        report("hnsw", "load_seconds", Self.seconds() - mark)
        let same = queryRows.prefix(50).allSatisfy { loaded.search($0, k: k) == hnsw.search($0, k: k) }
        if !same { log("warning: the loaded index answers differently from the saved one") }
    }

    // MARK: Measuring

    private func measure(_ index: HNSWIndex, name: String, _ queryRows: [[Float]], _ truth: [[String]], k: Int) {
        var found: [[String]] = []
        found.reserveCapacity(queryRows.count)
        let mark = Self.seconds()
        for query in queryRows { found.append(index.search(query, k: k).map(\.id)) }
        let elapsed = Self.seconds() - mark
        report(name, "qps", Double(queryRows.count) / elapsed)
        report(name, "recall@10", recall(found, truth))
    }

    private func exactTruth(_ exact: ExactVectorIndex, _ queryRows: [[Float]], k: Int) async -> [[String]] {
        let workers = 2
        return await withTaskGroup(of: (Int, [[String]]).self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var part: [[String]] = []
                    var index = worker
                    while index < queryRows.count {
                        part.append(exact.search(queryRows[index], k: k).map(\.id))
                        index += workers
                    }
                    return (worker, part)
                }
            }
            var parts = [[[String]]](repeating: [], count: workers)
            for await (worker, part) in group { parts[worker] = part }
            return (0..<queryRows.count).map { parts[$0 % workers][$0 / workers] }
        }
    }

    private func recall(_ found: [[String]], _ truth: [[String]]) -> Double {
        var hits = 0
        var total = 0
        for (got, expected) in zip(found, truth) {
            hits += Set(got).intersection(expected).count
            total += expected.count
        }
        return total == 0 ? 1 : Double(hits) / Double(total)
    }

    // MARK: Data

    private func generate() -> ([[Float]], [[Float]]) {
        var random = SplitMix64(seed: seed)
        let clusters = max(2, count / 100)
        let rank = 24
        let centres: [[Float]] = (0..<clusters).map { _ in
            VectorMath.normalized((0..<dimensions).map { _ in Float(random.nextGaussian()) })
        }
        // The shared subspace: `rank` random directions.
        let basis: [[Float]] = (0..<rank).map { _ in
            VectorMath.normalized((0..<dimensions).map { _ in Float(random.nextGaussian()) })
        }
        let spread: Float = 0.45 / Float(rank).squareRoot() * 2
        let noise: Float = 0.08 / Float(dimensions).squareRoot()
        func point() -> [Float] {
            var vector = centres[Int(random.next() % UInt64(clusters))]
            for direction in basis {
                let weight = spread * Float(random.nextGaussian())
                for index in 0..<dimensions { vector[index] += weight * direction[index] }
            }
            for index in 0..<dimensions { vector[index] += noise * Float(random.nextGaussian()) }
            return VectorMath.normalized(vector)
        }
        let rows = (0..<count).map { _ in point() }
        let queryRows = (0..<queries).map { _ in point() }
        return (rows, queryRows)
    }

    private func write<T>(_ values: [T], to name: String) throws {
        let data = values.withUnsafeBytes { Data($0) }
        try data.write(to: URL(fileURLWithPath: out + "/" + name))
    }

    // MARK: Output

    private func report(_ name: String, _ metric: String, _ value: Double) {
        let text = value == value.rounded() && abs(value) >= 1000 ? String(Int(value)) : String(format: "%.4f", value)
        // Written at once (not `print`, which a pipe buffers until exit).
        FileHandle.standardOutput.write(Data("vector-bench \(name) \(metric) \(text)\n".utf8))
    }

    private func log(_ message: String) {
        FileHandle.standardError.write(Data(("vector-bench: " + message + "\n").utf8))
    }

    private func format(_ value: Double) -> String { String(format: "%.2f", value) }

    private static func seconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
