import Synchronization

/// Approximate top-k on a hierarchical navigable small world graph: logarithmic search on
/// large collections at a recall set by `efSearch`. Updates replace in place (the slot is
/// re-linked), removals leave tombstones that later insertions reuse, and a graph with more
/// tombstones than live vectors is rebuilt. A filtered search widens its beam, or scores the
/// allowed ids exactly when there are few of them (the cheaper of the two), and falls back
/// to exact when the graph yields fewer than k allowed hits. Deterministic for a seed and an
/// insertion order.
public final class HNSWIndex: VectorIndex, @unchecked Sendable {
    // @unchecked: `graph` is read under `lock`'s read side and written under its write side;
    // the visited lists come from a Mutex pool, one per concurrent search.

    /// The graph's shape and the search width.
    public struct Parameters: Sendable, Hashable {
        /// Links per node on the upper layers (twice as many on layer 0).
        public var m: Int
        /// Beam width while inserting: higher builds slower and searches better.
        public var efConstruction: Int
        /// Beam width while searching (at least k): the recall/speed dial.
        public var efSearch: Int
        /// Seeds the level draws.
        public var seed: UInt64

        public init(m: Int = 16, efConstruction: Int = 200, efSearch: Int = 64, seed: UInt64 = 42) {
            self.m = m
            self.efConstruction = efConstruction
            self.efSearch = efSearch
            self.seed = seed
        }
    }

    public let dimensions: Int
    /// The parameters the graph was built with (`efSearch` as at creation; see `efSearch`).
    public let parameters: Parameters
    private let lock = ReadWriteLock()
    private let graph: HNSWGraph
    private let pool = Mutex<[VisitedList]>([])
    private let beam: Atomic<Int>

    public init(dimensions: Int, parameters: Parameters = .init()) {
        precondition(dimensions > 0, "dimensions must be positive")
        self.dimensions = dimensions
        self.parameters = parameters
        graph = HNSWGraph(dimensions: dimensions, parameters: parameters)
        beam = Atomic(max(1, parameters.efSearch))
    }

    init(contents: VectorFile.Contents, graph fileGraph: VectorFile.Graph) {
        dimensions = contents.dimensions
        parameters = contents.parameters
        graph = HNSWGraph(contents: contents, graph: fileGraph)
        beam = Atomic(max(1, contents.parameters.efSearch))
    }

    /// The search beam width, adjustable while serving (recall against speed).
    public var efSearch: Int {
        get { beam.load(ordering: .relaxed) }
        set { beam.store(max(1, newValue), ordering: .relaxed) }
    }

    public var count: Int { lock.withReadLock { graph.liveCount } }

    /// Bytes held by the vectors, the links and the id table (an estimate for the strings).
    public var memoryBytes: Int { lock.withReadLock { graph.memoryBytes } }

    /// Removed slots still in the graph, waiting for reuse.
    public var tombstones: Int { lock.withReadLock { graph.tombstones } }

    public func upsert(id: String, vector: [Float]) {
        precondition(vector.count == dimensions, "vector has \(vector.count) dimensions, the index \(dimensions)")
        let unit = VectorMath.normalized(vector)
        lock.withWriteLock {
            unit.withUnsafeBufferPointer { graph.upsert(id: id, vector: $0) }
        }
    }

    public func remove(id: String) {
        lock.withWriteLock { graph.remove(id: id) }
    }

    /// Rebuilds the graph from the live vectors, dropping every tombstone.
    public func compact() {
        lock.withWriteLock { graph.rebuild() }
    }

    public func vector(for id: String) -> [Float]? {
        lock.withReadLock {
            guard let slot = graph.slotOf[id] else { return nil }
            return Array(UnsafeBufferPointer(start: graph.row(slot), count: dimensions))
        }
    }

    public func search(_ query: [Float], k: Int, allowed: Set<String>?) -> [VectorMatch] {
        precondition(query.count == dimensions, "query has \(query.count) dimensions, the index \(dimensions)")
        guard k > 0 else { return [] }
        let unit = VectorMath.normalized(query)
        let ef = max(efSearch, k)
        let visited = pool.withLock { $0.popLast() } ?? VisitedList()
        defer { pool.withLock { if $0.count < 64 { $0.append(visited) } } }
        return lock.withReadLock {
            let live = graph.liveCount
            guard live > 0 else { return [] }
            let found: [(score: Float, slot: Int32)] = unit.withUnsafeBufferPointer { buffer in
                guard let query = buffer.baseAddress else { return [] }
                guard let allowed else {
                    return graph.search(query, k: k, ef: ef, mask: nil, visited: visited)
                }
                let slots = allowed.compactMap { graph.slotOf[$0] }
                // Exact costs |allowed| dot products; the graph about 20 x ef / selectivity.
                if slots.count <= k || slots.count * slots.count <= 20 * ef * live {
                    return graph.exact(query, slots: slots, k: k)
                }
                var mask = [UInt8](repeating: 0, count: graph.slots)
                for slot in slots { mask[Int(slot)] = 1 }
                let widened = slots.count * 2 < live ? ef * 2 : ef
                let hits = mask.withUnsafeBufferPointer { maskBuffer in
                    graph.search(query, k: k, ef: widened, mask: maskBuffer.baseAddress, visited: visited)
                }
                return hits.count < min(k, slots.count) ? graph.exact(query, slots: slots, k: k) : hits
            }
            return found.compactMap { pair in graph.ids[Int(pair.slot)].map { VectorMatch(id: $0, score: pair.score) } }
        }
    }

    public func save(to path: String) throws {
        try save(to: path, threshold: 0)
    }

    func save(to path: String, threshold: Int) throws {
        try lock.withReadLock {
            var parameters = self.parameters
            parameters.efSearch = efSearch
            let contents = VectorFile.Contents(
                kind: .hnsw, dimensions: dimensions, threshold: threshold, parameters: parameters,
                ids: graph.ids, rows: graph.rows, graph: graph.fileGraph())
            try VectorFile.write(contents, to: path)
        }
    }

    /// Reads an index written by `save(to:)`, graph included: no rebuild.
    public static func load(from path: String) throws -> HNSWIndex {
        let contents = try VectorFile.read(from: path)
        guard let graph = contents.graph else {
            throw VectorIndexError(.unsupportedFormat, "\(path) holds an exact index, not an HNSW graph")
        }
        return HNSWIndex(contents: contents, graph: graph)
    }
}
