import Synchronization

/// The embedded cache: an in-process LRU bounded in bytes and entries, with TTLs,
/// generations and a single-flight `fetch` (XFetch early refresh, serve-stale).
///
/// Sharding: the keys are spread by hash over up to `Configuration.shards` shards (a power of
/// two), each with its own `Mutex`, LRU list and an equal share of both budgets, so callers on
/// different cores rarely wait for one another. The share never drops below 4 MiB or 4,096
/// entries: a small cache has fewer shards, and one of at most 8 MiB (or 8,191 entries) has one,
/// with an exact global LRU order. The budgets hold at every moment: a shard evicts from its
/// own tail before it inserts. The LRU order is per shard, so the victim is the least recently
/// used entry of the shard that needs room.
///
/// Accounting: an entry costs `key.utf8.count + value.count + entryOverhead` bytes. An entry
/// costing more than an eighth of its shard's byte budget (`maxEntryCost`) is not stored (a
/// `set` of it only removes the key's older value): one huge value must not flush the hot set.
/// Generations are not entries: they are neither counted nor evicted.
///
/// Expiry is lazy: an expired entry leaves when it is next looked up or when it reaches the
/// LRU tail, and counts as an expiration, not an eviction. An entry stored by `fetch` lingers
/// `staleFor` past its TTL, for `fetch` only (`get` reports it missing).
///
/// Loads run in their own unstructured task (not the caller's), so one caller's cancellation
/// never fails the others waiting on the same load.
public final class MemoryCache: Cache {
    /// The budgets and the refresh policy.
    public struct Configuration: Sendable {
        /// Accounted bytes at most (never exceeded). Default 256 MiB.
        public var maxBytes: Int
        /// Entries at most (never exceeded). Default 1,000,000.
        public var maxEntries: Int
        /// How long past its TTL `fetch` may serve a value while one background refresh runs.
        /// Default 5 s; zero disables serve-stale.
        public var staleFor: Duration
        /// XFetch's beta: above 1 refreshes earlier, below later. Default 1; zero disables it.
        public var earlyRefreshBeta: Double
        /// Shards at most (rounded down to a power of two); see the type's documentation.
        public var shards: Int

        public init(
            maxBytes: Int = 256 << 20, maxEntries: Int = 1_000_000, staleFor: Duration = .seconds(5),
            earlyRefreshBeta: Double = 1.0, shards: Int = 16
        ) {
            self.maxBytes = maxBytes
            self.maxEntries = maxEntries
            self.staleFor = staleFor
            self.earlyRefreshBeta = earlyRefreshBeta
            self.shards = shards
        }
    }

    /// Bytes added to each entry's key and value for the bookkeeping: the slot (72 B on 64-bit
    /// platforms) and the dictionary entry (24 B, more at low load factors). The allocator's own
    /// headers for key and value are not counted: the budget bounds what the cache holds, not
    /// the process's resident size exactly.
    public static let entryOverhead = 96

    public let configuration: Configuration
    /// How many shards the keys are spread over (see the type's documentation).
    public let shardCount: Int
    /// The largest entry cost stored: an eighth of a shard's byte budget.
    public let maxEntryCost: Int

    private final class Shard: Sendable {
        let state: Mutex<LRUShard>
        init(_ shard: LRUShard) { state = Mutex(shard) }
    }

    private let shards: [Shard]
    private let clock: any CacheClock
    private let draw: (@Sendable () -> Double)?
    private let staleNanos: UInt64

    /// - Parameters:
    ///   - clock: the time TTLs, XFetch and serve-stale follow.
    ///   - random: XFetch's uniform draws in (0, 1], for deterministic tests; nil: a fast
    ///     generator per shard.
    public init(
        configuration: Configuration = .init(), clock: some CacheClock = SystemCacheClock(),
        random: (@Sendable () -> Double)? = nil
    ) {
        self.configuration = configuration
        self.clock = clock
        self.draw = random
        self.staleNanos = configuration.staleFor.cacheNanoseconds
        let maxBytes = max(0, configuration.maxBytes)
        let maxEntries = max(0, configuration.maxEntries)
        var count = 1
        while count * 2 <= max(1, configuration.shards) { count *= 2 }
        while count > 1 && (maxBytes / count < 4 << 20 || maxEntries / count < 4096) { count /= 2 }
        shardCount = count
        maxEntryCost = (maxBytes / count) / 8
        shards = (0..<count).map { i in
            Shard(LRUShard(
                maxBytes: maxBytes / count + (i < maxBytes % count ? 1 : 0),
                maxEntries: maxEntries / count + (i < maxEntries % count ? 1 : 0),
                maxEntryCost: (maxBytes / count) / 8))
        }
    }

