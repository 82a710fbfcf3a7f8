@testable import ATSCache
import Foundation
import Synchronization
import Testing

/// What only the embedded cache promises: exact budgets, LRU order, exact counters, and the
/// refresh policy under a clock the test moves.
@Suite("MemoryCache")
struct MemoryCacheTests {
    static func cache(
        maxBytes: Int = 1 << 20, maxEntries: Int = 1000, staleFor: Duration = .seconds(5), beta: Double = 1,
        shards: Int = 1, clock: FakeClock = FakeClock(), random: (@Sendable () -> Double)? = nil
    ) -> MemoryCache {
        MemoryCache(
            configuration: .init(
                maxBytes: maxBytes, maxEntries: maxEntries, staleFor: staleFor, earlyRefreshBeta: beta, shards: shards),
            clock: clock, random: random)
    }

    @Test("the byte and entry budgets hold after every operation of a random workload")
    func budgetsUnderRandomWorkload() async throws {
        let clock = FakeClock()
        let cache = Self.cache(maxBytes: 48 << 10, maxEntries: 150, clock: clock)
        #expect(cache.shardCount == 1)
        var random = FastRandom(seed: 42)
        let values = (0..<16).map { [UInt8](repeating: UInt8($0), count: [0, 10, 100, 700, 2000, 6000, 7000][$0 % 7]) }
        for step in 0..<20_000 {
            let key = "key:\(random.next() % 400)"
            let value = values[Int(random.next() % UInt64(values.count))]
            switch random.next() % 10 {
            case 0...3:
                let ttl: Duration? = random.next() % 2 == 0 ? nil : .milliseconds(Int64(random.next() % 5000))
                try await cache.set(key, value, ttl: ttl)
                if value.count + key.utf8.count + MemoryCache.entryOverhead <= cache.maxEntryCost, ttl != .zero {
                    #expect(try await cache.get(key) == value)
                }
            case 4...6:
                _ = try await cache.get(key)
            case 7:
                try await cache.delete(key)
            case 8:
                _ = try await cache.fetch(key, ttl: .milliseconds(Int64(1 + random.next() % 3000))) { value }
            default:
                clock.advance(.milliseconds(Int64(random.next() % 200)))
            }
            let figures = cache.figures
            #expect(figures.bytes <= 48 << 10, "step \(step)")
            #expect(figures.entries <= 150, "step \(step)")
            if let broken = cache.brokenInvariant() {
                Issue.record("step \(step): \(broken)")
                return
            }
        }
        let figures = cache.figures
        #expect(figures.evictions > 0)
        #expect(figures.expirations > 0)
    }

    @Test("budgets hold with 16 shards too, each with its share")
    func shardedBudgets() async throws {
        let cache = MemoryCache(configuration: .init(maxBytes: 64 << 20, maxEntries: 65_536, shards: 16))
        #expect(cache.shardCount == 16)
        #expect(cache.maxEntryCost == (4 << 20) / 8)
        #expect(cache.figures.maxBytes == 64 << 20)
        #expect(cache.figures.maxEntries == 65_536)
        var random = FastRandom(seed: 7)
        let values = [1_000, 50_000, 300_000, 600_000].map { [UInt8](repeating: 1, count: $0) }
        for step in 0..<3000 {
            let value = values[Int(random.next() % 4)]
            try await cache.set("k\(random.next() % 2000)", value, ttl: nil)
            let figures = cache.figures
            #expect(figures.bytes <= 64 << 20, "step \(step)")
        }
        #expect(cache.brokenInvariant() == nil)
        #expect(cache.figures.evictions > 0)
        // A value above the shard's eighth is refused.
        try await cache.set("k0", values[3], ttl: nil)
        #expect(try await cache.get("k0") == nil)
    }

