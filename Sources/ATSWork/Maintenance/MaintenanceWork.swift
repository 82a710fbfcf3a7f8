import ATSDomain
import ATSJobs
import ATSStore
import Foundation

/// Housekeeping the appliance does on its own schedule: expired sessions, old finished jobs,
/// and keeping every organization's analytics fresh (within a minute of a change).
public enum MaintenanceWork {
    public static let cleanSessions = "maintenance.sessions"
    public static let pruneJobs = "maintenance.prune-jobs"
    public static let refreshAnalytics = "maintenance.refresh-analytics"

    public static func handlers(store: any Store, jobs: any JobQueue) -> [any JobHandler] {
        [
            ClosureHandler(type: cleanSessions) { _, _ in
                let removed = try await store.deleteExpiredSessions(now: Timestamp.format(Date()))
                return ["removed": .int(Int64(removed))]
            },
            ClosureHandler(type: pruneJobs) { _, _ in
                // Finished jobs are kept a week for the admin view; dead letters stay until retried.
                let removed = try await jobs.prune(before: Date().addingTimeInterval(-7 * 86_400))
                return ["removed": .int(Int64(removed))]
            },
            ClosureHandler(type: refreshAnalytics) { _, _ in
                let organizations = try await store.organizations()
                for organization in organizations {
                    // Due now: this job already runs once a minute, so figures are at most a minute old.
                    var request = AnalyticsWork.refreshRequest(organizationID: organization.id)
                    request.runAt = nil
                    _ = try await jobs.enqueue(request)
                }
                return ["organizations": .int(Int64(organizations.count))]
            },
        ]
    }

    /// `test.sleep`, registered only when `ATS_JOBS_TEST_HANDLERS=1`: appends "start" to the
    /// payload's `marker` file, sleeps `seconds`, appends "done". The kill -9 test of the job
    /// tier (Tests/integration/jobs_kill9.sh) needs a job slow enough to kill mid-run.
    public static let testSleepHandler = ClosureHandler(type: "test.sleep") { job, _ in
        guard let marker = job.payload["marker"]?.stringValue, let seconds = job.payload["seconds"]?.doubleValue,
            (0...600).contains(seconds)
        else { throw JobFailure.permanent("test.sleep needs {marker, seconds}") }
        func append(_ line: String) throws {
            let handle = FileHandle(forWritingAtPath: marker) ?? {
                FileManager.default.createFile(atPath: marker, contents: nil)
                return FileHandle(forWritingAtPath: marker)
            }()
            guard let handle else { throw JobFailure.permanent("cannot write \(marker)") }
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((line + "\n").utf8))
        }
        try append("start")
        try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
        try append("done")
        return ["slept": .double(seconds)]
    }

    /// The recurring jobs every appliance runs.
    public static var recurring: [RecurringJob] {
        func job(_ name: String, _ cron: String, _ type: String) -> RecurringJob {
            // The expressions are constants of this file: a parse failure is a programming error.
            RecurringJob(
                name: name, schedule: try! CronSchedule(cron),
                request: JobRequest(queue: JobQueues.maintenance, type: type, maxAttempts: 3))
        }
        return [
            job("sessions", "17 * * * *", cleanSessions),
            job("prune-jobs", "41 3 * * *", pruneJobs),
            job("analytics", "* * * * *", refreshAnalytics),
        ]
    }
}

/// A handler from a closure, for small jobs that need no type of their own.
public struct ClosureHandler: JobHandler {
    public let type: String
    let body: @Sendable (Job, JobContext) async throws -> JSONObject?

    public init(type: String, _ body: @escaping @Sendable (Job, JobContext) async throws -> JSONObject?) {
        self.type = type
        self.body = body
    }

    public func run(_ job: Job, context: JobContext) async throws -> JSONObject? {
        try await body(job, context)
    }
}
