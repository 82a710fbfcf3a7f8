import ATSDomain
import Foundation
import Logging
import ServiceLifecycle

/// A job enqueued on a cron schedule.
public struct RecurringJob: Sendable, Hashable {
    /// Stable name: the ledger remembers the last occurrence by it.
    public var name: String
    public var schedule: CronSchedule
    public var request: JobRequest

    public init(name: String, schedule: CronSchedule, request: JobRequest) {
        self.name = name
        self.schedule = schedule
        self.request = request
    }
}

/// Remembers which occurrence of each recurring job was enqueued, and enqueues the next one
/// in the same transaction, so an occurrence is enqueued once even across restarts and
/// several schedulers on one database.
public protocol RecurringJobLedger: Sendable {
    func lastOccurrence(of name: String) async throws -> Date?
    /// Enqueues the occurrence at `fireTime` unless it, or a later one, already was; nil then.
    func enqueueOccurrence(of name: String, at fireTime: Date, request: JobRequest, now: Date) async throws -> Job?
}

/// Enqueues recurring jobs on their schedules. Each occurrence carries the unique key
/// `cron:<name>:<fire time>`. After downtime it enqueues the latest missed occurrence once
/// (`catchUp`), never the whole backlog.
public final class CronScheduler: Service, Sendable {
    public let jobs: [RecurringJob]
    let ledger: any RecurringJobLedger
    let clock: JobClock
    let catchUp: Bool
    let logger: Logger

    public init(
        ledger: any RecurringJobLedger, jobs: [RecurringJob], clock: JobClock = .system, catchUp: Bool = true,
        logger: Logger = Logger(label: "ats.jobs.cron")
    ) {
        self.ledger = ledger
        self.jobs = jobs
        self.clock = clock
        self.catchUp = catchUp
        self.logger = logger
    }

    /// The unique key of one occurrence.
    public static func uniqueKey(name: String, fireTime: Date) -> String {
        "cron:\(name):\(Timestamp.format(fireTime))"
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for job in self.jobs {
                    group.addTask { await self.loop(job) }
                }
            }
        }
    }

    func loop(_ job: RecurringJob) async {
        var next: Date
        do {
            next = try await firstOccurrence(job)
        } catch {
            logger.error("recurring job: cannot read its ledger", metadata: ["name": "\(job.name)", "error": "\(error)"])
            next = job.schedule.next(after: clock.now())
        }
        while !Task.isCancelled {
            let wait = next.timeIntervalSince(clock.now())
            if wait > 0 {
                do { try await clock.sleep(.milliseconds(Int64((wait * 1000).rounded(.up)))) } catch { return }
                continue
            }
            await fire(job, at: next)
            // Fell behind (a long pause): skip to the next occurrence after now.
            next = job.schedule.next(after: max(next, clock.now().addingTimeInterval(-60)))
            if next <= clock.now().addingTimeInterval(-60) { next = job.schedule.next(after: clock.now()) }
        }
    }

    /// The next occurrence to enqueue: after the ledger's last one, or the latest missed one.
    func firstOccurrence(_ job: RecurringJob) async throws -> Date {
        let now = clock.now()
        guard let last = try await ledger.lastOccurrence(of: job.name) else {
            return job.schedule.next(after: now)
        }
        var candidate = job.schedule.next(after: max(last, now.addingTimeInterval(-31 * 86400)))
        guard candidate <= now else { return candidate }
        guard catchUp else { return job.schedule.next(after: now) }
        // The latest occurrence at or before now.
        while true {
            let following = job.schedule.next(after: candidate)
            if following > now { return candidate }
            candidate = following
        }
    }

    func fire(_ job: RecurringJob, at fireTime: Date) async {
        var request = job.request
        request.uniqueKey = Self.uniqueKey(name: job.name, fireTime: fireTime)
        do {
            if let enqueued = try await ledger.enqueueOccurrence(
                of: job.name, at: fireTime, request: request, now: clock.now())
            {
                logger.info(
                    "recurring job enqueued",
                    metadata: ["name": "\(job.name)", "fire": "\(Timestamp.format(fireTime))", "job": "\(enqueued.id)"])
            }
        } catch {
            logger.error("recurring job: enqueue failed", metadata: ["name": "\(job.name)", "error": "\(error)"])
        }
    }
}

extension SQLiteJobQueue: RecurringJobLedger {
    public func lastOccurrence(of name: String) async throws -> Date? {
        try await read { db in
            try Double.fetchOne(db, sql: "SELECT last_fire FROM job_recurring WHERE name = ?", arguments: [name])
                .map { Date(timeIntervalSince1970: $0) }
        }
    }

    public func enqueueOccurrence(of name: String, at fireTime: Date, request: JobRequest, now: Date) async throws -> Job? {
        let job: Job? = try await write { db in
            let fire = fireTime.timeIntervalSince1970
            if let last = try Double.fetchOne(
                db, sql: "SELECT last_fire FROM job_recurring WHERE name = ?", arguments: [name]), last >= fire
            {
                return nil
            }
            let job = try Self.enqueue(request, in: db, now: now)
            try db.execute(
                sql: """
                    INSERT INTO job_recurring (name, last_fire, job_id) VALUES (?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET last_fire = excluded.last_fire, job_id = excluded.job_id
                    """,
                arguments: [name, fire, job.id])
            return job
        }
        if let job { notify([job.queue]) }
        return job
    }
}
