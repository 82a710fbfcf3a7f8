import ATSDomain
import Foundation
import Synchronization

/// Group commit for completions: attempts that finish while a write is in flight share the
/// next transaction. Each caller returns only after its own completion is committed, so a
/// job counted as done is durable.
final class CompletionBatcher: Sendable {
    private struct State {
        var pending: [(JobCompletion, CheckedContinuation<Bool, any Error>)] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let signal = Signal()
    let queue: any JobQueue
    let clock: JobClock
    let maxBatch: Int

    init(queue: any JobQueue, clock: JobClock, maxBatch: Int = 512) {
        self.queue = queue
        self.clock = clock
        self.maxBatch = maxBatch
    }

    /// Completes the attempt; false when it lost its job.
    func complete(_ completion: JobCompletion) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.pending.append((completion, continuation))
                return true
            }
            if accepted {
                signal.fire()
            } else {
                // After the loop stopped (a straggler): complete on its own.
                let queue = self.queue
                let now = clock.now()
                Task {
                    do {
                        continuation.resume(returning: try await queue.complete(
                            id: completion.id, attempt: completion.attempt, result: completion.result, now: now))
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        }
    }

    /// Stops taking new completions once the pending ones are written.
    func close() {
        state.withLock { $0.closed = true }
        signal.fire()
    }

    /// The writer loop; returns after `close()` once nothing is pending.
    func run() async {
        while true {
            let (batch, closed) = state.withLock { state -> ([(JobCompletion, CheckedContinuation<Bool, any Error>)], Bool) in
                let count = min(maxBatch, state.pending.count)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return (batch, state.closed)
            }
            if batch.isEmpty {
                if closed { return }
                if Task.isCancelled {
                    close()
                    continue
                }
                await signal.wait()
                continue
            }
            do {
                let done = try await queue.complete(batch.map(\.0), now: clock.now())
                for (index, entry) in batch.enumerated() { entry.1.resume(returning: done[index]) }
            } catch {
                for entry in batch { entry.1.resume(throwing: error) }
            }
        }
    }
}
