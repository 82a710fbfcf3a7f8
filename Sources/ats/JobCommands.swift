import ATSApp
import ATSDomain
import ATSJobs
import ATSStore
import ATSTelemetry
import ArgumentParser
import Foundation
import Logging

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the job workers (emails, exports, imports, analytics ...) without the HTTP server, until SIGTERM.")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.resolve()
        bootstrapLogging(configuration)
        let logger = Logger(label: "ats")
        let store = try Appliance.openStore(configuration, logger: logger)
        try await Appliance.work(configuration, store: store, logger: logger)
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Inspect and steer the job queue.",
        subcommands: [List.self, Retry.self, Cancel.self, Stats.self, Bench.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Only this queue.") var queue: String?
        @Option(help: "Only this state: scheduled, queued, running, completed, dead, cancelled.") var state: String?
        @Option(help: "Only this organization (slug).") var org: String?
        @Option(help: "How many (1-200).") var limit: Int = 50

        func run() async throws {
            let (store, jobs) = try openJobs(common)
            var jobState: JobState?
            if let state {
                guard let value = JobState(rawValue: state) else { throw ValidationError("--state is not a job state") }
                jobState = value
            }
            var organizationID: String?
            if let org { organizationID = try await runAdministration { try await Administration.organization(store, slug: org) }.id }
            let page = try await jobs.jobs(JobQuery(queue: queue, state: jobState, organizationID: organizationID, limit: limit))
            print(pad("ID", 26), pad("QUEUE", 11), pad("TYPE", 24), pad("STATE", 10), pad("TRIES", 5), "RUN AT / ERROR")
            for job in page.jobs {
                let detail = job.lastError.map { "error: \($0.prefix(60))" } ?? Timestamp.format(job.runAt)
                print(pad(job.id, 26), pad(job.queue, 11), pad(job.type, 24), pad(job.state.rawValue, 10),
                      pad("\(job.attempts)/\(job.maxAttempts)", 5), detail)
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a dead, failed or cancelled job back in its queue.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The job's id.") var id: String

        func run() async throws {
            let (_, jobs) = try openJobs(common)
            let job = try await jobCommand { try await jobs.retry(id: id.uppercased(), now: Date()) }
            print("Job \(job.id) is \(job.state.rawValue) again on \(job.queue)")
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job that has not finished.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The job's id.") var id: String

        func run() async throws {
            let (_, jobs) = try openJobs(common)
            let job = try await jobCommand { try await jobs.cancel(id: id.uppercased(), now: Date()) }
            print("Job \(job.id) is \(job.state.rawValue)")
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Per-queue counts by state and the oldest wait.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            let (_, jobs) = try openJobs(common)
            let stats = try await jobs.stats(now: Date())
            let states = JobState.allCases
            print(([pad("QUEUE", 11)] + states.map { pad($0.rawValue, 9) } + ["OLDEST WAIT"]).joined(separator: " "))
            for queue in stats {
                let counts = states.map { pad(String(queue.counts[$0] ?? 0), 9) }
                print(([pad(queue.queue, 11)] + counts + [String(format: "%.1f s", queue.oldestWaitSeconds)]).joined(separator: " "))
            }
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure durable no-op jobs per second and enqueue-to-start latency (for `make bench`).", shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Option(help: "Jobs for the throughput run.") var count: Int = 20000
        @Option(help: "Jobs for the latency run (enqueued at a steady pace while workers wait).") var latencyCount: Int = 500

        func run() async throws {
            let configuration = try common.resolve()
            let store = try Appliance.openStore(configuration, logger: commandLogger())
            let result = try await JobBenchmark.run(store: store, count: count, latencyCount: latencyCount)
            print(String(
                format: "JOBS_RESULT %.1f %.1f %.1f %.3f %.3f %d", result.jobsPerSecond, result.batchedJobsPerSecond,
                result.enqueuePerSecond, result.latencyP50Milliseconds, result.latencyP99Milliseconds, count))
        }
    }
}

func openJobs(_ common: CommonOptions) throws -> (SQLiteStoreHandle, any JobQueue) {
    let configuration = try common.resolve()
    let store = try Appliance.openStore(configuration, logger: commandLogger())
    return (store, try Appliance.openJobs(store: store, logger: commandLogger()))
}

typealias SQLiteStoreHandle = SQLiteStore

func jobCommand<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as JobQueueError {
        throw ValidationError(error.message)
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// Logs to standard error: one JSON object per line (`ATS_LOG_FORMAT=json`, the default) with
/// the request and trace ids of the line's request, or plain text for a terminal.
func bootstrapLogging(_ configuration: Configuration) {
    let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
    let json = configuration.logFormat == "json"
    LoggingSystem.bootstrap(
        { label, provider in
            if json {
                var handler = JSONLogHandler(label: label, metadataProvider: provider)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
            handler.logLevel = level
            return handler
        }, metadataProvider: JSONLogHandler.tracingMetadataProvider())
}
