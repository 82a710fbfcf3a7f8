import ATSVector
import Foundation

/// Clustered vectors from a seed: `clusters` random unit centres, each point a centre plus
/// Gaussian noise, normalized. Uniform random vectors are a poor test for HNSW (every point
/// is almost equidistant); real embeddings cluster.
struct ClusteredVectors {
    var rows: [[Float]]
    var queries: [[Float]]

    init(count: Int, queries queryCount: Int, dimensions: Int, clusters: Int = 40, noise: Double = 0.6, seed: UInt64 = 7) {
        var random = SplitMix64(seed: seed)
        let centres: [[Float]] = (0..<clusters).map { _ in
            VectorMath.normalized((0..<dimensions).map { _ in Float(random.nextGaussian()) })
        }
        func point() -> [Float] {
            let centre = centres[Int(random.next() % UInt64(clusters))]
            let scale = Float(noise / Double(dimensions).squareRoot())
            return VectorMath.normalized(centre.map { $0 + scale * Float(random.nextGaussian()) })
        }
        rows = (0..<count).map { _ in point() }
        queries = (0..<queryCount).map { _ in point() }
    }
}

/// The exact top k ids by brute force, for checking the indexes.
func bruteForce(_ rows: [[Float]], ids: [String], query: [Float], k: Int, allowed: Set<String>? = nil) -> [String] {
    let unit = VectorMath.normalized(query)
    var scored: [(id: String, score: Float)] = []
    for (id, row) in zip(ids, rows) where allowed?.contains(id) ?? true {
        scored.append((id, VectorMath.dot(unit, row)))
    }
    scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
    return scored.prefix(k).map(\.id)
}

/// Recall@k of `found` against `truth`, averaged.
func recall(_ found: [[String]], _ truth: [[String]]) -> Double {
    var hits = 0
    var total = 0
    for (got, expected) in zip(found, truth) {
        hits += Set(got).intersection(expected).count
        total += expected.count
    }
    return total == 0 ? 1 : Double(hits) / Double(total)
}

/// A fresh path in a temporary folder, removed by `cleanUp`.
struct TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "ats-vector-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

/// The three index types, for the conformance suite.
enum IndexKind: String, CaseIterable, CustomStringConvertible, Sendable {
    case exact
    case hnsw
    /// Switches to HNSW at 50 vectors, so the suite exercises both of its states.
    case adaptive

    var description: String { rawValue }

    func make(dimensions: Int) -> any VectorIndex {
        switch self {
        case .exact: ExactVectorIndex(dimensions: dimensions)
        case .hnsw: HNSWIndex(dimensions: dimensions, parameters: .init(m: 8, efConstruction: 64, efSearch: 64))
        case .adaptive:
            AdaptiveVectorIndex(dimensions: dimensions, threshold: 50, parameters: .init(m: 8, efConstruction: 64, efSearch: 64))
        }
    }

    func load(_ path: String) throws -> any VectorIndex {
        switch self {
        case .exact: try ExactVectorIndex.load(from: path)
        case .hnsw: try HNSWIndex.load(from: path)
        case .adaptive: try AdaptiveVectorIndex.load(from: path)
        }
    }
}
