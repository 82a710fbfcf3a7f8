/// The HNSW graph (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor
/// search using Hierarchical Navigable Small World graphs"): layered proximity graphs, greedy
/// descent through the sparse upper layers, a beam search of width ef on layer 0, and the
/// paper's neighbour-selection heuristic (keep a candidate only when it is closer to the new
/// node than to every neighbour already kept), which keeps clustered data navigable.
///
/// Storage is flat for the hot loop: the vectors in one float32 block, the layer-0 links in
/// one int32 block of (2M + 1) per slot (a count, then the links), the upper-layer links in
/// another block at a per-slot offset. Slots are never moved: a removal leaves a tombstone
/// (still used to navigate, never returned) and a later insertion reuses it, repairing the
/// neighbours that linked to it. Not thread-safe by itself: `HNSWIndex` guards it.
final class HNSWGraph {
    let dimensions: Int
    let m: Int
    let m0: Int
    let efConstruction: Int
    let stride0: Int
    let strideUp: Int
    private let levelFactor: Double

    let rows: RowBuffer<Float>
    let level0: RowBuffer<Int32>
    let upperLinks: RowBuffer<Int32>
    /// Per slot: the offset of its upper links in `upperLinks`, -1 for a layer-0-only slot.
    private(set) var upperOffset: [Int32] = []
    private(set) var levels: [UInt8] = []
    /// Per slot: 1 when it holds a live id, 0 for a tombstone.
    let live: RowBuffer<UInt8>
    private(set) var ids: [String?] = []
    private(set) var slotOf: [String: Int32] = [:]
    private var free: [Int32] = []
    private(set) var entryPoint: Int32 = -1
    private(set) var maxLevel = -1
    var rng: SplitMix64
    private let writerVisited = VisitedList()

    var slots: Int { ids.count }
    var liveCount: Int { slotOf.count }
    var tombstones: Int { free.count }

    init(dimensions: Int, parameters: HNSWIndex.Parameters) {
        self.dimensions = dimensions
        m = max(2, parameters.m)
        m0 = 2 * m
        efConstruction = max(parameters.efConstruction, m)
        stride0 = m0 + 1
        strideUp = m + 1
        levelFactor = 1 / _log(Double(m))
        rng = SplitMix64(seed: parameters.seed)
        rows = RowBuffer(capacity: 1024 * dimensions)
        level0 = RowBuffer(capacity: 1024 * stride0)
        upperLinks = RowBuffer(capacity: 256 * strideUp)
        live = RowBuffer(capacity: 1024)
    }

    /// Rebuilds the in-memory graph from a file's contents (already range-checked).
    init(contents: VectorFile.Contents, graph: VectorFile.Graph) {
        dimensions = contents.dimensions
        m = contents.parameters.m
        m0 = 2 * m
        efConstruction = max(contents.parameters.efConstruction, m)
        stride0 = m0 + 1
        strideUp = m + 1
        levelFactor = 1 / _log(Double(m))
        rng = SplitMix64(seed: contents.parameters.seed)
        rng.state = graph.rngState
        rows = contents.rows
        level0 = graph.level0
        upperLinks = graph.upper
        levels = graph.levels
        ids = contents.ids
        live = RowBuffer(capacity: max(1, ids.count))
        var cursor: Int32 = 0
        upperOffset.reserveCapacity(ids.count)
        for slot in 0..<ids.count {
            let level = Int(levels[slot])
            upperOffset.append(level > 0 ? cursor : -1)
            cursor += Int32(level * strideUp)
            if let id = ids[slot] {
                slotOf[id] = Int32(slot)
                live.append(repeating: 1, count: 1)
            } else {
                free.append(Int32(slot))
                live.append(repeating: 0, count: 1)
            }
        }
        entryPoint = graph.entryPoint
        maxLevel = Int(graph.maxLevel)
    }

    /// What the graph would write to a file.
    func fileGraph() -> VectorFile.Graph {
        VectorFile.Graph(
            levels: levels, level0: level0, upper: upperLinks, entryPoint: entryPoint,
            maxLevel: Int32(maxLevel), rngState: rng.state)
    }

    var memoryBytes: Int {
        rows.byteCount + level0.byteCount + upperLinks.byteCount + live.byteCount + levels.count
            + upperOffset.count * 4 + ids.reduce(0) { $0 + 64 + ($1?.utf8.count ?? 0) }
    }

