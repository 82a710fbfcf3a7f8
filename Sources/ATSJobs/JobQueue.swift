import ATSDomain
import Foundation

/// The durable job queue. Every slow or external piece of work (embeddings, CV parsing,
/// emails, exports, imports, analytics) is a job, so requests stay fast and a crash loses
/// nothing.
///
/// Contract for every implementation (the conformance suite in `Tests/ATSJobsTests` checks it):
/// - `enqueue` with a `uniqueKey` that a live (not finished) job already holds returns that
///   job instead of adding one;
/// - `claim` hands a due job (runAt <= now) of the named queue to one worker only, highest
///   priority first, then oldest `runAt`, and gives it a lease; the attempt counter goes up;
/// - `complete`, `fail` and `heartbeat` take the `attempt` the claim returned and do nothing
///   (returning false) when that attempt no longer owns the job (its lease expired and another
///   worker took it, or it was cancelled): a job completes exactly once per successful attempt;
/// - `recoverExpiredLeases` puts jobs whose worker stopped heart-beating back in the queue
///   (or into `dead` when they had their last attempt);
/// - errors are `JobQueueError`s; native database errors never escape.
public protocol JobQueue: Sendable {
    func enqueue(_ request: JobRequest) async throws -> Job
    func claim(queue: String, worker: String, lease: Duration, now: Date) async throws -> Job?
    /// Marks the attempt done; false when the attempt lost the job.
    @discardableResult
    func complete(id: String, attempt: Int, result: JSONObject?, now: Date) async throws -> Bool
    /// Records a failed attempt: back to `scheduled` at `retryAt`, or `dead` when `retryAt` is nil
    /// or the attempts are used up. The error text is kept either way.
    @discardableResult
    func fail(id: String, attempt: Int, error: String, retryAt: Date?, now: Date) async throws -> Bool
    /// Extends the lease and records progress; false when the attempt lost the job (stop it).
    @discardableResult
    func heartbeat(id: String, attempt: Int, lease: Duration, progress: JobProgress?, now: Date) async throws -> Bool
    /// Cancels a job that has not finished; a running attempt learns it at its next heartbeat.
    func cancel(id: String, now: Date) async throws -> Job
    /// Puts a dead, failed or cancelled job back in its queue with fresh attempts.
    func retry(id: String, now: Date) async throws -> Job
    func job(id: String) async throws -> Job?
    func jobs(_ query: JobQuery) async throws -> JobPage
    /// Per-queue figures of one organization's jobs, or of every job when `organizationID` is
    /// nil (the operator's view: the CLI, benchmarks). An organization's admin view passes its
    /// own id, so nothing in it counts another tenant's work.
    func stats(organizationID: String?, now: Date) async throws -> [QueueStats]
    /// Returns how many jobs were recovered.
    func recoverExpiredLeases(now: Date) async throws -> Int
    /// Deletes finished jobs older than `before` (completed and cancelled; dead ones stay).
    func prune(before: Date) async throws -> Int

    // Batched forms (additive; `JobQueue+Batch.swift` gives every backend a looping default).
    // A backend overrides them to do the batch in one round trip / one transaction, which is
    // where the runner's throughput comes from. Each job is still durable when the call returns.

    /// Enqueues several requests in one transaction: all or none.
    func enqueue(contentsOf requests: [JobRequest]) async throws -> [Job]
    /// Claims up to `limit` due jobs of the queue at once, in claim order.
    func claim(queue: String, worker: String, lease: Duration, now: Date, limit: Int) async throws -> [Job]
    /// Completes several attempts at once; one Bool per completion (false: that attempt lost its job).
    func complete(_ completions: [JobCompletion], now: Date) async throws -> [Bool]
    /// Hands a running attempt's job back to its queue without counting the attempt (a worker
    /// shutting down); false when the attempt lost the job.
    @discardableResult
    func release(id: String, attempt: Int, now: Date) async throws -> Bool
}

/// One attempt's successful end, for the batched `complete`.
public struct JobCompletion: Sendable, Hashable {
    public var id: String
    public var attempt: Int
    public var result: JSONObject?

    public init(id: String, attempt: Int, result: JSONObject? = nil) {
        self.id = id
        self.attempt = attempt
        self.result = result
    }
}

/// What to run: a job type on a queue with a JSON payload.
public struct JobRequest: Sendable, Hashable {
    public var queue: String
    public var type: String
    public var payload: JSONObject
    /// Higher runs first.
    public var priority: Int
    /// Not before this time (delayed jobs); nil: now.
    public var runAt: Date?
    public var maxAttempts: Int
    /// The per-attempt time limit; nil: the queue's default.
    public var timeout: Duration?
    /// At most one live job per key (dedup).
    public var uniqueKey: String?
    /// The tenant the job works for, when it does (admin views filter by it).
    public var organizationID: String?
    /// W3C traceparent of the request that enqueued it (the producer/consumer link).
    public var traceParent: String?

