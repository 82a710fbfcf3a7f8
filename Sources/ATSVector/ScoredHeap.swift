/// A binary heap of (score, slot) pairs, the top being the lowest score (`lowestFirst`) or the
/// highest. Bounded top-k keeps the lowest on top and replaces it; HNSW's candidate queue keeps
/// the highest on top.
struct ScoredHeap {
    private(set) var scores: [Float] = []
    private(set) var slots: [Int32] = []
    let lowestFirst: Bool

    init(lowestFirst: Bool, capacity: Int = 0) {
        self.lowestFirst = lowestFirst
        scores.reserveCapacity(capacity)
        slots.reserveCapacity(capacity)
    }

    var count: Int { scores.count }
    var isEmpty: Bool { scores.isEmpty }
    var topScore: Float { scores[0] }
    var topSlot: Int32 { slots[0] }

    @inline(__always)
    private func before(_ a: Float, _ b: Float) -> Bool { lowestFirst ? a < b : a > b }

    mutating func push(_ score: Float, _ slot: Int32) {
        scores.append(score)
        slots.append(slot)
        var child = scores.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(scores[child], scores[parent]) else { break }
            scores.swapAt(child, parent)
            slots.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> (score: Float, slot: Int32) {
        let top = (scores[0], slots[0])
        let lastScore = scores.removeLast()
        let lastSlot = slots.removeLast()
        if !scores.isEmpty {
            scores[0] = lastScore
            slots[0] = lastSlot
            siftDown(0)
        }
        return top
    }

    /// Replaces the top with a new pair (cheaper than pop + push).
    mutating func replaceTop(_ score: Float, _ slot: Int32) {
        scores[0] = score
        slots[0] = slot
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = scores.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            var best = left
            let right = left + 1
            if right < count, before(scores[right], scores[left]) { best = right }
            guard before(scores[best], scores[parent]) else { return }
            scores.swapAt(best, parent)
            slots.swapAt(best, parent)
            parent = best
        }
    }

    /// Keeps the `k` highest scores seen (call on a `lowestFirst` heap).
    @inline(__always)
    mutating func offer(_ score: Float, _ slot: Int32, k: Int) {
        if scores.count < k {
            push(score, slot)
        } else if score > scores[0] {
            replaceTop(score, slot)
        }
    }

    /// The pairs, highest score first (ties by slot, for determinism).
    func sortedDescending() -> [(score: Float, slot: Int32)] {
        zip(scores, slots).map { (score: $0, slot: $1) }.sorted {
            $0.score != $1.score ? $0.score > $1.score : $0.slot < $1.slot
        }
    }
}