    @Test("the default configuration: 16 shards of 16 MiB, entries up to 2 MiB")
    func defaultShape() {
        let cache = MemoryCache()
        #expect(cache.shardCount == 16)
        #expect(cache.maxEntryCost == 2 << 20)
        #expect(cache.figures == CacheFigures(maxBytes: 256 << 20, maxEntries: 1_000_000))
        #expect(MemoryCache(configuration: .init(maxBytes: 8 << 20)).shardCount == 2)
        #expect(MemoryCache(configuration: .init(maxBytes: 4 << 20)).shardCount == 1)
        #expect(MemoryCache(configuration: .init(maxEntries: 8000)).shardCount == 1)
    }

    @Test("the entry budget: the oldest entries leave first")
    func entryBudget() async throws {
        let cache = Self.cache(maxEntries: 10)
        for i in 0..<25 { try await cache.set("k\(i)", bytes("v"), ttl: nil) }
        #expect(cache.figures.entries == 10)
        #expect(cache.figures.evictions == 15)
        for i in 0..<15 { #expect(try await cache.get("k\(i)") == nil) }
        for i in 15..<25 { #expect(try await cache.get("k\(i)") == bytes("v")) }
    }

    @Test("LRU order: a recently read key survives, the least recently used leaves")
    func lruOrder() async throws {
        let cache = Self.cache(maxEntries: 3)
        try await cache.set("a", bytes("1"))
        try await cache.set("b", bytes("2"))
        try await cache.set("c", bytes("3"))
        #expect(try await cache.get("a") == bytes("1"))
        try await cache.set("d", bytes("4"))
        #expect(try await cache.get("b") == nil)
        #expect(try await cache.get("a") == bytes("1"))
        // A fetch hit counts as a use too; overwriting moves a key to the front.
        _ = try await cache.fetch("c", ttl: .seconds(1)) { bytes("unused") }
        try await cache.set("d", bytes("44"))
        try await cache.set("e", bytes("5"))
        #expect(try await cache.get("a") == nil)
        #expect(try await cache.get("c") == bytes("3"))
        #expect(try await cache.get("d") == bytes("44"))
        #expect(try await cache.get("e") == bytes("5"))
        #expect(cache.figures.evictions == 2)
    }

    @Test("the byte budget: eviction frees exactly enough room, by accounted cost")
    func byteBudget() async throws {
        let entry = MemoryCache.cost(key: "k0", valueCount: 1000)
        #expect(entry == 2 + 1000 + MemoryCache.entryOverhead)
        let cache = Self.cache(maxBytes: entry * 8)
        #expect(cache.maxEntryCost == entry)
        let value = [UInt8](repeating: 1, count: 1000)
        for i in 0..<8 { try await cache.set("k\(i)", value, ttl: nil) }
        #expect(cache.figures.bytes == entry * 8)
        #expect(cache.figures.evictions == 0)
        try await cache.set("k8", value, ttl: nil)
        #expect(cache.figures.evictions == 1)
        #expect(try await cache.get("k0") == nil)
        // Smaller entries: one eviction frees room for several.
        for i in 0..<3 { try await cache.set("s\(i)", [1], ttl: nil) }
        #expect(cache.figures.evictions == 2)
        #expect(cache.figures.bytes <= entry * 8)
        // Too large for the cache: not stored, and the key's older value goes.
        try await cache.set("k8", [UInt8](repeating: 1, count: 1001), ttl: nil)
        #expect(try await cache.get("k8") == nil)
        #expect(cache.brokenInvariant() == nil)
    }

    @Test("eviction and expiration counters are exact")
    func evictionAndExpirationCounters() async throws {
        let clock = FakeClock()
        let cache = Self.cache(maxEntries: 3, staleFor: .zero, clock: clock)
        try await cache.set("a", bytes("1"), ttl: .seconds(10))
        try await cache.set("b", bytes("2"), ttl: nil)
        try await cache.set("c", bytes("3"), ttl: .seconds(100))
        clock.advance(.seconds(11))
        // The tail ("a") has expired: making room for "d" is an expiration, not an eviction.
        try await cache.set("d", bytes("4"))
        #expect(cache.figures.expirations == 1)
        #expect(cache.figures.evictions == 0)
        // The tail ("b") is live: an eviction.
        try await cache.set("e", bytes("5"))
        #expect(cache.figures.evictions == 1)
        // Lazy expiry on access: "c" expires, and get reports a miss.
        clock.advance(.seconds(100))
        #expect(try await cache.get("c") == nil)
        #expect(cache.figures.expirations == 2)
        #expect(cache.figures.entries == 2)
        // delete of an expired entry: an expiration, reported absent.
        try await cache.set("f", bytes("6"), ttl: .seconds(1))
        clock.advance(.seconds(2))
        #expect(try await cache.delete("f") == false)
        #expect(cache.figures.expirations == 3)
        #expect(cache.figures.evictions == 1)
        #expect(cache.figures.entries == 2)
        #expect(cache.brokenInvariant() == nil)
    }

    @Test("hit and miss counters are exact")
    func hitAndMissCounters() async throws {
        let clock = FakeClock()
        let cache = Self.cache(maxEntries: 100, staleFor: .zero, beta: 0, clock: clock)
        _ = try await cache.get("a")  // miss
        try await cache.set("a", bytes("1"), ttl: .seconds(5))
        _ = try await cache.get("a")  // hit
        _ = try await cache.get("a")  // hit
        _ = try await cache.fetch("a", ttl: .seconds(5)) { nil }  // hit
        _ = try await cache.fetch("b", ttl: .seconds(5)) { bytes("2") }  // miss + load
        _ = try await cache.fetch("b", ttl: .seconds(5)) { bytes("3") }  // hit
        _ = try await cache.fetch("c", ttl: .seconds(5)) { nil }  // miss + load
        _ = try? await cache.fetch("d", ttl: .seconds(5)) { throw LoaderFailure() }  // miss + failed load
        clock.advance(.seconds(6))
        _ = try await cache.get("a")  // miss (expired)
        try await cache.delete("b")
        #expect(cache.figures == CacheFigures(
            hits: 4, misses: 5, expirations: 2, loads: 3, loadFailures: 1, maxBytes: 1 << 20, maxEntries: 100))
    }

