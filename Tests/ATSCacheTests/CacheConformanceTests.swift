import ATSCache
import Foundation
import Testing

/// The contract of `Cache` (see its doc comment), run against every backend.
@Suite("Cache conformance")
struct CacheConformanceTests {
    @Test("get, set and delete", arguments: CacheFactory.all)
    func getSetDelete(_ factory: CacheFactory) async throws {
        try await withCache(factory) { cache in
            #expect(try await cache.get("a") == nil)
            try await cache.set("a", bytes("one"), ttl: nil)
            #expect(try await cache.get("a") == bytes("one"))
            try await cache.set("a", bytes("two"))
            #expect(try await cache.get("a") == bytes("two"))
            try await cache.set("b", [], ttl: .seconds(60))
            #expect(try await cache.get("b") == [])
            #expect(try await cache.delete("a"))
            #expect(try await cache.delete("a") == false)
            #expect(try await cache.get("a") == nil)
            #expect(try await cache.get("b") == [])
            #expect(try await cache.delete("never") == false)
            // Keys are exact: no normalization, any UTF-8.
            try await cache.set("Ünïcode key/with:separators", bytes("x"))
            #expect(try await cache.get("Ünïcode key/with:separators") == bytes("x"))
            #expect(try await cache.get("unicode key/with:separators") == nil)
        }
    }

