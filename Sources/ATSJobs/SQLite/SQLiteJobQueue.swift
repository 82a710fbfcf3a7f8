import ATSDomain
import Foundation
import GRDB
import Logging
import Synchronization
import Tracing

/// Learns of jobs enqueued in this process, so a runner can start them without waiting for
/// its next poll.
public protocol JobEnqueueObservable: Sendable {
    /// `observer` gets the queue name after each committed enqueue.
    func observeEnqueues(_ observer: @escaping @Sendable (String) -> Void)
}

/// The embedded job queue: a table in the store's own SQLite file, written through the store's
/// one `DatabasePool`, so a store write can enqueue its follow-up jobs in the same transaction.
public final class SQLiteJobQueue: JobQueue, JobEnqueueObservable {
    /// Bounds on what a request may carry.
    public enum Limits {
        public static let maxPayloadBytes = 256 * 1024
        public static let priorities = -1000...1000
        public static let attempts = 1...100
        public static let maxTypeLength = 200
        public static let maxUniqueKeyLength = 512
        public static let timeouts = Duration.milliseconds(1)...Duration.seconds(7 * 24 * 3600)
    }

    public let pool: DatabasePool
    let logger: Logger
    let migrator = SQLiteJobQueue.makeMigrator()
    let observers = Mutex<[@Sendable (String) -> Void]>([])
    /// Told of every queue write that failed for lack of space (the server's storage monitor).
    let storageFullHook = Mutex<(@Sendable () -> Void)?>(nil)
    /// Wraps each enqueue in a producer span whose traceparent the job keeps, so its consumer
    /// span links back to the request that asked for it.
    let tracer: (any Tracer)?

    /// `pool` must be the store's (`SQLiteStore.pool`): never open a second pool on the file.
    public init(pool: DatabasePool, logger: Logger = Logger(label: "ats.jobs"), tracer: (any Tracer)? = nil) {
        self.pool = pool
        self.logger = logger
        self.tracer = tracer
    }

    // MARK: Migrations

    /// Applies the job tier's pending migrations; safe on each start, after the store's.
    public func migrate() throws {
        do { try migrator.migrate(pool) } catch { throw Self.queueError(error) }
    }

    /// The job tier's migration names, in order.
    public static var migrationNames: [String] { makeMigrator().migrations }

    /// The job tier's migrations the file lacks (for readiness).
    public func pendingMigrations() throws -> [String] {
        do {
            let applied = try pool.read { db in try migrator.appliedIdentifiers(db) }
            return migrator.migrations.filter { !applied.contains($0) }
        } catch {
            throw Self.queueError(error)
        }
    }