    @Test("XFetch refreshes a hot key before it expires, with one loader run, while callers get the current value")
    func earlyRefresh() async throws {
        let clock = FakeClock()
        // u = 1/e, so -ln(u) = 1: the refresh fires once the time left is at most the load time.
        let cache = Self.cache(staleFor: .zero, clock: clock, random: { exp(-1) })
        let runs = Counter()
        let first = try await cache.fetch("k", ttl: .seconds(10)) {
            runs.increment()
            clock.advance(.seconds(1))  // the loader takes 1 s
            return bytes("v1")
        }
        #expect(first == bytes("v1"))
        // 2 s before expiry: more than the 1 s load time left, no refresh.
        clock.advance(.seconds(8))
        let gate = Gate()
        let refresh: @Sendable () async throws -> [UInt8]? = {
            runs.increment()
            await gate.wait()
            return bytes("v2")
        }
        #expect(try await cache.fetch("k", ttl: .seconds(10), loader: refresh) == bytes("v1"))
        #expect(cache.figures.earlyRefreshes == 0)
        #expect(runs.value == 1)
        // 0.5 s before expiry: the refresh starts in the background; everyone keeps getting v1.
        clock.advance(.milliseconds(1500))
        for _ in 0..<20 {
            #expect(try await cache.fetch("k", ttl: .seconds(10), loader: refresh) == bytes("v1"))
        }
        #expect(cache.figures.earlyRefreshes == 1)
        #expect(await eventually { runs.value == 2 })
        gate.open()
        #expect(await eventually { cache.figures.loads == 2 })
        // Still before the old expiry: the new value is there, and no caller ever waited.
        #expect(try await cache.fetch("k", ttl: .seconds(10), loader: refresh) == bytes("v2"))
        #expect(runs.value == 2)
        let figures = cache.figures
        #expect(figures.misses == 1)
        #expect(figures.coalesced == 0)
        #expect(figures.staleServed == 0)
        #expect(figures.hits == 22)
        // Beta 0 turns XFetch off.
        let off = Self.cache(staleFor: .zero, beta: 0, clock: clock, random: { exp(-100) })
        _ = try await off.fetch("k", ttl: .seconds(10)) { clock.advance(.seconds(1)); return bytes("v1") }
        clock.advance(.milliseconds(9999))
        _ = try await off.fetch("k", ttl: .seconds(10)) { bytes("v2") }
        #expect(off.figures.earlyRefreshes == 0)
        #expect(off.figures.loads == 1)
    }

