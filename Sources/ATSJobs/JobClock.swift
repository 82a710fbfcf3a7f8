import Foundation

/// The time the runner and the cron scheduler see, injected so tests can drive it.
public struct JobClock: Sendable {
    public var now: @Sendable () -> Date
    /// Sleeps for the duration; throws `CancellationError` when the task is cancelled.
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(now: @escaping @Sendable () -> Date, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }

    /// Wall time and `Task.sleep`.
    public static let system = JobClock(now: { Date() }, sleep: { try await Task.sleep(for: $0) })
}

/// How failed attempts back off: `base * 2^(attempt-1)`, capped, then a random share
/// (`jitter`, 0...1) taken off so retries of a burst of failures spread out.
public struct RetryPolicy: Sendable, Hashable {
    public var base: Duration
    public var cap: Duration
    public var jitter: Double

    public init(base: Duration = .seconds(2), cap: Duration = .seconds(3600), jitter: Double = 0.5) {
        self.base = base
        self.cap = cap
        self.jitter = min(1, max(0, jitter))
    }

    /// The delay before the retry that follows failed attempt number `attempt` (1-based).
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let exponent = min(max(attempt - 1, 0), 40)
        let raw = min(cap.seconds, base.seconds * pow(2, Double(exponent)))
        let seconds = raw * (1 - jitter * random)
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
