import Synchronization

/// Exact below `threshold` vectors (default 20,000), HNSW above; switches on upsert.
///
/// Small collections get perfect recall and free updates; large ones get logarithmic search.
/// The switch builds the graph from the exact index's vectors while searches keep running on
/// the exact index, then swaps; writes wait for it (they are serialized anyway). The index
/// stays HNSW if it later shrinks below the threshold (no flapping around it).
public final class AdaptiveVectorIndex: VectorIndex, Sendable {
    public let dimensions: Int
    /// The count at which an upsert switches to HNSW.
    public let threshold: Int
    /// The HNSW parameters used after the switch.
    public let parameters: HNSWIndex.Parameters

    private enum Backing: Sendable {
        case exact(ExactVectorIndex)
        case hnsw(HNSWIndex)

        var index: any VectorIndex {
            switch self {
            case .exact(let index): index
            case .hnsw(let index): index
            }
        }
    }

    private let backing: Mutex<Backing>
    /// Serializes writers, including the seconds an HNSW build takes at the switch.
    private let writer = Mutex<Void>(())

    public init(dimensions: Int, threshold: Int = 20_000, parameters: HNSWIndex.Parameters = .init()) {
        precondition(dimensions > 0, "dimensions must be positive")
        self.dimensions = dimensions
        self.threshold = max(1, threshold)
        self.parameters = parameters
        backing = Mutex(.exact(ExactVectorIndex(dimensions: dimensions)))
    }

    private init(dimensions: Int, threshold: Int, parameters: HNSWIndex.Parameters, current: Backing) {
        self.dimensions = dimensions
        self.threshold = threshold
        self.parameters = parameters
        backing = Mutex(current)
    }

    private var current: Backing { backing.withLock { $0 } }

    /// True once the index has switched to HNSW.
    public var isApproximate: Bool {
        if case .hnsw = current { return true }
        return false
    }

    public var count: Int { current.index.count }

    /// Bytes held by the current backing index.
    public var memoryBytes: Int {
        switch current {
        case .exact(let index): index.memoryBytes
        case .hnsw(let index): index.memoryBytes
        }
    }

    public func upsert(id: String, vector: [Float]) {
        writer.withLock { _ in
            let now = current
            now.index.upsert(id: id, vector: vector)
            guard case .exact(let exact) = now, exact.count >= threshold else { return }
            let graph = HNSWIndex(dimensions: dimensions, parameters: parameters)
            let snapshot = exact.snapshot()
            snapshot.rows.withUnsafeBufferPointer { rows in
                for (row, id) in snapshot.ids.enumerated() {
                    graph.upsert(id: id, vector: Array(rows[(row * dimensions)..<((row + 1) * dimensions)]))
                }
            }
            backing.withLock { $0 = .hnsw(graph) }
        }
    }

    public func remove(id: String) {
        writer.withLock { _ in current.index.remove(id: id) }
    }

    public func search(_ query: [Float], k: Int, allowed: Set<String>?) -> [VectorMatch] {
        current.index.search(query, k: k, allowed: allowed)
    }

    public func vector(for id: String) -> [Float]? {
        current.index.vector(for: id)
    }

    public func save(to path: String) throws {
        try writer.withLock { _ in
            switch current {
            case .exact(let index): try index.save(to: path, threshold: threshold, parameters: parameters)
            case .hnsw(let index): try index.save(to: path, threshold: threshold)
            }
        }
    }

    /// Reads a file written by any of the three indexes (an HNSW file resumes as HNSW).
    public static func load(from path: String) throws -> AdaptiveVectorIndex {
        let contents = try VectorFile.read(from: path)
        let threshold = contents.threshold > 0 ? contents.threshold : 20_000
        let current: Backing
        if let graph = contents.graph {
            current = .hnsw(HNSWIndex(contents: contents, graph: graph))
        } else {
            current = .exact(ExactVectorIndex(contents: contents))
        }
        return AdaptiveVectorIndex(
            dimensions: contents.dimensions, threshold: threshold, parameters: contents.parameters, current: current)
    }
}
