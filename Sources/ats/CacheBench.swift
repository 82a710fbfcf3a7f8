import ATSCache
import ArgumentParser
import Foundation

/// `ats cache-bench`: the embedded cache's SET and GET rates and latencies, measured the way
/// `redis-benchmark -t set,get -c CLIENTS -r KEYS` measures Redis, so `make bench`
/// (Tests/bench/sections/30-cache.sh) can print both side by side. Prints one line per
/// operation and value size: `cache-bench <op> <size> <ops_per_sec> <p50_us> <p99_us>`.
struct CacheBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache-bench",
        abstract: "Measure the in-process cache (SET, then GET, per value size).",
        shouldDisplay: false)

    @Option(help: "Value sizes in bytes, comma-separated.") var sizes: String = "100,1024,10240"
    @Option(help: "Operations per phase (SET, then GET), for each size.") var requests: Int = 1_000_000
    @Option(help: "Concurrent tasks sharing the requests.") var clients: Int = 50
    @Option(help: "Distinct keys, drawn at random (like redis-benchmark -r).") var keys: Int = 100_000

    func validate() throws {
        guard requests > 0, clients > 0, keys > 0 else {
            throw ValidationError("--requests, --clients and --keys must be positive")
        }
        guard !valueSizes.isEmpty, valueSizes.allSatisfy({ $0 >= 0 }) else {
            throw ValidationError("--sizes must be a comma-separated list of byte counts")
        }
    }

    private var valueSizes: [Int] {
        sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func run() async throws {
        // The key names redis-benchmark uses with -r (key:000000012345).
        let names = (0..<keys).map { "key:" + String(repeating: "0", count: max(0, 12 - String($0).count)) + String($0) }
        for size in valueSizes {
            // Room for every key with a margin for uneven shards, so GET measures hits, not the
            // eviction policy. The entries share 256 value buffers (the cache keeps the caller's
            // array, it copies nothing), so a large run does not need gigabytes.
            let perEntry = MemoryCache.cost(key: names[0], valueCount: size)
            let maxBytes = max(256 << 20, keys * perEntry * 2, perEntry * 8 * 16)
            let cache = MemoryCache(configuration: .init(maxBytes: maxBytes, maxEntries: max(1_000_000, keys * 2)))
            let values = (0..<256).map { _ in [UInt8](repeating: UInt8(ascii: "x"), count: size) }
            for op in [Operation.set, .get] {
                let result = try await measure(op, cache: cache, names: names, values: values)
                print("cache-bench \(op.rawValue) \(size) \(Int(result.opsPerSecond.rounded()))"
                    + " \(format(result.p50Micros)) \(format(result.p99Micros))")
            }
            let figures = cache.figures
            FileHandle.standardError.write(Data((
                "cache-bench: size \(size): \(figures.entries) entries, \(figures.bytes) accounted bytes,"
                + " GET hit ratio \(format(figures.hitRatio)), evictions \(figures.evictions)\n").utf8))
        }
    }

    enum Operation: String { case set = "SET", get = "GET" }

    struct Result {
        var opsPerSecond: Double
        var p50Micros: Double
        var p99Micros: Double
    }

    private func measure(_ op: Operation, cache: MemoryCache, names: [String], values: [[UInt8]]) async throws -> Result {
        let clients = min(self.clients, requests)
        let start = Self.nanoseconds()
        let latencies = try await withThrowingTaskGroup(of: [UInt32].self) { group in
            for client in 0..<clients {
                let share = requests / clients + (client < requests % clients ? 1 : 0)
                group.addTask {
                    var random = SplitMix(seed: UInt64.random(in: .min ... .max))
                    var latencies = [UInt32]()
                    latencies.reserveCapacity(share)
                    for i in 0..<share {
                        let index = Int(random.next() % UInt64(names.count))
                        let key = names[index]
                        let before = Self.nanoseconds()
                        switch op {
                        case .set: try await cache.set(key, values[index & 255], ttl: nil)
                        case .get: _ = try await cache.get(key)
                        }
                        latencies.append(UInt32(clamping: Self.nanoseconds() &- before))
                        // Let the other clients in now and then, as connections interleave on a server.
                        if i % 64 == 63 { await Task.yield() }
                    }
                    return latencies
                }
            }
            var all = [UInt32]()
            all.reserveCapacity(requests)
            for try await part in group { all.append(contentsOf: part) }
            return all
        }
        let elapsed = Double(Self.nanoseconds() &- start) / 1e9
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(p * Double(sorted.count - 1)))]) / 1000
        }
        return Result(opsPerSecond: Double(requests) / elapsed, p50Micros: percentile(0.50), p99Micros: percentile(0.99))
    }

    private func format(_ value: Double) -> String { String(format: "%.3f", value) }

    /// Monotonic nanoseconds (a vDSO call, cheaper than the operations it times).
    private static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// SplitMix64, for key draws without a system call each.
    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
