/// The cache tier: hot reads and search results kept close to the HTTP handlers.
///
/// Keys are plain strings that the caller builds (they carry the tenant and, for derived data,
/// a generation: see `generation(_:)`); values are opaque bytes (the caller encodes them).
///
/// Contract for every implementation (the conformance suite in `Tests/ATSCacheTests` checks it):
/// - `get` never returns a value whose TTL has passed; it counts one hit or one miss;
/// - `set` with a nil TTL keeps the value until it is deleted or evicted; a value the cache
///   will not hold (too large, non-positive TTL) removes what the key had, so a reader never
///   sees the older value after a `set`;
/// - generations are not entries: neither TTL nor eviction touches them, a new one starts at a
///   random value (a restart with a warm shared cache never reuses old derived keys), and
///   `bumpGeneration` is monotonic;
/// - `fetch` runs its loader at most once at a time per key in this process (single-flight),
///   hands the result or the error to every caller that waited for that run, caches a non-nil
///   result for `ttl` and never caches an error or nil;
/// - a `set`, `delete` or `removeAll` during a load keeps that load's result out of the cache
///   (it was read before the change), while its waiters still receive it;
/// - errors other than a loader's own are `CacheError`s; native client errors never escape.
public protocol Cache: Sendable {
    /// The bytes under `key`, or nil (missing or expired). Counts a hit or a miss.
    func get(_ key: String) async throws -> [UInt8]?
    /// Stores `value` under `key` for `ttl` (nil: no expiry; still evictable by LRU).
    func set(_ key: String, _ value: [UInt8], ttl: Duration?) async throws
    /// Removes `key`; true when it was present (and not expired).
    @discardableResult func delete(_ key: String) async throws -> Bool
    /// A generation counter (not subject to LRU eviction nor TTL). When absent it is created
    /// with a random starting value (so a restart never revisits old keys). Returns it.
    func generation(_ key: String) async throws -> UInt64
    /// Increments the generation under `key` (creating it as above) and returns the new value.
    @discardableResult func bumpGeneration(_ key: String) async throws -> UInt64
    /// Cache-aside with stampede protection: returns the cached value, or runs `loader` once
    /// per key in this process however many callers miss at the same time (single-flight),
    /// stores its result (when non-nil) for `ttl`, and returns it to every waiter. Refreshes a
    /// hot key before it expires (XFetch: probabilistic early refresh using the loader's
    /// measured duration) in the background while callers keep getting the current value, and
    /// may serve a just-expired value for a short while during one background refresh.
    /// A loader error reaches every waiter of that run and is not cached. nil from the loader
    /// means "no such thing": returned, not cached (and a cached older value is dropped).
    func fetch(
        _ key: String, ttl: Duration, loader: @escaping @Sendable () async throws -> [UInt8]?
    ) async throws -> [UInt8]?
    /// Removes everything (entries; generations too).
    func removeAll() async throws
    /// Exact counters and sizes, for /metrics.
    var figures: CacheFigures { get }
}

extension Cache {
    /// Stores `value` under `key` without expiry (it still leaves under LRU pressure).
    public func set(_ key: String, _ value: [UInt8]) async throws {
        try await set(key, value, ttl: nil)
    }
}