    @Test("XFetch draws: far from expiry never, near expiry sometimes, with the real generator")
    func earlyRefreshProbability() async throws {
        let clock = FakeClock()
        let cache = Self.cache(staleFor: .zero, clock: clock)
        _ = try await cache.fetch("k", ttl: .seconds(100)) { clock.advance(.seconds(1)); return bytes("v") }
        // 60 s left for a 1 s load: P(refresh) = e^-60, i.e. never.
        clock.advance(.seconds(40))
        for _ in 0..<1000 { _ = try await cache.fetch("k", ttl: .seconds(100)) { bytes("v") } }
        #expect(cache.figures.earlyRefreshes == 0)
        // 0.1 s left: P = e^-0.1 = 0.9 per call; within a few calls one refresh starts.
        clock.advance(.milliseconds(59_900))
        for _ in 0..<20 { _ = try await cache.fetch("k", ttl: .seconds(100)) { bytes("v") } }
        #expect(cache.figures.earlyRefreshes == 1)
    }

    @Test("serve-stale: a just-expired value is served during one refresh, then the new one")
    func serveStale() async throws {
        let clock = FakeClock()
        let cache = Self.cache(staleFor: .seconds(5), beta: 0, clock: clock)
        let runs = Counter()
        _ = try await cache.fetch("k", ttl: .seconds(10)) { runs.increment(); return bytes("v1") }
        clock.advance(.seconds(12))
        // get never serves stale.
        #expect(try await cache.get("k") == nil)
        let gate = Gate()
        let refresh: @Sendable () async throws -> [UInt8]? = {
            runs.increment()
            await gate.wait()
            return bytes("v2")
        }
        #expect(try await cache.fetch("k", ttl: .seconds(10), loader: refresh) == bytes("v1"))
        #expect(try await cache.fetch("k", ttl: .seconds(10), loader: refresh) == bytes("v1"))
        #expect(await eventually { runs.value == 2 })
        #expect(cache.figures.staleServed == 2)
        gate.open()
        #expect(await eventually { cache.figures.loads == 2 })
        #expect(try await cache.fetch("k", ttl: .seconds(10), loader: refresh) == bytes("v2"))
        #expect(runs.value == 2)
        // Past TTL + staleFor the value is dead: the caller waits for a load.
        clock.advance(.seconds(16))
        #expect(try await cache.fetch("k", ttl: .seconds(10)) { runs.increment(); return bytes("v3") } == bytes("v3"))
        #expect(runs.value == 3)
        let figures = cache.figures
        #expect(figures.staleServed == 2)
        #expect(figures.expirations == 1)
        #expect(figures.earlyRefreshes == 0)
        #expect(figures.misses == 3)  // the first fetch, the get, the dead value
    }

