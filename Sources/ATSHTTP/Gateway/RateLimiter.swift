import Synchronization

/// Token buckets keyed by API key, user or client address. One lock, no background task:
/// buckets refill lazily when touched and stale ones are dropped when the map grows.
public final class RateLimiter: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Sustained requests per second; 0 turns limiting off.
        public var ratePerSecond: Double
        public var burst: Double
        public init(ratePerSecond: Double = 50, burst: Double = 200) {
            self.ratePerSecond = ratePerSecond
            self.burst = burst
        }
    }

    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let configuration: Configuration
    let buckets = Mutex<[String: Bucket]>([:])
    let maxKeys = 50_000

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Takes one token for `key`; nil when allowed, else the seconds to wait.
    public func take(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        let rate = configuration.ratePerSecond
        guard rate > 0 else { return nil }
        let burst = max(1, configuration.burst)
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            bucket.tokens = min(burst, bucket.tokens + seconds * rate)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                if buckets.count >= maxKeys { Self.prune(&buckets, now: now, rate: rate, burst: burst) }
                buckets[key] = bucket
                return nil
            }
            buckets[key] = bucket
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }

    /// Drops buckets that would be full by now: forgetting them changes nothing.
    static func prune(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant, rate: Double, burst: Double) {
        let full = Duration.seconds(burst / rate)
        buckets = buckets.filter { now - $0.value.updated < full }
    }
}
