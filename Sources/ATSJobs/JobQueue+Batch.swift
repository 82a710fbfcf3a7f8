import ATSDomain
import Foundation

/// Defaults for the batched requirements, so a backend can start with the single-job calls.
extension JobQueue {
    /// Every organization's figures: the operator's view.
    public func stats(now: Date) async throws -> [QueueStats] {
        try await stats(organizationID: nil, now: now)
    }

    public func enqueue(contentsOf requests: [JobRequest]) async throws -> [Job] {
        var jobs: [Job] = []
        jobs.reserveCapacity(requests.count)
        for request in requests { jobs.append(try await enqueue(request)) }
        return jobs
    }

    public func claim(queue: String, worker: String, lease: Duration, now: Date, limit: Int) async throws -> [Job] {
        var jobs: [Job] = []
        while jobs.count < limit, let job = try await claim(queue: queue, worker: worker, lease: lease, now: now) {
            jobs.append(job)
        }
        return jobs
    }

    public func complete(_ completions: [JobCompletion], now: Date) async throws -> [Bool] {
        var done: [Bool] = []
        done.reserveCapacity(completions.count)
        for completion in completions {
            done.append(try await complete(id: completion.id, attempt: completion.attempt, result: completion.result, now: now))
        }
        return done
    }

    /// The default spends the attempt (a failure due now); backends that can, give it back.
    @discardableResult
    public func release(id: String, attempt: Int, now: Date) async throws -> Bool {
        try await fail(id: id, attempt: attempt, error: "released by a worker that shut down", retryAt: now, now: now)
    }
}
