/// The distinct terms of one kind's index, for typo tolerance: given a query term, the terms
/// within Meilisearch's edit budget (1 edit from 5 characters, 2 from 9). Terms live in flat
/// arrays bucketed by length; a 64-bit character-set mask per term rejects most of a bucket
/// with two popcounts before the bounded Damerau-Levenshtein (optimal string alignment) runs.
struct Vocabulary: Sendable {
    /// Terms shorter or longer than this never take part (5 - 2 and a sane word length).
    static let lengths = 3...40

    private var scalars: [UInt32] = []
    private var starts: [Int32] = []
    private var masks: [UInt64] = []
    private var frequencies: [Int32] = []
    private var ids: [String: Int32] = [:]
    private var buckets: [[Int32]] = Array(repeating: [], count: lengths.upperBound + 1)
    private var terms: [String] = []
    /// Every term's id in term order, for prefix questions.
    private var sorted: [Int32] = []

    var count: Int { terms.count }
    /// Terms that take part in corrections.
    var correctableCount: Int { buckets.reduce(0) { $0 + $1.count } }

    /// The typo budget for a term of `length` characters.
    static func allowedEdits(length: Int) -> Int {
        length >= 9 ? 2 : (length >= 5 ? 1 : 0)
    }

    func contains(_ term: String) -> Bool { ids[term] != nil }

