/// A cache's counters since it started and its current size: exact, cheap to read, and what
/// /metrics exports (counters only grow; `entries`, `bytes` and the budgets are gauges).
public struct CacheFigures: Sendable, Equatable {
    /// get/fetch found a fresh (or served-stale) value.
    public var hits: Int
    /// get/fetch found nothing usable (waiters on another caller's load included).
    public var misses: Int
    /// Entries removed by the LRU to respect the budgets.
    public var evictions: Int
    /// Entries removed because their TTL passed (lazily, on access or at the LRU tail).
    public var expirations: Int
    /// Loader runs (fetch), including background refreshes.
    public var loads: Int
    /// Loader runs that threw.
    public var loadFailures: Int
    /// XFetch refreshes started before expiry.
    public var earlyRefreshes: Int
    /// Values served after expiry while a refresh ran.
    public var staleServed: Int
    /// Callers that waited on another caller's load instead of running the loader.
    public var coalesced: Int
    /// Entries held now.
    public var entries: Int
    /// Accounted bytes held now (key + value + a fixed per-entry overhead).
    public var bytes: Int
    public var maxBytes: Int
    public var maxEntries: Int

    public init(
        hits: Int = 0, misses: Int = 0, evictions: Int = 0, expirations: Int = 0, loads: Int = 0,
        loadFailures: Int = 0, earlyRefreshes: Int = 0, staleServed: Int = 0, coalesced: Int = 0,
        entries: Int = 0, bytes: Int = 0, maxBytes: Int = 0, maxEntries: Int = 0
    ) {
        self.hits = hits
        self.misses = misses
        self.evictions = evictions
        self.expirations = expirations
        self.loads = loads
        self.loadFailures = loadFailures
        self.earlyRefreshes = earlyRefreshes
        self.staleServed = staleServed
        self.coalesced = coalesced
        self.entries = entries
        self.bytes = bytes
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
    }

    /// The share of lookups that found a usable value (0 when there were none).
    public var hitRatio: Double {
        let lookups = hits + misses
        return lookups == 0 ? 0 : Double(hits) / Double(lookups)
    }

    /// Adds the counters and sizes of `other` (one shard's figures into the whole cache's).
    mutating func add(_ other: CacheFigures) {
        hits += other.hits
        misses += other.misses
        evictions += other.evictions
        expirations += other.expirations
        loads += other.loads
        loadFailures += other.loadFailures
        earlyRefreshes += other.earlyRefreshes
        staleServed += other.staleServed
        coalesced += other.coalesced
        entries += other.entries
        bytes += other.bytes
        maxBytes += other.maxBytes
        maxEntries += other.maxEntries
    }
}
