/// The time a cache sees: monotonic nanoseconds from an arbitrary origin. Injected so tests
/// can move time (TTL expiry, XFetch, serve-stale) without sleeping.
public protocol CacheClock: Sendable {
    /// Nanoseconds since this clock's origin; never goes back.
    func now() -> UInt64
}

/// The real clock: `ContinuousClock` (monotonic, unaffected by wall-clock changes).
public struct SystemCacheClock: CacheClock {
    private let origin: ContinuousClock.Instant

    public init() {
        origin = ContinuousClock.now
    }

    public func now() -> UInt64 {
        (ContinuousClock.now - origin).cacheNanoseconds
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to 0 below and to about 146 years above (no overflow when
    /// added to a clock reading).
    var cacheNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        if seconds >= 4_600_000_000 { return 4_600_000_000 * 1_000_000_000 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