    /// Adds `term` (folded), or raises its document frequency. Every term answers prefix
    /// questions; only words of `lengths` that are not numbers take part in corrections.
    mutating func add(_ term: String, frequency: Int = 1) {
        if let id = ids[term] {
            frequencies[Int(id)] &+= Int32(clamping: frequency)
            return
        }
        let units = term.unicodeScalars.map(\.value)
        let id = Int32(terms.count)
        ids[term] = id
        terms.append(term)
        starts.append(Int32(scalars.count))
        frequencies.append(Int32(clamping: frequency))
        let position = lowerBound(term)
        if position == sorted.count { sorted.append(id) } else { sorted.insert(id, at: position) }
        guard Self.lengths.contains(units.count), !units.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            masks.append(0)
            return
        }
        scalars.append(contentsOf: units)
        masks.append(Self.mask(units))
        buckets[units.count].append(id)
    }

    /// True when some term other than `prefix` itself starts with it: only then does a prefix
    /// search find more than the word.
    func hasCompletions(_ prefix: String) -> Bool {
        var index = lowerBound(prefix)
        while index < sorted.count {
            let term = terms[Int(sorted[index])]
            guard term.hasPrefix(prefix) else { return false }
            if term != prefix { return true }
            index += 1
        }
        return false
    }

    private func lowerBound(_ term: String) -> Int {
        // Loading from fts5vocab appends in order: check the end first.
        if let last = sorted.last, terms[Int(last)] < term { return sorted.count }
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if terms[Int(sorted[mid])] < term { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// One correction: a vocabulary term, its distance and how many documents hold it.
    struct Candidate: Sendable, Hashable {
        var term: String
        var distance: Int
        var frequency: Int
    }

    /// The terms other than `term` within its edit budget, closest then most frequent first.
    func corrections(for term: String, limit: Int = 8) -> [Candidate] {
        let query = term.unicodeScalars.map(\.value)
        let budget = Self.allowedEdits(length: query.count)
        guard budget > 0, !query.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return [] }
        let queryMask = Self.mask(query)
        var found: [Candidate] = []
        let low = max(Self.lengths.lowerBound, query.count - budget)
        let high = min(Self.lengths.upperBound, query.count + budget)
        guard low <= high else { return [] }
        // One scratch buffer of three DP rows, owned here and addressed by integer offsets.
        // Three `[Int]` rows made by copying one array shared a single copy-on-write buffer;
        // passed `inout` from inside this closure, `-O` wrote through all three at once (the
        // rows aliased, every distance exceeded the budget, and release builds corrected
        // nothing). An explicit buffer leaves no copy-on-write to get wrong.
        let stride = Self.lengths.upperBound + 1
        var scratch = [Int](repeating: 0, count: 3 * stride)
        query.withUnsafeBufferPointer { query in
            scratch.withUnsafeMutableBufferPointer { scratch in
                scalars.withUnsafeBufferPointer { all in
                    for length in low...high {
                        for id in buckets[length] {
                            let m = masks[Int(id)]
                            guard (queryMask & ~m).nonzeroBitCount <= budget,
                                (m & ~queryMask).nonzeroBitCount <= budget
                            else { continue }
                            let start = Int(starts[Int(id)])
                            let candidate = UnsafeBufferPointer(rebasing: all[start..<(start + length)])
                            let distance = Self.distance(query, candidate, budget: budget, scratch: scratch)
                            if distance > 0, distance <= budget {
                                found.append(Candidate(
                                    term: terms[Int(id)], distance: distance,
                                    frequency: Int(frequencies[Int(id)])))
                            }
                        }
                    }
                }
            }
        }
        found.sort { a, b in
            if a.distance != b.distance { return a.distance < b.distance }
            if a.frequency != b.frequency { return a.frequency > b.frequency }
            return a.term < b.term
        }
        return Array(found.prefix(limit))
    }

    /// Character-set bits: a-z and 0-9 exactly, anything else hashed into the remaining bits.
    static func mask(_ units: [UInt32]) -> UInt64 {
        var mask: UInt64 = 0
        for u in units {
            let bit: UInt32 =
                switch u {
                case 97...122: u - 97
                case 48...57: u - 48 + 26
                default: 36 + u % 28
                }
            mask |= 1 << UInt64(bit)
        }
        return mask
    }

    /// Optimal-string-alignment distance (adjacent transpositions count 1), or budget + 1 as
    /// soon as every cell of a row exceeds the budget. `scratch` holds three rows of
    /// `b.count + 1` cells (at least `3 * (b.count + 1)`); the rows rotate by offset, so
    /// nothing is copied or swapped between iterations.
    static func distance(
        _ a: UnsafeBufferPointer<UInt32>, _ b: UnsafeBufferPointer<UInt32>, budget: Int,
        scratch: UnsafeMutableBufferPointer<Int>
    ) -> Int {
        let n = a.count
        let m = b.count
        if abs(n - m) > budget { return budget + 1 }
        if n == 0 { return m }
        let row = m + 1
        precondition(scratch.count >= 3 * row, "distance scratch too small")
        var before = 0
        var previous = row
        var current = 2 * row
        for j in 0...m { scratch[previous + j] = j }
        for i in 1...n {
            scratch[current] = i
            var rowMinimum = i
            let ai = a[i - 1]
            if m > 0 {
                for j in 1...m {
                    let cost = ai == b[j - 1] ? 0 : 1
                    var value = min(
                        scratch[previous + j] + 1, scratch[current + j - 1] + 1,
                        scratch[previous + j - 1] + cost)
                    if i > 1, j > 1, ai == b[j - 2], a[i - 2] == b[j - 1] {
                        value = min(value, scratch[before + j - 2] + 1)
                    }
                    scratch[current + j] = value
                    rowMinimum = min(rowMinimum, value)
                }
            }
            if rowMinimum > budget { return budget + 1 }
            (before, previous, current) = (previous, current, before)
        }
        return min(scratch[previous + m], budget + 1)
    }

    /// Convenience for tests: the distance between two strings, capped at `budget + 1`.
    static func distance(_ a: String, _ b: String, budget: Int) -> Int {
        let left = a.unicodeScalars.map(\.value)
        let right = b.unicodeScalars.map(\.value)
        var scratch = [Int](repeating: 0, count: 3 * (right.count + 1))
        return left.withUnsafeBufferPointer { left in
            right.withUnsafeBufferPointer { right in
                scratch.withUnsafeMutableBufferPointer { distance(left, right, budget: budget, scratch: $0) }
            }
        }
    }
}