    public init(
        queue: String, type: String, payload: JSONObject = [:], priority: Int = 0, runAt: Date? = nil,
        maxAttempts: Int = 5, timeout: Duration? = nil, uniqueKey: String? = nil, organizationID: String? = nil,
        traceParent: String? = nil
    ) {
        self.queue = queue
        self.type = type
        self.payload = payload
        self.priority = priority
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.uniqueKey = uniqueKey
        self.organizationID = organizationID
        self.traceParent = traceParent
    }
}

public enum JobState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Waiting for its `runAt` (delayed, or backing off before a retry).
    case scheduled
    /// Due: waiting for a worker. (Implementations may store due `scheduled` jobs as either.)
    case queued
    case running
    case completed
    /// Out of attempts, or failed without retry: kept with its last error (the dead letters).
    case dead
    case cancelled

    public var isFinished: Bool { self == .completed || self == .dead || self == .cancelled }
}

public struct JobProgress: Sendable, Hashable, Codable {
    /// 0 to 100.
    public var percent: Double
    public var message: String?

    public init(percent: Double, message: String? = nil) {
        self.percent = min(100, max(0, percent))
        self.message = message
    }
}

public struct Job: Sendable, Hashable {
    public let id: String
    public var queue: String
    public var type: String
    public var payload: JSONObject
    public var state: JobState
    public var priority: Int
    /// Attempts started so far (the current one included while running).
    public var attempts: Int
    public var maxAttempts: Int
    public var runAt: Date
    public var timeout: Duration?
    public var uniqueKey: String?
    public var organizationID: String?
    public var traceParent: String?
    public var worker: String?
    public var leaseUntil: Date?
    public var progress: JobProgress?
    public var lastError: String?
    public var result: JSONObject?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    public init(
        id: String, queue: String, type: String, payload: JSONObject, state: JobState, priority: Int, attempts: Int,
        maxAttempts: Int, runAt: Date, timeout: Duration?, uniqueKey: String?, organizationID: String?,
        traceParent: String?, worker: String?, leaseUntil: Date?, progress: JobProgress?, lastError: String?,
        result: JSONObject?, createdAt: Date, startedAt: Date?, finishedAt: Date?
    ) {
        self.id = id
        self.queue = queue
        self.type = type
        self.payload = payload
        self.state = state
        self.priority = priority
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.timeout = timeout
        self.uniqueKey = uniqueKey
        self.organizationID = organizationID
        self.traceParent = traceParent
        self.worker = worker
        self.leaseUntil = leaseUntil
        self.progress = progress
        self.lastError = lastError
        self.result = result
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

public struct JobQuery: Sendable, Hashable {
    public var queue: String?
    public var state: JobState?
    public var type: String?
    public var organizationID: String?
    public var limit: Int
    /// From `JobPage.nextCursor`.
    public var cursor: String?

    public init(queue: String? = nil, state: JobState? = nil, type: String? = nil, organizationID: String? = nil, limit: Int = 50, cursor: String? = nil) {
        self.queue = queue
        self.state = state
        self.type = type
        self.organizationID = organizationID
        self.limit = min(max(limit, 1), 200)
        self.cursor = cursor
    }
}

public struct JobPage: Sendable {
    public var jobs: [Job]
    public var nextCursor: String?

    public init(jobs: [Job], nextCursor: String?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }
}

/// One queue's figures, for the admin view and `/metrics`.
public struct QueueStats: Sendable, Hashable {
    public var queue: String
    public var counts: [JobState: Int]
    /// Seconds the oldest due job has waited (0 when none waits).
    public var oldestWaitSeconds: Double

    public init(queue: String, counts: [JobState: Int], oldestWaitSeconds: Double) {
        self.queue = queue
        self.counts = counts
        self.oldestWaitSeconds = oldestWaitSeconds
    }
}

/// What the job tier reports; every backend maps its native errors into this.
public struct JobQueueError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case notFound
        /// The job is not in a state that allows the operation (retry of a running job ...).
        case invalidState
        /// Unknown queue, bad payload or an out-of-range value in a request.
        case invalidRequest
        case unavailable
        /// The disk under the queue is full: the change was rolled back (HTTP 507).
        case storageFull
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "JobQueueError.\(code.rawValue): \(message)" }
}
