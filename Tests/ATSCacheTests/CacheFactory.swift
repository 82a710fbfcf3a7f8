import ATSCache
import Foundation
import Synchronization
import Testing

/// A fresh, empty cache and how to dispose of it.
struct CacheUnderTest: Sendable {
    let cache: any Cache
    let cleanup: @Sendable () async -> Void
}

/// One way to get a cache. The conformance suite runs once per factory; a Redis cache joins by
/// adding itself to `all` (mapping `maxBytes` to its memory limit).
struct CacheFactory: Sendable, CustomTestStringConvertible {
    let name: String
    /// A cache holding at most `maxBytes` accounted bytes.
    let make: @Sendable (_ maxBytes: Int) async throws -> CacheUnderTest

    var testDescription: String { name }

    static let memory = CacheFactory(name: "MemoryCache") { maxBytes in
        CacheUnderTest(cache: MemoryCache(configuration: .init(maxBytes: maxBytes)), cleanup: {})
    }

    static let all: [CacheFactory] = [.memory]
}

func withCache(
    _ factory: CacheFactory, maxBytes: Int = 64 << 20, _ body: (any Cache) async throws -> Void
) async throws {
    let subject = try await factory.make(maxBytes)
    do {
        try await body(subject.cache)
    } catch {
        await subject.cleanup()
        throw error
    }
    await subject.cleanup()
}

/// A clock that moves only when told to.
final class FakeClock: CacheClock {
    private let nanoseconds = Mutex<UInt64>(1_000_000_000)

    func now() -> UInt64 { nanoseconds.withLock { $0 } }

    func advance(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let delta = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        nanoseconds.withLock { $0 += delta }
    }
}

/// A door loaders wait at until the test opens it.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A counter loaders bump, shared across tasks.
final class Counter: Sendable {
    private let count = Mutex(0)

    @discardableResult
    func increment() -> Int { count.withLock { $0 += 1; return $0 } }

    var value: Int { count.withLock { $0 } }
}

struct LoaderFailure: Error, Equatable {}

/// Polls until `condition` holds or `timeout` passes; true when it held.
func eventually(
    timeout: Duration = .seconds(30), every: Duration = .milliseconds(2), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: every)
    }
    return try await condition()
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
