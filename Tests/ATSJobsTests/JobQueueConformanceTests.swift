import ATSDomain
import ATSJobs
import Foundation
import Synchronization
import Testing

/// The contract of `JobQueue` (see its doc comment), run against every backend.
@Suite("JobQueue conformance")
struct JobQueueConformanceTests {
    static let q = JobQueues.analytics

    @Test("claims the highest priority first, then the oldest runAt", arguments: JobQueueFactory.all)
    func claimOrder(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let now = Date()
            let low = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", priority: -5, runAt: now.addingTimeInterval(-30)))
            let newer = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", priority: 10, runAt: now.addingTimeInterval(-5)))
            let older = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", priority: 10, runAt: now.addingTimeInterval(-10)))
            let mid = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", priority: 0))
            _ = try await queue.enqueue(JobRequest(queue: JobQueues.emails, type: "t", priority: 100))
            var order: [String] = []
            while let job = try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(30), now: now.addingTimeInterval(60)) {
                #expect(job.state == .running)
                #expect(job.attempts == 1)
                #expect(job.worker == "w")
                order.append(job.id)
            }
            #expect(order == [older.id, newer.id, mid.id, low.id])
            // The batched claim keeps the same order.
            let more = try await queue.enqueue(contentsOf: (0..<5).map {
                JobRequest(queue: Self.q, type: "t", priority: $0, runAt: now.addingTimeInterval(-1))
            })
            let batch = try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(30), now: now.addingTimeInterval(1), limit: 3)
            #expect(batch.map(\.id) == more.reversed().prefix(3).map(\.id))
        }
    }

    @Test("a delayed job is not claimable before its runAt", arguments: JobQueueFactory.all)
    func delayed(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let now = Date()
            let job = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now.addingTimeInterval(60)))
            #expect(job.state == .scheduled)
            #expect(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now) == nil)
            #expect(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(59)) == nil)
            let claimed = try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(61))
            #expect(claimed?.id == job.id)
        }
    }

    @Test("a unique key holds one live job; a finished job frees it", arguments: JobQueueFactory.all)
    func uniqueKeys(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let now = Date()
            let first = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", uniqueKey: "k1"))
            let again = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", payload: ["x": 1], uniqueKey: "k1"))
            #expect(again.id == first.id)
            let other = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", uniqueKey: "k2"))
            #expect(other.id != first.id)
            // Still live while running.
            let claimed = try #require(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(60)))
            #expect(try await queue.enqueue(JobRequest(queue: Self.q, type: "t", uniqueKey: claimed.uniqueKey)).id == claimed.id)
            #expect(try await queue.complete(id: claimed.id, attempt: claimed.attempts, result: ["ok": true], now: now))
            let fresh = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", uniqueKey: claimed.uniqueKey))
            #expect(fresh.id != claimed.id)
            // A retried dead job whose key a live job now holds is refused.
            let unique = try await queue.enqueue(JobRequest(queue: Self.q, type: "u", maxAttempts: 1, uniqueKey: "k3"))
            var dead: Job?
            while let job = try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(61)) {
                if job.id == unique.id { dead = job } else { try await queue.complete(id: job.id, attempt: job.attempts, result: nil, now: now) }
            }
            let deadJob = try #require(dead)
            #expect(try await queue.fail(id: deadJob.id, attempt: 1, error: "boom", retryAt: nil, now: now))
            _ = try await queue.enqueue(JobRequest(queue: Self.q, type: "u", uniqueKey: "k3"))
            await #expect(throws: JobQueueError.self) { try await queue.retry(id: deadJob.id, now: now) }
        }
    }

    @Test("complete, fail and heartbeat of a stale attempt return false", arguments: JobQueueFactory.all)
    func staleAttempts(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let now = Date()
            let job = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now))
            let first = try #require(try await queue.claim(queue: Self.q, worker: "a", lease: .seconds(1), now: now.addingTimeInterval(1)))
            #expect(try await queue.heartbeat(id: job.id, attempt: 1, lease: .seconds(1), progress: JobProgress(percent: 30, message: "third"), now: now.addingTimeInterval(1.5)))
            let seen = try #require(try await queue.job(id: job.id))
            #expect(seen.progress == JobProgress(percent: 30, message: "third"))
            #expect(seen.leaseUntil.map { abs($0.timeIntervalSince(now.addingTimeInterval(2.5))) < 0.01 } == true)
            // The lease runs out: recovery hands the job to worker b.
            #expect(try await queue.recoverExpiredLeases(now: now.addingTimeInterval(2)) == 0)
            #expect(try await queue.recoverExpiredLeases(now: now.addingTimeInterval(3)) == 1)
            let second = try #require(try await queue.claim(queue: Self.q, worker: "b", lease: .seconds(30), now: now.addingTimeInterval(3)))
            #expect(second.attempts == 2)
            #expect(second.worker == "b")
            #expect(second.progress == nil)
            #expect(try await queue.heartbeat(id: job.id, attempt: first.attempts, lease: .seconds(5), progress: nil, now: now) == false)
            #expect(try await queue.complete(id: job.id, attempt: first.attempts, result: nil, now: now) == false)
            #expect(try await queue.fail(id: job.id, attempt: first.attempts, error: "late", retryAt: nil, now: now) == false)
            #expect(try await queue.complete(id: job.id, attempt: second.attempts, result: ["n": 1], now: now.addingTimeInterval(4)))
            #expect(try await queue.complete(id: job.id, attempt: second.attempts, result: nil, now: now) == false)
            let done = try #require(try await queue.job(id: job.id))
            #expect(done.state == .completed)
            #expect(done.result == ["n": 1])
            #expect(done.finishedAt != nil)
            #expect(done.lastError?.contains("lease expired") == true)
            // Batched completions answer per attempt.
            let a = try await queue.enqueue(JobRequest(queue: Self.q, type: "t"))
            // `a` is due at the wall clock's now (a loaded machine may be seconds past `now`).
            let claimedA = try #require(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: Date().addingTimeInterval(5)))
            #expect(claimedA.id == a.id)
            let answers = try await queue.complete(
                [JobCompletion(id: a.id, attempt: 1), JobCompletion(id: a.id, attempt: 1), JobCompletion(id: "nope", attempt: 1)], now: now)
            #expect(answers == [true, false, false])
        }
    }

    @Test("retries back off, dead letters keep the last error, retry and cancel", arguments: JobQueueFactory.all)
    func retryCancelDead(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let now = Date()
            let job = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now, maxAttempts: 2))
            let a1 = try #require(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(1)))
            #expect(try await queue.fail(id: job.id, attempt: a1.attempts, error: "first", retryAt: now.addingTimeInterval(10), now: now))
            var seen = try #require(try await queue.job(id: job.id))
            #expect(seen.state == .scheduled)
            #expect(seen.lastError == "first")
            #expect(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(9)) == nil)
            let a2 = try #require(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(11)))
            #expect(a2.attempts == 2)
            // Attempts used up: dead even though a retry time was given.
            #expect(try await queue.fail(id: job.id, attempt: 2, error: "second", retryAt: now.addingTimeInterval(20), now: now.addingTimeInterval(12)))
            seen = try #require(try await queue.job(id: job.id))
            #expect(seen.state == .dead)
            #expect(seen.lastError == "second")
            #expect(seen.finishedAt != nil)
            let dead = try await queue.jobs(JobQuery(queue: Self.q, state: .dead))
            #expect(dead.jobs.map(\.id) == [job.id])
            // Retry: fresh attempts, the error kept for the record.
            let retried = try await queue.retry(id: job.id, now: now.addingTimeInterval(13))
            #expect(retried.state == .queued)
            #expect(retried.attempts == 0)
            #expect(retried.lastError == "second")
            await #expect(throws: JobQueueError.self) { try await queue.retry(id: job.id, now: now) }
            // Cancel: a queued job is never claimed; a running one loses its heartbeat.
            #expect(try await queue.cancel(id: job.id, now: now.addingTimeInterval(14)).state == .cancelled)
            #expect(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(15)) == nil)
            do {
                _ = try await queue.cancel(id: job.id, now: now)
                Issue.record("cancelling a cancelled job succeeded")
            } catch let error as JobQueueError {
                #expect(error.code == .invalidState)
            }
            _ = try await queue.retry(id: job.id, now: now.addingTimeInterval(16))
            let running = try #require(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(17)))
            _ = try await queue.cancel(id: job.id, now: now.addingTimeInterval(18))
            #expect(try await queue.heartbeat(id: job.id, attempt: running.attempts, lease: .seconds(5), progress: nil, now: now) == false)
            #expect(try await queue.complete(id: job.id, attempt: running.attempts, result: nil, now: now) == false)
            #expect(try await queue.job(id: job.id)?.state == .cancelled)
            // Failing without a retry time: dead at once.
            let once = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", maxAttempts: 5))
            let c = try #require(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now.addingTimeInterval(20)))
            #expect(c.id == once.id)
            #expect(try await queue.fail(id: once.id, attempt: 1, error: "bad payload", retryAt: nil, now: now))
            #expect(try await queue.job(id: once.id)?.state == .dead)
            await #expect(throws: JobQueueError.self) { try await queue.cancel(id: "01ARZ3NDEKTSV4RRFFQ69G5FAV", now: now) }
        }
    }

    @Test("an expired lease on the last attempt is a dead letter", arguments: JobQueueFactory.all)
    func leaseOnLastAttempt(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let now = Date()
            let job = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now, maxAttempts: 1))
            _ = try await queue.claim(queue: Self.q, worker: "gone", lease: .milliseconds(100), now: now.addingTimeInterval(1))
            #expect(try await queue.recoverExpiredLeases(now: now.addingTimeInterval(2)) == 1)
            let seen = try #require(try await queue.job(id: job.id))
            #expect(seen.state == .dead)
            #expect(seen.lastError?.contains("gone") == true)
        }
    }

    @Test("stats count jobs by state and the oldest wait", arguments: JobQueueFactory.all)
    func stats(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let now = Date()
            _ = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now.addingTimeInterval(-30)))
            _ = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now.addingTimeInterval(-20)))
            _ = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now.addingTimeInterval(-10)))
            _ = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now.addingTimeInterval(3600)))
            let claimed = try #require(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now))
            #expect(try await queue.complete(id: claimed.id, attempt: 1, result: nil, now: now))
            _ = try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: now)
            let all = try await queue.stats(now: now)
            #expect(Set(all.map(\.queue)).isSuperset(of: JobQueues.all))
            let figures = try #require(all.first { $0.queue == Self.q })
            #expect(figures.counts[.queued] == 1)
            #expect(figures.counts[.scheduled] == 1)
            #expect(figures.counts[.running] == 1)
            #expect(figures.counts[.completed] == 1)
            #expect(abs(figures.oldestWaitSeconds - 10) < 1)
            #expect(all.first { $0.queue == JobQueues.emails }?.counts[.queued] == 0)
        }
    }

    @Test("stats of one organization count its jobs only; nil counts every job", arguments: JobQueueFactory.all)
    func statsPerOrganization(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let now = Date()
            // Organization A: two due jobs (the older waited 40 s) and a dead one; B: one due job; a system job.
            _ = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now.addingTimeInterval(-40), organizationID: "org-a"))
            _ = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now.addingTimeInterval(-5), organizationID: "org-a"))
            _ = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now.addingTimeInterval(-60), organizationID: "org-b"))
            _ = try await queue.enqueue(JobRequest(queue: Self.q, type: "t", runAt: now.addingTimeInterval(-50)))
            let doomed = try await queue.enqueue(
                JobRequest(queue: JobQueues.emails, type: "t", runAt: now.addingTimeInterval(-1), maxAttempts: 1, organizationID: "org-b"))
            let claimed = try #require(try await queue.claim(queue: JobQueues.emails, worker: "w", lease: .seconds(5), now: now))
            #expect(claimed.id == doomed.id)
            #expect(try await queue.fail(id: claimed.id, attempt: 1, error: "boom", retryAt: nil, now: now))

            let a = try await queue.stats(organizationID: "org-a", now: now)
            #expect(Set(a.map(\.queue)).isSuperset(of: JobQueues.all))
            let aFigures = try #require(a.first { $0.queue == Self.q })
            #expect(aFigures.counts[.queued] == 2)
            #expect(abs(aFigures.oldestWaitSeconds - 40) < 1, "B's and the system's older jobs are not A's wait")
            #expect(a.first { $0.queue == JobQueues.emails }?.counts[.dead] == 0, "B's dead letter is not A's")

            let b = try await queue.stats(organizationID: "org-b", now: now)
            #expect(b.first { $0.queue == Self.q }?.counts[.queued] == 1)
            #expect(b.first { $0.queue == JobQueues.emails }?.counts[.dead] == 1)
            #expect(try await queue.stats(organizationID: "org-c", now: now).allSatisfy { $0.counts.values.allSatisfy { $0 == 0 } })

            let all = try await queue.stats(now: now)
            #expect(all.first { $0.queue == Self.q }?.counts[.queued] == 4)
            #expect(abs((all.first { $0.queue == Self.q }?.oldestWaitSeconds ?? 0) - 60) < 1)
        }
    }

    @Test("prune deletes old completed and cancelled jobs, keeps dead letters", arguments: JobQueueFactory.all)
    func prune(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let now = Date()
            for index in 0..<3 {
                let job = try await queue.enqueue(JobRequest(queue: Self.q, type: "t\(index)"))
                // Claimed "a second from the real now": on a loaded machine the loop can outlast `now + 1`.
                let c = try #require(try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: Date().addingTimeInterval(1)))
                #expect(c.id == job.id)
                switch index {
                case 0: try await queue.complete(id: job.id, attempt: 1, result: nil, now: now.addingTimeInterval(-100))
                case 1: try await queue.fail(id: job.id, attempt: 1, error: "x", retryAt: nil, now: now.addingTimeInterval(-100))
                default: try await queue.complete(id: job.id, attempt: 1, result: nil, now: now)
                }
            }
            let cancelled = try await queue.enqueue(JobRequest(queue: Self.q, type: "c"))
            _ = try await queue.cancel(id: cancelled.id, now: now.addingTimeInterval(-100))
            #expect(try await queue.prune(before: now.addingTimeInterval(-50)) == 2)
            let left = try await queue.jobs(JobQuery(queue: Self.q))
            #expect(Set(left.jobs.map(\.type)) == ["t1", "t2"])
        }
    }

    @Test("lists page newest first with a cursor and filters", arguments: JobQueueFactory.all)
    func listing(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            var ids: [String] = []
            for index in 0..<5 {
                ids.append(try await queue.enqueue(JobRequest(queue: Self.q, type: "t", organizationID: index % 2 == 0 ? "org-a" : "org-b")).id)
                try await Task.sleep(for: .milliseconds(2))
            }
            _ = try await queue.enqueue(JobRequest(queue: JobQueues.emails, type: "mail"))
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await queue.jobs(JobQuery(queue: Self.q, limit: 2, cursor: cursor))
                seen += page.jobs.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == ids.reversed())
            #expect(try await queue.jobs(JobQuery(organizationID: "org-a")).jobs.count == 3)
            #expect(try await queue.jobs(JobQuery(type: "mail")).jobs.count == 1)
            await #expect(throws: JobQueueError.self) { try await queue.jobs(JobQuery(cursor: "garbage")) }
        }
    }

    @Test("concurrent claimers never get the same job", arguments: JobQueueFactory.all)
    func concurrentClaims(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let requests = (0..<500).map { JobRequest(queue: Self.q, type: "t", payload: ["n": .int(Int64($0))]) }
            let enqueued = try await queue.enqueue(contentsOf: requests)
            let now = Date().addingTimeInterval(1)
            let claims = try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var mine: [String] = []
                        while true {
                            // Mix single and batched claims.
                            let jobs = mine.count % 3 == 0
                                ? try await queue.claim(queue: Self.q, worker: "w\(worker)", lease: .seconds(30), now: now, limit: 7)
                                : try await queue.claim(queue: Self.q, worker: "w\(worker)", lease: .seconds(30), now: now).map { [$0] } ?? []
                            if jobs.isEmpty { return mine }
                            mine += jobs.map(\.id)
                        }
                    }
                }
                var all: [[String]] = []
                for try await ids in group { all.append(ids) }
                return all
            }
            let flat = claims.flatMap { $0 }
            #expect(flat.count == 500)
            #expect(Set(flat) == Set(enqueued.map(\.id)))
        }
    }

    @Test("a job enqueued in a rolled-back transaction never exists", arguments: JobQueueFactory.all)
    func transactionalEnqueue(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let ghost = try await subject.enqueueInTransaction(JobRequest(queue: Self.q, type: "ghost"), true)
            let real = try await subject.enqueueInTransaction(JobRequest(queue: Self.q, type: "real"), false)
            #expect(try await queue.job(id: ghost.id) == nil)
            #expect(try await queue.job(id: real.id)?.state == .queued)
            var claimed: [String] = []
            while let job = try await queue.claim(queue: Self.q, worker: "w", lease: .seconds(5), now: Date().addingTimeInterval(1)) {
                claimed.append(job.type)
            }
            #expect(claimed == ["real"])
        }
    }

    @Test("bad requests are refused with invalidRequest", arguments: JobQueueFactory.all)
    func badRequests(_ factory: JobQueueFactory) async throws {
        try await withQueue(factory) { subject in
            let queue = subject.queue
            let big: JSONObject = ["blob": .string(String(repeating: "x", count: 300 * 1024))]
            let bad = [
                JobRequest(queue: "nope", type: "t"),
                JobRequest(queue: Self.q, type: "  "),
                JobRequest(queue: Self.q, type: "t", maxAttempts: 0),
                JobRequest(queue: Self.q, type: "t", maxAttempts: 101),
                JobRequest(queue: Self.q, type: "t", priority: 5000),
                JobRequest(queue: Self.q, type: "t", payload: big),
                JobRequest(queue: Self.q, type: "t", timeout: .zero),
                JobRequest(queue: Self.q, type: "t", uniqueKey: ""),
            ]
            for request in bad {
                do {
                    _ = try await queue.enqueue(request)
                    Issue.record("accepted \(request)")
                } catch let error as JobQueueError {
                    #expect(error.code == .invalidRequest)
                }
            }
            // A bad request in a batch: none of the batch is kept.
            await #expect(throws: JobQueueError.self) {
                try await queue.enqueue(contentsOf: [JobRequest(queue: Self.q, type: "ok"), JobRequest(queue: "nope", type: "t")])
            }
            #expect(try await queue.jobs(JobQuery()).jobs.isEmpty)
            #expect(try await queue.job(id: "missing") == nil)
        }
    }
}
