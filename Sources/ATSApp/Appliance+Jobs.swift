import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Tracing
import UnixSignals

/// The job tier's composition: the queue in the store's database, the runner with every
/// handler, and the recurring jobs.
extension Appliance {
    /// The SQLite job queue on the store's own pool (one pool per file), migrated.
    public static func openJobs(store: SQLiteStore, logger: Logger, tracer: (any Tracer)? = nil) throws -> SQLiteJobQueue {
        let queue = SQLiteJobQueue(pool: store.pool, logger: logger, tracer: tracer)
        try queue.migrate()
        return queue
    }

    /// The agency work's view of the appliance.
    public static func workDependencies(
        _ configuration: Configuration, store: any Store, jobs: any JobQueue, logger: Logger, tracer: (any Tracer)? = nil,
        search: SearchService? = nil, files: FileDependencies? = nil
    ) -> WorkDependencies {
        WorkDependencies(
            store: store, jobs: jobs, dataDirectory: configuration.dataDirectory,
            email: configuration.emailConfiguration, logger: logger, tracer: tracer, search: search, files: files)
    }

    /// The runner (every handler) and the scheduler of recurring jobs.
    public static func workServices(
        _ configuration: Configuration, jobs: SQLiteJobQueue, work: WorkDependencies,
        registry: PrometheusCollectorRegistry?, logger: Logger, tracer: (any Tracer)? = nil
    ) throws -> (runner: JobRunner, cron: CronScheduler) {
        var handlers = Work.handlers(work) + MaintenanceWork.handlers(store: work.store, jobs: jobs)
        if ProcessInfo.processInfo.environment["ATS_JOBS_TEST_HANDLERS"] == "1" {
            handlers.append(MaintenanceWork.testSleepHandler)
        }
        let runner = JobRunner(
            queue: jobs, configurations: try configuration.queueConfigurations(), handlers: handlers,
            logger: logger, metrics: registry, tracer: tracer)
        var recurring = MaintenanceWork.recurring
        if work.files != nil { recurring += FileWork.recurring }
        if work.search != nil {
            // The sweep behind the write hook: a change whose sync coalesced into a running one.
            recurring.append(
                RecurringJob(name: "search-sync", schedule: try CronSchedule("* * * * *"), request: SearchService.syncRequest))
        }
        let cron = CronScheduler(ledger: jobs, jobs: recurring, logger: logger)
        return (runner, cron)
    }

    /// `ats worker`: the runner and the scheduler without the HTTP server, until SIGTERM.
    public static func work(_ configuration: Configuration, store: SQLiteStore, logger: Logger) async throws {
        let tracer = makeTracer(configuration, logger: logger)
        let jobs = try openJobs(store: store, logger: logger, tracer: tracer)
        followWrites(store: store, jobs: jobs)
        let search = try makeSearch(configuration, store: store, served: store, cache: nil, tracer: tracer, logger: logger)
        let files = try makeFiles(configuration, store: store, served: store, logger: logger)
        let work = workDependencies(
            configuration, store: store, jobs: jobs, logger: logger, tracer: tracer, search: search, files: files.work)
        let (runner, cron) = try workServices(
            configuration, jobs: jobs, work: work, registry: nil, logger: logger, tracer: tracer)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: tracer), .init(service: store), .init(service: runner), .init(service: cron)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension Configuration {
    /// Mail delivery: SMTP when `ATS_SMTP_HOST` is set, else `.eml` files in the data folder.
    public var emailConfiguration: EmailConfiguration {
        EmailConfiguration(
            smtpHost: self["ATS_SMTP_HOST"].isEmpty ? nil : self["ATS_SMTP_HOST"],
            smtpPort: Int(self["ATS_SMTP_PORT"]) ?? 587,
            startTLS: self["ATS_SMTP_STARTTLS"].lowercased() != "false",
            username: self["ATS_SMTP_USERNAME"].isEmpty ? nil : self["ATS_SMTP_USERNAME"],
            password: self["ATS_SMTP_PASSWORD"].isEmpty ? nil : self["ATS_SMTP_PASSWORD"],
            from: self["ATS_MAIL_FROM"])
    }

    /// The queues' concurrency, rate and lease: the defaults, changed by `ATS_QUEUES`
    /// (`name=concurrency[/per-minute][@lease-seconds],...`, e.g. `embeddings=5/100,emails=2`).
    public func queueConfigurations() throws -> [JobRunner.QueueConfiguration] {
        var configurations = JobRunner.QueueConfiguration.defaults
        for item in self["ATS_QUEUES"].split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let index = configurations.firstIndex(where: { $0.name == parts[0] }) else {
                throw ConfigurationError("ATS_QUEUES: '\(item)' is not name=concurrency[/per-minute] of a known queue (\(JobQueues.all.joined(separator: ", ")))")
            }
            let leaseParts = parts[1].split(separator: "@", maxSplits: 1)
            if leaseParts.count == 2 {
                guard let seconds = Int(leaseParts[1].trimmingCharacters(in: .whitespaces)), (1...3600).contains(seconds) else {
                    throw ConfigurationError("ATS_QUEUES: '\(item)': the lease must be 1 to 3600 seconds")
                }
                configurations[index].lease = .seconds(seconds)
            }
            let numbers = leaseParts[0].split(separator: "/").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard let concurrency = numbers.first ?? nil, (1...256).contains(concurrency), numbers.count <= 2 else {
                throw ConfigurationError("ATS_QUEUES: '\(item)': concurrency must be 1 to 256")
            }
            configurations[index].concurrency = concurrency
            if numbers.count == 2 {
                guard let rate = numbers[1], rate >= 1 else { throw ConfigurationError("ATS_QUEUES: '\(item)': the rate must be a positive number per minute") }
                configurations[index].ratePerMinute = rate
            }
        }
        return configurations
    }
}
