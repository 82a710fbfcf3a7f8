/// SplitMix64: a few nanoseconds per number, no system call (the system generator costs a
/// `getrandom` per call on this platform, too slow for the hit path's XFetch draw). Not for
/// secrets; each shard owns one under its lock.
struct FastRandom: Sendable {
    private var state: UInt64

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform draw in (0, 1]: never 0, so its logarithm is finite.
    mutating func nextUnitInterval() -> Double {
        Double((next() >> 11) + 1) * 0x1.0p-53
    }
}
