import ATSDomain
import Foundation
import Synchronization

/// A wake-up flag one task waits on: `fire()` wakes the waiter, or the next wait if none waits.
/// Fires never queue up: many fires before a wait make one wake-up.
final class Signal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func fire() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns when fired or when the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let (resumeNow, older) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                    if state.pending {
                        state.pending = false
                        return (true, nil)
                    }
                    // One waiter at a time: an older one is let go.
                    let older = state.waiter
                    state.waiter = continuation
                    return (false, older)
                }
                older?.resume()
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            fire()
        }
    }

    /// Returns when fired, after `timeout`, or when the task is cancelled.
    func wait(timeout: Duration, clock: JobClock) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(timeout) }
            group.addTask { await self.wait() }
            await group.next()
            group.cancelAll()
        }
    }
}

/// The first outcome of a running attempt wins: the handler's end, its timeout, the loss of
/// its job (cancelled, lease lost) or the runner's shutdown. Later ones are dropped, which is
/// how the late result of an abandoned handler is discarded.
final class AttemptRace: Sendable {
    enum Outcome: Sendable {
        case succeeded(JSONObject?)
        case failed(message: String, retryable: Bool)
        case timedOut
        case lost
        case interrupted
    }

    private struct State {
        var decided = false
        var outcome: Outcome?
        var waiter: CheckedContinuation<Outcome, Never>?
    }

    private let state = Mutex(State())

    var isDecided: Bool { state.withLock { $0.decided } }

    func finish(_ outcome: Outcome) {
        let waiter = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            guard !state.decided else { return nil }
            state.decided = true
            state.outcome = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: outcome)
    }

    /// The winning outcome; a cancelled waiter makes it `.interrupted` unless one was in first.
    func wait() async -> Outcome {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                let decided = state.withLock { state -> Outcome? in
                    if let outcome = state.outcome { return outcome }
                    state.waiter = continuation
                    return nil
                }
                if let decided { continuation.resume(returning: decided) }
            }
        } onCancel: {
            finish(.interrupted)
        }
    }
}

/// Per-minute token bucket: `burst` tokens at most, refilled at `perMinute / 60` a second. Owned
/// by one queue loop, so it needs no lock.
struct TokenBucket {
    let perMinute: Int
    let burst: Int
    var tokens: Double
    var updated: Date

    init(perMinute: Int, burst: Int, now: Date) {
        self.perMinute = max(1, perMinute)
        self.burst = max(1, burst)
        tokens = Double(self.burst)
        updated = now
    }

    mutating func refill(_ now: Date) {
        let elapsed = max(0, now.timeIntervalSince(updated))
        tokens = min(Double(burst), tokens + elapsed * Double(perMinute) / 60)
        updated = now
    }

    /// Takes up to `wanted` whole tokens.
    mutating func take(upTo wanted: Int, now: Date) -> Int {
        refill(now)
        let granted = min(wanted, Int(tokens.rounded(.down)))
        tokens -= Double(max(0, granted))
        return max(0, granted)
    }

    mutating func giveBack(_ count: Int) {
        tokens = min(Double(burst), tokens + Double(count))
    }

    /// How long until one whole token is there.
    func timeUntilToken(now: Date) -> Duration {
        let missing = max(0, 1 - tokens)
        let seconds = missing * 60 / Double(perMinute)
        return .milliseconds(max(1, Int64((seconds * 1000).rounded(.up))))
    }
}
