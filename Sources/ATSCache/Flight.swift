import Synchronization

/// One loader run that every caller missing the same key waits on (single-flight). The run is
/// owned by no caller: a waiter that is cancelled leaves with `CancellationError` while the
/// others keep waiting, and the load completes for them.
final class Flight: Sendable {
    private struct State {
        var outcome: Result<[UInt8]?, any Error>?
        var waiters: [Int: CheckedContinuation<[UInt8]?, any Error>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    /// Hands the outcome to every waiter, and to those that come later.
    func finish(_ outcome: Result<[UInt8]?, any Error>) {
        let waiters = state.withLock { state in
            state.outcome = outcome
            let waiters = state.waiters
            state.waiters = [:]
            return waiters
        }
        for waiter in waiters.values { waiter.resume(with: outcome) }
    }

    /// The run's result or error; `CancellationError` when the calling task is cancelled first.
    func value() async throws -> [UInt8]? {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                let now = state.withLock { state -> Result<[UInt8]?, any Error>? in
                    if let outcome = state.outcome { return outcome }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(with: now) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