    @inline(__always)
    func row(_ slot: Int32) -> UnsafeMutablePointer<Float> { rows.pointer + Int(slot) * dimensions }

    /// The links of `slot` on `level`: element 0 is the count, the links follow.
    @inline(__always)
    func links(_ slot: Int32, _ level: Int) -> UnsafeMutablePointer<Int32> {
        if level == 0 { return level0.pointer + Int(slot) * stride0 }
        return upperLinks.pointer + Int(upperOffset[Int(slot)]) + (level - 1) * strideUp
    }

    // MARK: Writing

    /// Adds or replaces `id` (the vector is already normalized).
    func upsert(id: String, vector: UnsafeBufferPointer<Float>) {
        if let existing = slotOf[id] {
            remove(slot: existing)
        }
        let slot: Int32
        let level: Int
        if let reused = free.popLast() {
            slot = reused
            level = Int(levels[Int(slot)])
            detach(slot)
            if let base = vector.baseAddress { row(slot).update(from: base, count: dimensions) }
        } else {
            slot = Int32(ids.count)
            level = min(Int(-_log(max(rng.nextUnit(), 1e-12)) * levelFactor), 30)
            rows.append(contentsOf: vector)
            level0.append(repeating: 0, count: stride0)
            levels.append(UInt8(level))
            upperOffset.append(level > 0 ? Int32(upperLinks.count) : -1)
            if level > 0 { upperLinks.append(repeating: 0, count: level * strideUp) }
            live.append(repeating: 0, count: 1)
            ids.append(nil)
        }
        insert(slot, level: level)
        ids[Int(slot)] = id
        slotOf[id] = slot
        live[Int(slot)] = 1
    }

    /// Tombstones `id`'s slot; compacts when tombstones outnumber live slots.
    func remove(id: String) {
        guard let slot = slotOf[id] else { return }
        remove(slot: slot)
        if slotOf.isEmpty {
            reset()
        } else if free.count > 1024, free.count > slotOf.count {
            rebuild()
        }
    }

    private func remove(slot: Int32) {
        if let id = ids[Int(slot)] { slotOf[id] = nil }
        ids[Int(slot)] = nil
        live[Int(slot)] = 0
        free.append(slot)
    }

    /// Empties the graph (keeps the generator's state, so runs stay deterministic).
    private func reset() {
        rows.removeAll()
        level0.removeAll()
        upperLinks.removeAll()
        live.removeAll()
        upperOffset.removeAll()
        levels.removeAll()
        ids.removeAll()
        slotOf.removeAll()
        free.removeAll()
        entryPoint = -1
        maxLevel = -1
    }

    /// Re-inserts the live vectors into a fresh graph (drops every tombstone).
    func rebuild() {
        var pairs: [(String, [Float])] = []
        pairs.reserveCapacity(slotOf.count)
        for slot in 0..<ids.count {
            guard let id = ids[slot] else { continue }
            pairs.append((id, Array(UnsafeBufferPointer(start: row(Int32(slot)), count: dimensions))))
        }
        reset()
        for (id, vector) in pairs {
            vector.withUnsafeBufferPointer { upsert(id: id, vector: $0) }
        }
    }

    /// Before a tombstoned slot takes a new vector: its neighbours forget it and pick
    /// replacements among its other neighbours; the entry point moves if it was this slot.
    private func detach(_ slot: Int32) {
        let level = Int(levels[Int(slot)])
        for layer in 0...level {
            let own = links(slot, layer)
            let count = Int(own[0])
            let former = (0..<count).map { own[1 + $0] }
            for neighbour in former where neighbour != slot && Int(levels[Int(neighbour)]) >= layer {
                let theirs = links(neighbour, layer)
                let theirCount = Int(theirs[0])
                var kept: [Int32] = []
                kept.reserveCapacity(theirCount + count)
                var linked = false
                for index in 0..<theirCount {
                    let link = theirs[1 + index]
                    if link == slot { linked = true } else { kept.append(link) }
                }
                guard linked else { continue }
                for candidate in former where candidate != neighbour && candidate != slot && !kept.contains(candidate)
                    && Int(levels[Int(candidate)]) >= layer {
                    kept.append(candidate)
                }
                let maxLinks = layer == 0 ? m0 : m
                let base = row(neighbour)
                let scored = kept.map { (score: VectorMath.dot(base, row($0), count: dimensions), slot: $0) }
                    .sorted { $0.score > $1.score }
                setLinks(neighbour, layer, selectNeighbours(scored, max: maxLinks))
            }
            own[0] = 0
        }
        if entryPoint == slot {
            var best: Int32 = -1
            var bestLevel = -1
            for other in 0..<levels.count where Int32(other) != slot && Int(levels[other]) > bestLevel {
                best = Int32(other)
                bestLevel = Int(levels[other])
            }
            entryPoint = best
            maxLevel = bestLevel
        }
    }