    public func observeEnqueues(_ observer: @escaping @Sendable (String) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    func notify(_ queues: some Sequence<String>) {
        let list = observers.withLock { $0 }
        guard !list.isEmpty else { return }
        for queue in Set(queues) { for observer in list { observer(queue) } }
    }

    // MARK: Enqueue

    public func enqueue(_ request: JobRequest) async throws -> Job {
        try await produce(request.type, count: 1) { traceParent in
            var request = request
            request.traceParent = request.traceParent ?? traceParent
            let now = Date()
            let job = try await write { [request] db in try Self.enqueue(request, in: db, now: now) }
            notify([job.queue])
            return job
        }
    }

    public func enqueue(contentsOf requests: [JobRequest]) async throws -> [Job] {
        guard !requests.isEmpty else { return [] }
        return try await produce(requests.count == 1 ? requests[0].type : "batch", count: requests.count) { traceParent in
            let requests = requests.map { request in
                var request = request
                request.traceParent = request.traceParent ?? traceParent
                return request
            }
            let now = Date()
            let jobs = try await write { db in try requests.map { try Self.enqueue($0, in: db, now: now) } }
            notify(jobs.map(\.queue))
            return jobs
        }
    }

    /// Runs an enqueue inside a producer span when a traced request (or job) asked for it, and
    /// hands the span's traceparent to the jobs. Without a current trace: no span, no parent.
    func produce<T: Sendable>(_ type: String, count: Int, _ body: (String?) async throws -> T) async throws -> T {
        guard let tracer, let current = ServiceContext.current else { return try await body(nil) }
        return try await tracer.withSpan("job.enqueue \(type)", context: current, ofKind: .producer) { span in
            span.attributes["messaging.system"] = "ats"
            span.attributes["messaging.operation.type"] = "send"
            span.attributes["messaging.batch.message_count"] = count
            var carrier: [String: String] = [:]
            tracer.inject(span.context, into: &carrier, using: DictionaryInjector())
            return try await body(carrier["traceparent"])
        }
    }

    /// Enqueues inside the caller's transaction (a store write and its follow-up jobs commit or
    /// roll back together), and tells this process's runners once it commits.
    public func enqueue(_ request: JobRequest, in db: Database, now: Date) throws -> Job {
        let job = try Self.enqueue(request, in: db, now: now)
        if db.isInsideTransaction {
            db.afterNextTransaction(onCommit: { [weak self] _ in self?.notify([job.queue]) })
        } else {
            notify([job.queue])
        }
        return job
    }

    /// Enqueues inside the caller's transaction: the job exists only if that transaction commits.
    /// A live job holding the same `uniqueKey` is returned instead of a new one.
    public static func enqueue(_ request: JobRequest, in db: Database, now: Date) throws -> Job {
        try validate(request)
        do {
            if let key = request.uniqueKey,
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT * FROM job_queue WHERE unique_key = ? AND state NOT IN ('completed', 'dead', 'cancelled')"),
                    arguments: [key])
            {
                return try job(row)
            }
            let runAt = max(request.runAt ?? now, Date(timeIntervalSince1970: 0))
            let state: JobState = runAt > now ? .scheduled : .queued
            let id = Identifier.make(at: now)
            try db.cachedStatement(
                sql: """
                    INSERT INTO job_queue (id, queue, type, payload, state, priority, attempts, max_attempts, run_at,
                        timeout_ms, unique_key, org_id, trace_parent, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                id, request.queue, request.type, JSONCoding.encode(request.payload), state.rawValue, request.priority,
                request.maxAttempts, runAt.timeIntervalSince1970, request.timeout.map(Self.milliseconds),
                request.uniqueKey, request.organizationID, request.traceParent, now.timeIntervalSince1970,
            ])
            return Job(
                id: id, queue: request.queue, type: request.type, payload: request.payload, state: state,
                priority: request.priority, attempts: 0, maxAttempts: request.maxAttempts, runAt: runAt,
                timeout: request.timeout, uniqueKey: request.uniqueKey, organizationID: request.organizationID,
                traceParent: request.traceParent, worker: nil, leaseUntil: nil, progress: nil, lastError: nil,
                result: nil, createdAt: now, startedAt: nil, finishedAt: nil)
        } catch {
            throw queueError(error)
        }
    }

    /// Refuses what would never run: unknown queues, empty types, out-of-range values.
    public static func validate(_ request: JobRequest) throws {
        func invalid(_ message: String) -> JobQueueError { JobQueueError(.invalidRequest, message) }
        guard JobQueues.all.contains(request.queue) else { throw invalid("unknown queue \"\(request.queue.prefix(64))\"") }
        let type = request.type.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !type.isEmpty else { throw invalid("the job type is empty") }
        guard request.type.utf8.count <= Limits.maxTypeLength else { throw invalid("the job type is too long") }
        guard Limits.attempts.contains(request.maxAttempts) else {
            throw invalid("maxAttempts must be between \(Limits.attempts.lowerBound) and \(Limits.attempts.upperBound)")
        }
        guard Limits.priorities.contains(request.priority) else {
            throw invalid("priority must be between \(Limits.priorities.lowerBound) and \(Limits.priorities.upperBound)")
        }
        if let timeout = request.timeout, !Limits.timeouts.contains(timeout) {
            throw invalid("timeout must be between 1 ms and 7 days")
        }
        if let key = request.uniqueKey, key.isEmpty || key.utf8.count > Limits.maxUniqueKeyLength {
            throw invalid("uniqueKey must be 1 to \(Limits.maxUniqueKeyLength) bytes")
        }
        if let runAt = request.runAt, !runAt.timeIntervalSince1970.isFinite {
            throw invalid("runAt is not a time")
        }
        guard JSONCoding.encode(request.payload).utf8.count <= Limits.maxPayloadBytes else {
            throw invalid("the payload is larger than \(Limits.maxPayloadBytes / 1024) KiB")
        }
    }

    // MARK: Claim and finish

    public func claim(queue: String, worker: String, lease: Duration, now: Date) async throws -> Job? {
        try await claim(queue: queue, worker: worker, lease: lease, now: now, limit: 1).first
    }

    public func claim(queue: String, worker: String, lease: Duration, now: Date, limit: Int) async throws -> [Job] {
        guard limit > 0 else { return [] }
        let leaseUntil = now.addingTimeInterval(lease.seconds).timeIntervalSince1970
        let jobs = try await write { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        UPDATE job_queue SET state = 'running', attempts = attempts + 1, worker = ?, lease_until = ?,
                            started_at = ?, progress = NULL, progress_message = NULL
                        WHERE id IN (
                            SELECT id FROM job_queue INDEXED BY job_queue_claim
                            WHERE queue = ? AND state IN ('queued', 'scheduled') AND run_at <= ?
                            ORDER BY priority DESC, run_at, id LIMIT ?)
                        RETURNING *
                        """),
                arguments: [worker, leaseUntil, now.timeIntervalSince1970, queue, now.timeIntervalSince1970, limit]
            ).map(Self.job)
        }
        return jobs.sorted { ($0.priority, $1.runAt, $1.id) > ($1.priority, $0.runAt, $0.id) }
    }

    public func complete(id: String, attempt: Int, result: JSONObject?, now: Date) async throws -> Bool {
        try await complete([JobCompletion(id: id, attempt: attempt, result: result)], now: now)[0]
    }

    public func complete(_ completions: [JobCompletion], now: Date) async throws -> [Bool] {
        guard !completions.isEmpty else { return [] }
        return try await write { db in
            let statement = try db.cachedStatement(
                sql: """
                    UPDATE job_queue SET state = 'completed', result = ?, finished_at = ?, lease_until = NULL
                    WHERE id = ? AND attempts = ? AND state = 'running'
                    """)
            return try completions.map { completion in
                try statement.execute(arguments: [
                    completion.result.map(JSONCoding.encode), now.timeIntervalSince1970, completion.id,
                    completion.attempt,
                ])
                return db.changesCount > 0
            }
        }
    }

    public func fail(id: String, attempt: Int, error: String, retryAt: Date?, now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE job_queue SET
                        state = CASE WHEN ?1 IS NULL OR attempts >= max_attempts THEN 'dead' ELSE 'scheduled' END,
                        run_at = CASE WHEN ?1 IS NULL OR attempts >= max_attempts THEN run_at ELSE ?1 END,
                        finished_at = CASE WHEN ?1 IS NULL OR attempts >= max_attempts THEN ?2 ELSE NULL END,
                        last_error = ?3, lease_until = NULL
                    WHERE id = ?4 AND attempts = ?5 AND state = 'running'
                    """,
                arguments: [retryAt?.timeIntervalSince1970, now.timeIntervalSince1970, Self.clip(error), id, attempt])
            return db.changesCount > 0
        }
    }

    public func release(id: String, attempt: Int, now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE job_queue SET state = 'queued', attempts = attempts - 1, run_at = ?, lease_until = NULL,
                        worker = NULL
                    WHERE id = ? AND attempts = ? AND state = 'running'
                    """,
                arguments: [now.timeIntervalSince1970, id, attempt])
            return db.changesCount > 0
        }
    }

    public func heartbeat(id: String, attempt: Int, lease: Duration, progress: JobProgress?, now: Date) async throws -> Bool {
        let leaseUntil = now.addingTimeInterval(lease.seconds).timeIntervalSince1970
        return try await write { db in
            if let progress {
                try db.execute(
                    sql: """
                        UPDATE job_queue SET lease_until = ?, progress = ?, progress_message = ?
                        WHERE id = ? AND attempts = ? AND state = 'running'
                        """,
                    arguments: [leaseUntil, progress.percent, progress.message.map(Self.clip), id, attempt])
            } else {
                try db.execute(
                    sql: "UPDATE job_queue SET lease_until = ? WHERE id = ? AND attempts = ? AND state = 'running'",
                    arguments: [leaseUntil, id, attempt])
            }
            return db.changesCount > 0
        }
    }

    // MARK: Admin

    public func cancel(id: String, now: Date) async throws -> Job {
        try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM job_queue WHERE id = ?", arguments: [id]) else {
                throw JobQueueError(.notFound, "no job \(id.prefix(64))")
            }
            var job = try Self.job(row)
            guard !job.state.isFinished else {
                throw JobQueueError(.invalidState, "the job is already \(job.state.rawValue)")
            }
            try db.execute(
                sql: "UPDATE job_queue SET state = 'cancelled', finished_at = ?, lease_until = NULL WHERE id = ?",
                arguments: [now.timeIntervalSince1970, id])
            job.state = .cancelled
            job.finishedAt = now
            job.leaseUntil = nil
            return job
        }
    }

    public func retry(id: String, now: Date) async throws -> Job {
        let job: Job = try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM job_queue WHERE id = ?", arguments: [id]) else {
                throw JobQueueError(.notFound, "no job \(id.prefix(64))")
            }
            let job = try Self.job(row)
            guard job.state == .dead || job.state == .cancelled || (job.state == .scheduled && job.lastError != nil)
            else {
                throw JobQueueError(.invalidState, "a \(job.state.rawValue) job cannot be retried")
            }
            do {
                guard
                    let updated = try Row.fetchOne(
                        db,
                        sql: """
                            UPDATE job_queue SET state = 'queued', attempts = 0, run_at = ?, finished_at = NULL,
                                lease_until = NULL, worker = NULL, progress = NULL, progress_message = NULL
                            WHERE id = ? RETURNING *
                            """,
                        arguments: [now.timeIntervalSince1970, id])
                else { throw JobQueueError(.notFound, "no job \(id.prefix(64))") }
                return try Self.job(updated)
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                throw JobQueueError(.invalidState, "another live job holds the same unique key")
            }
        }
        notify([job.queue])
        return job
    }

    public func job(id: String) async throws -> Job? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM job_queue WHERE id = ?", arguments: [id]).map(Self.job)
        }
    }

    public func jobs(_ query: JobQuery) async throws -> JobPage {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let queue = query.queue {
            conditions.append("queue = ?")
            arguments += [queue]
        }
        if let state = query.state {
            conditions.append("state = ?")
            arguments += [state.rawValue]
        }
        if let type = query.type {
            conditions.append("type = ?")
            arguments += [type]
        }
        if let org = query.organizationID {
            conditions.append("org_id = ?")
            arguments += [org]
        }
        if let encoded = query.cursor {
            guard let cursor = Cursor(encoded: encoded) else { throw JobQueueError(.invalidRequest, "malformed cursor") }
            conditions.append("id < ?")
            arguments += [cursor.id]
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limit = query.limit
        let sql = "SELECT * FROM job_queue \(filter) ORDER BY id DESC LIMIT \(limit + 1)"
        let finalArguments = arguments
        let jobs = try await read { db in try Row.fetchAll(db, sql: sql, arguments: finalArguments).map(Self.job) }
        let page = Array(jobs.prefix(limit))
        let next = jobs.count > limit ? page.last.map { Cursor(value: "", id: $0.id).encoded } : nil
        return JobPage(jobs: page, nextCursor: next)
    }

    public func stats(organizationID: String?, now: Date) async throws -> [QueueStats] {
        let at = now.timeIntervalSince1970
        // One organization's rows only, when asked: jobs carry their tenant in `org_id`
        // (system jobs have none and show in the operator's view only).
        let scope = organizationID == nil ? "" : "org_id = ?"
        let scopeArguments: StatementArguments = organizationID.map { [$0] } ?? []
        var dueArguments: StatementArguments = [at]
        dueArguments += scopeArguments
        let finalDueArguments = dueArguments
        let (counts, due) = try await read { db in
            let counts = try Row.fetchAll(
                db,
                sql: "SELECT queue, state, COUNT(*) AS n FROM job_queue \(scope.isEmpty ? "" : "WHERE " + scope) GROUP BY queue, state",
                arguments: scopeArguments
            ).map { (queue: $0["queue"] as String, state: $0["state"] as String, count: $0["n"] as Int) }
            let due = try Row.fetchAll(
                db,
                sql: """
                    SELECT queue, COUNT(*) AS n, MIN(run_at) AS oldest FROM job_queue
                    WHERE state IN ('queued', 'scheduled') AND run_at <= ? \(scope.isEmpty ? "" : "AND " + scope) GROUP BY queue
                    """,
                arguments: finalDueArguments
            ).map { (queue: $0["queue"] as String, count: $0["n"] as Int, oldest: $0["oldest"] as Double) }
            return (counts, due)
        }
        var byQueue: [String: QueueStats] = [:]
        for name in JobQueues.all {
            byQueue[name] = QueueStats(
                queue: name, counts: Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) }),
                oldestWaitSeconds: 0)
        }
        for entry in counts {
            guard let state = JobState(rawValue: entry.state) else { continue }
            byQueue[entry.queue, default: QueueStats(
                queue: entry.queue, counts: Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) }),
                oldestWaitSeconds: 0)].counts[state, default: 0] += entry.count
        }
        // Waiting jobs that are due count as queued, whichever way they are stored.
        for entry in due {
            guard var stats = byQueue[entry.queue] else { continue }
            let waiting = stats.counts[.queued, default: 0] + stats.counts[.scheduled, default: 0]
            stats.counts[.queued] = entry.count
            stats.counts[.scheduled] = waiting - entry.count
            stats.oldestWaitSeconds = max(0, at - entry.oldest)
            byQueue[entry.queue] = stats
        }
        for (name, stats) in byQueue where !due.contains(where: { $0.queue == name }) {
            var stats = stats
            stats.counts[.scheduled] = stats.counts[.queued, default: 0] + stats.counts[.scheduled, default: 0]
            stats.counts[.queued] = 0
            byQueue[name] = stats
        }
        return byQueue.values.sorted { $0.queue < $1.queue }
    }

    public func recoverExpiredLeases(now: Date) async throws -> Int {
        let recovered = try await write { db in
            try String.fetchAll(
                db,
                sql: """
                    UPDATE job_queue SET
                        state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
                        finished_at = CASE WHEN attempts >= max_attempts THEN ?1 ELSE NULL END,
                        run_at = CASE WHEN attempts >= max_attempts THEN run_at ELSE ?1 END,
                        last_error = 'lease expired: the worker ' || COALESCE(worker, '?') || ' stopped heart-beating',
                        lease_until = NULL, worker = NULL
                    WHERE state = 'running' AND lease_until < ?1
                    RETURNING queue
                    """,
                arguments: [now.timeIntervalSince1970])
        }
        if !recovered.isEmpty {
            logger.warning("recovered jobs whose lease expired", metadata: ["count": "\(recovered.count)"])
            notify(recovered)
        }
        return recovered.count
    }

    public func prune(before: Date) async throws -> Int {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM job_queue WHERE state IN ('completed', 'cancelled') AND finished_at < ?",
                arguments: [before.timeIntervalSince1970])
            return db.changesCount
        }
    }

    // MARK: Plumbing

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch {
            let mapped = Self.queueError(error)
            if let queue = mapped as? JobQueueError, queue.code == .storageFull { storageFullHook.withLock { $0 }?() }
            throw mapped
        }
    }

    /// Calls `hook` after each queue write that failed because the disk or quota is full.
    public func onStorageFull(_ hook: @escaping @Sendable () -> Void) {
        storageFullHook.withLock { $0 = hook }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch { throw Self.queueError(error) }
    }

    /// Native errors become `JobQueueError`s; SQL arguments never appear in the message.
    static func queueError(_ error: any Error) -> any Error {
        if error is JobQueueError || error is CancellationError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_FULL:
                return JobQueueError(.storageFull, "the disk is full")
            case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_READONLY:
                return JobQueueError(.unavailable, "the job database is unavailable (\(error.resultCode))")
            case .SQLITE_CONSTRAINT:
                return JobQueueError(.invalidState, "the change conflicts with another job")
            default:
                return JobQueueError(.unavailable, "job database error (\(error.resultCode))")
            }
        }
        return JobQueueError(.unavailable, "job database error")
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let parts = duration.components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }

    static func clip(_ text: String) -> String {
        text.utf8.count <= 4096 ? text : String(decoding: text.utf8.prefix(4096), as: UTF8.self)
    }

    static func date(_ value: Double?) -> Date? { value.map { Date(timeIntervalSince1970: $0) } }

    static func job(_ row: Row) throws -> Job {
        guard let state = JobState(rawValue: row["state"]) else {
            throw JobQueueError(.unavailable, "a stored job has an unknown state")
        }
        let payload: String = row["payload"]
        let progress: Double? = row["progress"]
        let result: String? = row["result"]
        let timeout: Int64? = row["timeout_ms"]
        return Job(
            id: row["id"], queue: row["queue"], type: row["type"],
            payload: JSONCoding.decodeObject(payload.utf8) ?? [:], state: state, priority: row["priority"],
            attempts: row["attempts"], maxAttempts: row["max_attempts"],
            runAt: Date(timeIntervalSince1970: row["run_at"]), timeout: timeout.map { .milliseconds($0) },
            uniqueKey: row["unique_key"], organizationID: row["org_id"], traceParent: row["trace_parent"],
            worker: row["worker"], leaseUntil: date(row["lease_until"]),
            progress: progress.map { JobProgress(percent: $0, message: row["progress_message"]) },
            lastError: row["last_error"], result: result.flatMap { JSONCoding.decodeObject($0.utf8) },
            createdAt: Date(timeIntervalSince1970: row["created_at"]), startedAt: date(row["started_at"]),
            finishedAt: date(row["finished_at"]))
    }
}

extension Duration {
    /// Seconds as a Double, for `Date` arithmetic.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
