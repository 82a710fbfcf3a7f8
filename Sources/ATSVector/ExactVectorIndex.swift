/// Exact top-k: every vector in one contiguous float32 block, scanned with SIMD dot products
/// into a bounded heap. Memory-bound (the whole block is read per query), which is what a
/// collection of a few ten thousand vectors wants: no build cost, perfect recall, instant
/// updates. `AdaptiveVectorIndex` switches to HNSW above a size.
public final class ExactVectorIndex: VectorIndex, @unchecked Sendable {
    // @unchecked: every mutable property below is read under `lock`'s read side and written
    // under its write side.
    public let dimensions: Int
    private let lock = ReadWriteLock()
    private let rows: RowBuffer<Float>
    /// The id of each row; a removal moves the last row into the hole, so rows stay dense.
    private var ids: [String] = []
    private var slotOf: [String: Int32] = [:]

    /// An empty index for vectors of `dimensions` floats, with room for `capacity` rows.
    public init(dimensions: Int, capacity: Int = 1024) {
        precondition(dimensions > 0, "dimensions must be positive")
        self.dimensions = dimensions
        rows = RowBuffer(capacity: max(1, capacity) * dimensions)
    }

    public var count: Int { lock.withReadLock { ids.count } }

    /// Bytes held by the vectors and the id table (an estimate for the id strings).
    public var memoryBytes: Int {
        lock.withReadLock { rows.byteCount + ids.reduce(0) { $0 + 64 + $1.utf8.count } }
    }

    public func upsert(id: String, vector: [Float]) {
        precondition(vector.count == dimensions, "vector has \(vector.count) dimensions, the index \(dimensions)")
        let unit = VectorMath.normalized(vector)
        lock.withWriteLock {
            if let slot = slotOf[id] {
                let base = rows.pointer + Int(slot) * dimensions
                unit.withUnsafeBufferPointer { source in
                    if let from = source.baseAddress { base.update(from: from, count: dimensions) }
                }
            } else {
                slotOf[id] = Int32(ids.count)
                ids.append(id)
                unit.withUnsafeBufferPointer { rows.append(contentsOf: $0) }
            }
        }
    }

    public func remove(id: String) {
        lock.withWriteLock {
            guard let slot = slotOf.removeValue(forKey: id) else { return }
            let last = ids.count - 1
            if Int(slot) != last {
                (rows.pointer + Int(slot) * dimensions).update(from: rows.pointer + last * dimensions, count: dimensions)
                ids[Int(slot)] = ids[last]
                slotOf[ids[last]] = slot
            }
            ids.removeLast()
            rows.removeLast(dimensions)
        }
    }

    public func vector(for id: String) -> [Float]? {
        lock.withReadLock {
            guard let slot = slotOf[id] else { return nil }
            return Array(UnsafeBufferPointer(start: rows.pointer + Int(slot) * dimensions, count: dimensions))
        }
    }

    public func search(_ query: [Float], k: Int, allowed: Set<String>?) -> [VectorMatch] {
        precondition(query.count == dimensions, "query has \(query.count) dimensions, the index \(dimensions)")
        guard k > 0 else { return [] }
        let unit = VectorMath.normalized(query)
        return lock.withReadLock {
            var heap = ScoredHeap(lowestFirst: true, capacity: k + 1)
            let dims = dimensions
            let base = rows.pointer
            unit.withUnsafeBufferPointer { q in
                guard let q = q.baseAddress else { return }
                if let allowed {
                    var slots = allowed.compactMap { slotOf[$0] }
                    slots.sort()  // in memory order
                    for slot in slots {
                        heap.offer(VectorMath.dot(q, base + Int(slot) * dims, count: dims), slot, k: k)
                    }
                } else {
                    let total = ids.count
                    var row = 0
                    while row < total {
                        let score = VectorMath.dot(q, base + row * dims, count: dims)
                        if heap.count < k {
                            heap.push(score, Int32(row))
                        } else if score > heap.topScore {
                            heap.replaceTop(score, Int32(row))
                        }
                        row += 1
                    }
                }
            }
            return heap.sortedDescending().map { VectorMatch(id: ids[Int($0.slot)], score: $0.score) }
        }
    }

    public func save(to path: String) throws {
        try save(to: path, threshold: 0, parameters: .init())
    }

    /// Writes with an adaptive index's switch-over settings in the header.
    func save(to path: String, threshold: Int, parameters: HNSWIndex.Parameters) throws {
        try lock.withReadLock {
            let contents = VectorFile.Contents(
                kind: .exact, dimensions: dimensions, threshold: threshold, parameters: parameters,
                ids: ids.map { Optional($0) }, rows: rows, graph: nil)
            try VectorFile.write(contents, to: path)
        }
    }

    /// Reads an index written by `save(to:)` (an HNSW file's vectors load too, without the graph).
    public static func load(from path: String) throws -> ExactVectorIndex {
        let contents = try VectorFile.read(from: path)
        return ExactVectorIndex(contents: contents)
    }

    /// Builds from decoded file contents (live rows only).
    init(contents: VectorFile.Contents) {
        dimensions = contents.dimensions
        let live = contents.ids.reduce(0) { $0 + ($1 == nil ? 0 : 1) }
        rows = RowBuffer(capacity: max(1, live) * contents.dimensions)
        for (slot, id) in contents.ids.enumerated() {
            guard let id else { continue }
            slotOf[id] = Int32(ids.count)
            ids.append(id)
            rows.append(contentsOf: UnsafeBufferPointer(start: contents.rows.pointer + slot * dimensions, count: dimensions))
        }
    }

    /// Every (id, vector) pair, for building another index from this one.
    func snapshot() -> (ids: [String], rows: [Float]) {
        lock.withReadLock {
            (ids, Array(UnsafeBufferPointer(start: rows.pointer, count: ids.count * dimensions)))
        }
    }
}