    /// Links `slot` (whose vector and level are in place) into every layer up to `level`.
    private func insert(_ slot: Int32, level: Int) {
        let query = UnsafePointer(row(slot))
        guard entryPoint >= 0 else {
            entryPoint = slot
            maxLevel = level
            return
        }
        var current = entryPoint
        var currentScore = VectorMath.dot(query, row(current), count: dimensions)
        if level < maxLevel {
            for layer in stride(from: maxLevel, to: level, by: -1) {
                (current, currentScore) = greedy(query, from: current, score: currentScore, level: layer, exclude: slot)
            }
        }
        for layer in stride(from: min(level, maxLevel), through: 0, by: -1) {
            let found = searchLayer(
                query, entry: current, entryScore: currentScore, ef: efConstruction, level: layer,
                mask: nil, visited: writerVisited, exclude: slot)
            let sorted = found.sortedDescending()
            let neighbours = selectNeighbours(sorted, max: m)
            setLinks(slot, layer, neighbours)
            let maxLinks = layer == 0 ? m0 : m
            for neighbour in neighbours {
                addLink(from: neighbour, to: slot, level: layer, maxLinks: maxLinks)
            }
            if let best = sorted.first {
                current = best.slot
                currentScore = best.score
            }
        }
        if level > maxLevel {
            entryPoint = slot
            maxLevel = level
        }
    }

    private func setLinks(_ slot: Int32, _ level: Int, _ neighbours: [Int32]) {
        let target = links(slot, level)
        target[0] = Int32(neighbours.count)
        for (index, neighbour) in neighbours.enumerated() { target[1 + index] = neighbour }
    }

    private func addLink(from slot: Int32, to neighbour: Int32, level: Int, maxLinks: Int) {
        let target = links(slot, level)
        let count = Int(target[0])
        for index in 0..<count where target[1 + index] == neighbour { return }
        if count < maxLinks {
            target[1 + count] = neighbour
            target[0] = Int32(count + 1)
            return
        }
        let base = row(slot)
        var scored = [(score: Float, slot: Int32)]()
        scored.reserveCapacity(count + 1)
        scored.append((VectorMath.dot(base, row(neighbour), count: dimensions), neighbour))
        for index in 0..<count {
            let link = target[1 + index]
            scored.append((VectorMath.dot(base, row(link), count: dimensions), link))
        }
        scored.sort { $0.score > $1.score }
        setLinks(slot, level, selectNeighbours(scored, max: maxLinks))
    }

    /// The heuristic of the paper (algorithm 4, without extending or keeping pruned
    /// candidates): `candidates` sorted best first by similarity to the base node.
    private func selectNeighbours(_ candidates: [(score: Float, slot: Int32)], max: Int) -> [Int32] {
        var chosen: [Int32] = []
        chosen.reserveCapacity(max)
        for candidate in candidates {
            if chosen.count >= max { break }
            let vector = row(candidate.slot)
            var keep = true
            for other in chosen where VectorMath.dot(vector, row(other), count: dimensions) > candidate.score {
                keep = false
                break
            }
            if keep { chosen.append(candidate.slot) }
        }
        return chosen
    }

    // MARK: Reading

    /// Hill-climbs one layer from `slot` towards `query`.
    @inline(__always)
    func greedy(
        _ query: UnsafePointer<Float>, from slot: Int32, score: Float, level: Int, exclude: Int32 = -1
    ) -> (Int32, Float) {
        var current = slot
        var best = score
        var changed = true
        while changed {
            changed = false
            let list = links(current, level)
            let count = Int(list[0])
            for index in 0..<count {
                let neighbour = list[1 + index]
                if neighbour == exclude { continue }
                let similarity = VectorMath.dot(query, row(neighbour), count: dimensions)
                if similarity > best {
                    best = similarity
                    current = neighbour
                    changed = true
                }
            }
        }
        return (current, best)
    }

