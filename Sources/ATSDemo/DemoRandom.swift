/// SplitMix64: seeds the main generator, so nearby seeds give unrelated streams.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256**: the demo's seeded generator. Every draw goes through the helpers below (never the
/// standard library's `random(in:)`, whose algorithm may change), so a seed means the same agency
/// on every platform and toolchain.
struct DemoRandom: RandomNumberGenerator {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// One independent stream per phase (`stream`), so adding candidates leaves clients and jobs as they were.
    init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
    }

    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A number in `0..<bound` (Lemire's multiply-shift; the bias is far below what a demo can show).
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    mutating func int64(_ range: ClosedRange<Int64>) -> Int64 {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int64(bitPattern: next()) }
        return range.lowerBound + Int64(next().multipliedFullWidth(by: span).high)
    }

    /// A double in `[0, 1)`.
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    mutating func chance(_ probability: Double) -> Bool { unit() < probability }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// `count` distinct items in a random order (fewer when `items` has fewer).
    mutating func sample<T>(_ items: [T], _ count: Int) -> [T] {
        let count = min(count, items.count)
        guard count > 0 else { return [] }
        var indices = Array(items.indices)
        var result: [T] = []
        result.reserveCapacity(count)
        for position in 0..<count {
            let swapWith = position + below(indices.count - position)
            indices.swapAt(position, swapWith)
            result.append(items[indices[position]])
        }
        return result
    }

    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for position in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(position, below(position + 1))
        }
    }
}

/// Picks an index with probability proportional to its weight.
struct WeightedTable: Sendable {
    private let cumulative: [Int]
    let total: Int

    init(_ weights: [Int]) {
        var running = 0
        cumulative = weights.map { weight in
            running += max(0, weight)
            return running
        }
        total = running
    }

    var isEmpty: Bool { total == 0 }

    func pick(_ random: inout DemoRandom) -> Int {
        precondition(total > 0, "empty weighted table")
        let target = random.below(total)
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] > target { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