    @Test("a value is gone once its TTL has passed; no TTL means no expiry", arguments: CacheFactory.all)
    func ttlExpiry(_ factory: CacheFactory) async throws {
        try await withCache(factory) { cache in
            try await cache.set("short", bytes("s"), ttl: .milliseconds(150))
            try await cache.set("long", bytes("l"), ttl: .seconds(60))
            try await cache.set("forever", bytes("f"), ttl: nil)
            #expect(try await cache.get("short") == bytes("s"))
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await cache.get("short") == nil)
            #expect(try await cache.delete("short") == false)
            #expect(try await cache.get("long") == bytes("l"))
            #expect(try await cache.get("forever") == bytes("f"))
            // A non-positive TTL stores nothing and removes the older value.
            try await cache.set("forever", bytes("g"), ttl: .zero)
            #expect(try await cache.get("forever") == nil)
        }
    }

    @Test("generations start at a random value and bump by one", arguments: CacheFactory.all)
    func generations(_ factory: CacheFactory) async throws {
        try await withCache(factory) { cache in
            let first = try await cache.generation("gen:a")
            #expect(try await cache.generation("gen:a") == first)
            let other = try await cache.generation("gen:b")
            // Random starts: two keys (or two restarts) practically never share one.
            #expect(other != first)
            var previous = first
            for _ in 0..<100 {
                let next = try await cache.bumpGeneration("gen:a")
                #expect(next == previous + 1)
                previous = next
            }
            #expect(try await cache.generation("gen:a") == first + 100)
            // Bumping an absent generation creates it at a random start, then bumps.
            let fresh = try await cache.bumpGeneration("gen:c")
            #expect(try await cache.generation("gen:c") == fresh)
            #expect(fresh != first && fresh != other)
            // Generations do not live in the key space of values.
            #expect(try await cache.get("gen:a") == nil)
        }
    }

    @Test("generations survive eviction pressure and TTLs", arguments: CacheFactory.all)
    func generationsUnderPressure(_ factory: CacheFactory) async throws {
        try await withCache(factory, maxBytes: 64 << 10) { cache in
            let start = try await cache.generation("gen:org1")
            let bumped = try await cache.bumpGeneration("gen:org2")
            let value = [UInt8](repeating: 7, count: 1000)
            for i in 0..<1000 {
                try await cache.set("filler:\(i)", value, ttl: .milliseconds(50))
            }
            // 1 MB written into a 64 KiB cache: most fillers are gone, the generations are not.
            #expect(try await cache.get("filler:0") == nil)
            #expect(cache.figures.evictions + cache.figures.expirations > 0)
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await cache.generation("gen:org1") == start)
            #expect(try await cache.generation("gen:org2") == bumped)
            #expect(try await cache.bumpGeneration("gen:org1") == start + 1)
        }
    }

    @Test("100 concurrent fetches of a missing key run the loader once", arguments: CacheFactory.all)
    func singleFlight(_ factory: CacheFactory) async throws {
        try await withCache(factory) { cache in
            let gate = Gate()
            let runs = Counter()
            let before = cache.figures
            let results = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        try await cache.fetch("hot", ttl: .seconds(60)) {
                            runs.increment()
                            await gate.wait()
                            return bytes("loaded")
                        }
                    }
                }
                // Open the gate once every other caller is waiting on the first one's load.
                let joined = await eventually { cache.figures.coalesced - before.coalesced >= 99 }
                gate.open()
                #expect(joined)
                var results: [[UInt8]?] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(results.count == 100)
            #expect(results.allSatisfy { $0 == bytes("loaded") })
            #expect(runs.value == 1)
            let after = cache.figures
            #expect(after.loads - before.loads == 1)
            #expect(after.coalesced - before.coalesced == 99)
            #expect(after.misses - before.misses == 100)
            // Now cached: the loader does not run again.
            let again = try await cache.fetch("hot", ttl: .seconds(60)) {
                runs.increment()
                return bytes("again")
            }
            #expect(again == bytes("loaded"))
            #expect(runs.value == 1)
            #expect(try await cache.get("hot") == bytes("loaded"))
        }
    }

    @Test("a loader error reaches every waiter and is not cached", arguments: CacheFactory.all)
    func loaderErrorNotCached(_ factory: CacheFactory) async throws {
        try await withCache(factory) { cache in
            let gate = Gate()
            let runs = Counter()
            let before = cache.figures
            let failures = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        do {
                            _ = try await cache.fetch("broken", ttl: .seconds(60)) {
                                runs.increment()
                                await gate.wait()
                                throw LoaderFailure()
                            }
                            return false
                        } catch {
                            return error is LoaderFailure
                        }
                    }
                }
                _ = await eventually { cache.figures.coalesced - before.coalesced >= 9 }
                gate.open()
                var failures = 0
                for await failed in group where failed { failures += 1 }
                return failures
            }
            #expect(failures == 10)
            #expect(runs.value == 1)
            #expect(cache.figures.loadFailures - before.loadFailures == 1)
            #expect(try await cache.get("broken") == nil)
            // The next fetch runs the loader again.
            let value = try await cache.fetch("broken", ttl: .seconds(60)) {
                runs.increment()
                return bytes("fixed")
            }
            #expect(value == bytes("fixed"))
            #expect(runs.value == 2)
        }
    }

    @Test("nil from the loader is returned, not cached", arguments: CacheFactory.all)
    func nilNotCached(_ factory: CacheFactory) async throws {
        try await withCache(factory) { cache in
            let runs = Counter()
            for expected in 1...3 {
                let value = try await cache.fetch("absent", ttl: .seconds(60)) {
                    runs.increment()
                    return nil
                }
                #expect(value == nil)
                #expect(runs.value == expected)
            }
            #expect(try await cache.get("absent") == nil)
            #expect(cache.figures.entries == 0)
        }
    }

    @Test("a set during a load keeps the load's older result out of the cache", arguments: CacheFactory.all)
    func writeDuringLoad(_ factory: CacheFactory) async throws {
        try await withCache(factory) { cache in
            let gate = Gate()
            let started = Counter()
            async let loaded = cache.fetch("row", ttl: .seconds(60)) {
                started.increment()
                await gate.wait()
                return bytes("read before the write")
            }
            #expect(await eventually { started.value == 1 })
            try await cache.set("row", bytes("written"), ttl: .seconds(60))
            gate.open()
            #expect(try await loaded == bytes("read before the write"))
            #expect(try await cache.get("row") == bytes("written"))

            // The same for a delete: the next fetch loads afresh.
            let gate2 = Gate()
            async let second = cache.fetch("row2", ttl: .seconds(60)) {
                started.increment()
                await gate2.wait()
                return bytes("stale")
            }
            #expect(await eventually { started.value == 2 })
            try await cache.delete("row2")
            gate2.open()
            #expect(try await second == bytes("stale"))
            #expect(try await cache.get("row2") == nil)
        }
    }

    @Test("removeAll removes entries and generations", arguments: CacheFactory.all)
    func removeAll(_ factory: CacheFactory) async throws {
        try await withCache(factory) { cache in
            for i in 0..<50 { try await cache.set("k\(i)", bytes("v\(i)"), ttl: nil) }
            let generation = try await cache.generation("gen")
            #expect(cache.figures.entries == 50)
            try await cache.removeAll()
            for i in 0..<50 { #expect(try await cache.get("k\(i)") == nil) }
            #expect(cache.figures.entries == 0)
            #expect(cache.figures.bytes == 0)
            #expect(try await cache.generation("gen") != generation)
            // Still usable.
            try await cache.set("k0", bytes("again"))
            #expect(try await cache.get("k0") == bytes("again"))
        }
    }
}