    /// The beam search of width `ef` on one layer. Every node is traversed, but only live
    /// nodes (and, with a `mask`, only those whose byte is non-zero) enter the results.
    func searchLayer(
        _ query: UnsafePointer<Float>, entry: Int32, entryScore: Float, ef: Int, level: Int,
        mask: UnsafePointer<UInt8>?, visited: VisitedList, exclude: Int32 = -1
    ) -> ScoredHeap {
        visited.begin(slots: ids.count)
        let liveFlags = UnsafePointer(live.pointer)
        var candidates = ScoredHeap(lowestFirst: false, capacity: ef * 2)
        var results = ScoredHeap(lowestFirst: true, capacity: ef + 1)
        @inline(__always) func accepts(_ slot: Int32) -> Bool {
            slot != exclude && liveFlags[Int(slot)] != 0 && (mask.map { $0[Int(slot)] != 0 } ?? true)
        }
        _ = visited.visit(entry)
        candidates.push(entryScore, entry)
        if accepts(entry) { results.push(entryScore, entry) }
        while !candidates.isEmpty {
            let score = candidates.topScore
            if results.count >= ef, score < results.topScore { break }
            let node = candidates.topSlot
            candidates.pop()
            let list = links(node, level)
            let count = Int(list[0])
            for index in 0..<count {
                let neighbour = list[1 + index]
                guard visited.visit(neighbour) else { continue }
                let similarity = VectorMath.dot(query, row(neighbour), count: dimensions)
                if results.count < ef || similarity > results.topScore {
                    candidates.push(similarity, neighbour)
                    if accepts(neighbour) {
                        results.push(similarity, neighbour)
                        if results.count > ef { results.pop() }
                    }
                }
            }
        }
        return results
    }

    /// The best `k` live slots for `query` (with `mask`, among the masked ones), best first.
    func search(_ query: UnsafePointer<Float>, k: Int, ef: Int, mask: UnsafePointer<UInt8>?, visited: VisitedList)
        -> [(score: Float, slot: Int32)]
    {
        guard entryPoint >= 0 else { return [] }
        var current = entryPoint
        var score = VectorMath.dot(query, row(current), count: dimensions)
        if maxLevel > 0 {
            for layer in stride(from: maxLevel, to: 0, by: -1) {
                (current, score) = greedy(query, from: current, score: score, level: layer)
            }
        }
        var found = searchLayer(query, entry: current, entryScore: score, ef: max(ef, k), level: 0, mask: mask, visited: visited)
        while found.count > k { found.pop() }
        return found.sortedDescending()
    }

    /// Exact scores over the given slots (the small-filter path), best first.
    func exact(_ query: UnsafePointer<Float>, slots: [Int32], k: Int) -> [(score: Float, slot: Int32)] {
        var heap = ScoredHeap(lowestFirst: true, capacity: k + 1)
        for slot in slots.sorted() {
            heap.offer(VectorMath.dot(query, row(slot), count: dimensions), slot, k: k)
        }
        return heap.sortedDescending()
    }
}

/// A per-search visited set: a tag per slot and a generation bumped per search, so clearing
/// is free. Searches take one from a pool, so concurrent readers never share one.
final class VisitedList: @unchecked Sendable {
    // @unchecked: a list is used by one search at a time (taken from and returned to a Mutex pool).
    private let tags = RowBuffer<UInt32>(capacity: 1024)
    private var generation: UInt32 = 0

    func begin(slots: Int) {
        if tags.count < slots { tags.append(repeating: 0, count: slots - tags.count) }
        generation &+= 1
        if generation == 0 {
            tags.pointer.update(repeating: 0, count: tags.count)
            generation = 1
        }
    }

    /// Marks `slot`; true when it was not yet visited in this search.
    @inline(__always)
    func visit(_ slot: Int32) -> Bool {
        let pointer = tags.pointer + Int(slot)
        if pointer.pointee == generation { return false }
        pointer.pointee = generation
        return true
    }
}