    @Test("serve-stale: a failed refresh keeps the stale value; the next caller retries")
    func staleRefreshFailure() async throws {
        let clock = FakeClock()
        let cache = Self.cache(staleFor: .seconds(5), beta: 0, clock: clock)
        _ = try await cache.fetch("k", ttl: .seconds(10)) { bytes("v1") }
        clock.advance(.seconds(11))
        let runs = Counter()
        #expect(try await cache.fetch("k", ttl: .seconds(10)) { runs.increment(); throw LoaderFailure() } == bytes("v1"))
        #expect(await eventually { cache.figures.loadFailures == 1 })
        #expect(try await cache.fetch("k", ttl: .seconds(10)) { runs.increment(); return bytes("v2") } == bytes("v1"))
        #expect(await eventually { cache.figures.loads == 3 })
        #expect(try await cache.fetch("k", ttl: .seconds(10)) { bytes("unused") } == bytes("v2"))
        #expect(runs.value == 2)
        // A refresh that finds the thing gone (nil) drops the cached value.
        clock.advance(.seconds(11))
        #expect(try await cache.fetch("k", ttl: .seconds(10)) { nil } == bytes("v2"))
        #expect(await eventually { cache.figures.entries == 0 })
        #expect(try await cache.fetch("k", ttl: .seconds(10)) { nil } == nil)
    }

    @Test("staleFor zero: an expired value is never served")
    func staleDisabled() async throws {
        let clock = FakeClock()
        let cache = Self.cache(staleFor: .zero, beta: 0, clock: clock)
        _ = try await cache.fetch("k", ttl: .seconds(10)) { bytes("v1") }
        clock.advance(.seconds(10))
        #expect(try await cache.fetch("k", ttl: .seconds(10)) { bytes("v2") } == bytes("v2"))
        #expect(cache.figures.staleServed == 0)
        #expect(cache.figures.expirations == 1)
    }

    @Test("a cancelled waiter leaves; the load completes for the others")
    func cancelledWaiter() async throws {
        let cache = Self.cache()
        let gate = Gate()
        let runs = Counter()
        let loader: @Sendable () async throws -> [UInt8]? = {
            runs.increment()
            await gate.wait()
            return bytes("v")
        }
        let leader = Task { try await cache.fetch("k", ttl: .seconds(60), loader: loader) }
        let quitter = Task { try await cache.fetch("k", ttl: .seconds(60), loader: loader) }
        let patient = Task { try await cache.fetch("k", ttl: .seconds(60), loader: loader) }
        #expect(await eventually { cache.figures.coalesced == 2 })
        quitter.cancel()
        leader.cancel()
        await #expect(throws: CancellationError.self) { try await quitter.value }
        await #expect(throws: CancellationError.self) { try await leader.value }
        gate.open()
        #expect(try await patient.value == bytes("v"))
        #expect(runs.value == 1)
        // The load was owned by no caller: it was cached although its starter left.
        #expect(try await cache.get("k") == bytes("v"))
    }

    @Test("concurrent mixed use across shards keeps the bookkeeping consistent")
    func concurrentUse() async throws {
        let cache = MemoryCache(configuration: .init(maxBytes: 32 << 20, maxEntries: 16_384, shards: 4))
        #expect(cache.shardCount == 4)
        let value = [UInt8](repeating: 3, count: 4000)
        let (gets, fetches) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var random = FastRandom(seed: UInt64(worker))
                    var gets = 0
                    var fetches = 0
                    for _ in 0..<5000 {
                        let key = "k\(random.next() % 20_000)"
                        switch random.next() % 4 {
                        case 0: try await cache.set(key, value, ttl: .seconds(30))
                        case 1:
                            _ = try await cache.get(key)
                            gets += 1
                        case 2:
                            _ = try await cache.fetch(key, ttl: .seconds(30)) { value }
                            fetches += 1
                        default: try await cache.delete(key)
                        }
                    }
                    return (gets, fetches)
                }
            }
            return try await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        }
        #expect(cache.brokenInvariant() == nil)
        let figures = cache.figures
        #expect(figures.bytes <= 32 << 20)
        // Every lookup counted exactly once; every miss either loaded or waited on a load.
        #expect(figures.hits + figures.misses == gets + fetches)
        #expect(figures.loads > 0)
        #expect(figures.loads + figures.coalesced <= fetches)
        #expect(figures.loadFailures == 0)
    }
}