    private func shard(_ key: String) -> Shard {
        shardCount == 1 ? shards[0] : shards[key.hashValue & (shardCount - 1)]
    }

    /// The accounted cost of an entry.
    public static func cost(key: String, valueCount: Int) -> Int {
        key.utf8.count + valueCount + entryOverhead
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        let now = clock.now()
        return shard(key).state.withLock { $0.get(key, now: now) }
    }

    public func set(_ key: String, _ value: [UInt8], ttl: Duration?) async throws {
        let now = clock.now()
        let expiresAt = ttl.map { Self.after(now, $0.cacheNanoseconds) } ?? UInt64.max
        let cost = Self.cost(key: key, valueCount: value.count)
        shard(key).state.withLock {
            $0.set(key, value, cost: cost, expiresAt: expiresAt, staleUntil: expiresAt, loadNanos: 0, now: now)
        }
    }

    @discardableResult
    public func delete(_ key: String) async throws -> Bool {
        let now = clock.now()
        return shard(key).state.withLock { $0.delete(key, now: now) }
    }

    public func generation(_ key: String) async throws -> UInt64 {
        shard(key).state.withLock { $0.generation(key, bump: false) }
    }

    @discardableResult
    public func bumpGeneration(_ key: String) async throws -> UInt64 {
        shard(key).state.withLock { $0.generation(key, bump: true) }
    }

    public func fetch(
        _ key: String, ttl: Duration, loader: @escaping @Sendable () async throws -> [UInt8]?
    ) async throws -> [UInt8]? {
        let shard = shard(key)
        let now = clock.now()
        let beta = configuration.earlyRefreshBeta
        let step = shard.state.withLock { $0.beginFetch(key, now: now, beta: beta, draw: draw) }
        switch step {
        case .hit(let value):
            return value
        case .hitAndRefresh(let value, let flight):
            startLoad(key, ttl: ttl, loader: loader, flight: flight, shard: shard)
            return value
        case .wait(let flight):
            return try await flight.value()
        case .lead(let flight):
            startLoad(key, ttl: ttl, loader: loader, flight: flight, shard: shard)
            return try await flight.value()
        }
    }

    /// Runs the loader in a task of its own (it inherits the caller's priority and task-local
    /// values such as the trace context), records the outcome, then wakes the waiters.
    private func startLoad(
        _ key: String, ttl: Duration, loader: @escaping @Sendable () async throws -> [UInt8]?, flight: Flight,
        shard: Shard
    ) {
        let clock = self.clock
        let staleNanos = self.staleNanos
        Task {
            let start = clock.now()
            let outcome: Result<[UInt8]?, any Error>
            do {
                outcome = .success(try await loader())
            } catch {
                outcome = .failure(error)
            }
            let end = clock.now()
            let expiresAt = Self.after(end, ttl.cacheNanoseconds)
            var valueCount = 0
            if case .success(let value?) = outcome { valueCount = value.count }
            let cost = Self.cost(key: key, valueCount: valueCount)
            shard.state.withLock {
                $0.finishFetch(
                    key, flight: flight, outcome: outcome, cost: cost,
                    expiresAt: expiresAt, staleUntil: Self.after(expiresAt, staleNanos),
                    loadNanos: max(1, end &- start), now: end)
            }
            flight.finish(outcome)
        }
    }

    /// Counters keep counting across it (they feed monotonic /metrics counters).
    public func removeAll() async throws {
        for shard in shards { shard.state.withLock { $0.removeAll() } }
    }

    public var figures: CacheFigures {
        var figures = CacheFigures()
        for shard in shards { figures.add(shard.state.withLock { $0.figures }) }
        return figures
    }

    /// What is broken in any shard's bookkeeping (nil: nothing), for tests.
    func brokenInvariant() -> String? {
        for shard in shards {
            if let broken = shard.state.withLock({ $0.brokenInvariant() }) { return broken }
        }
        return nil
    }

    private static func after(_ now: UInt64, _ nanoseconds: UInt64) -> UInt64 {
        let (sum, overflow) = now.addingReportingOverflow(nanoseconds)
        return overflow ? UInt64.max - 1 : sum
    }
}
