import ATSDomain
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import Tracing

/// Runs the jobs of the configured queues with the registered handlers: per-queue concurrency
/// and rate limits, heartbeats that keep leases, per-job timeouts that really stop a job,
/// retries with backoff, dead letters, lease recovery, and a graceful drain on shutdown.
/// A `Service`: every loop lives in `run()`.
public final class JobRunner: Service, Sendable {
    /// How one queue is worked.
    public struct QueueConfiguration: Sendable, Hashable {
        public var name: String
        /// Jobs of this queue running at once in this process.
        public var concurrency: Int
        /// Job starts per minute at most (a token bucket); nil: unlimited.
        public var ratePerMinute: Int?
        /// Starts allowed back to back before the rate applies; nil: `concurrency`.
        public var burst: Int?
        /// The per-attempt time limit of jobs that do not set one.
        public var defaultTimeout: Duration
        /// How long a claim holds a job without a heartbeat; heartbeats come every third of it.
        public var lease: Duration

        public init(
            name: String, concurrency: Int, ratePerMinute: Int? = nil, burst: Int? = nil,
            defaultTimeout: Duration = .seconds(300), lease: Duration = .seconds(30)
        ) {
            self.name = name
            self.concurrency = max(1, concurrency)
            self.ratePerMinute = ratePerMinute.map { max(1, $0) }
            self.burst = burst.map { max(1, $0) }
            self.defaultTimeout = defaultTimeout
            self.lease = max(lease, .milliseconds(30))
        }

        /// The seed design's figures for a small VM (2 cores): embeddings at 5 workers and 100 a minute.
        public static let defaults: [QueueConfiguration] = [
            .init(name: JobQueues.embeddings, concurrency: 5, ratePerMinute: 100, defaultTimeout: .seconds(60)),
            .init(name: JobQueues.documents, concurrency: 2, defaultTimeout: .seconds(120)),
            .init(name: JobQueues.emails, concurrency: 4, ratePerMinute: 300, defaultTimeout: .seconds(60)),
            .init(name: JobQueues.exports, concurrency: 1, defaultTimeout: .seconds(15 * 60), lease: .seconds(60)),
            .init(name: JobQueues.imports, concurrency: 1, defaultTimeout: .seconds(30 * 60), lease: .seconds(60)),
            .init(name: JobQueues.analytics, concurrency: 1, defaultTimeout: .seconds(5 * 60)),
            .init(name: JobQueues.maintenance, concurrency: 1, defaultTimeout: .seconds(30 * 60), lease: .seconds(60)),
            .init(name: JobQueues.search, concurrency: 1, defaultTimeout: .seconds(30 * 60), lease: .seconds(60)),
        ]
    }

    /// Runner-wide settings.
    public struct Options: Sendable, Hashable {
        /// The retry backoff.
        public var retry: RetryPolicy
        /// How often an idle queue looks for work that no in-process wake-up announced
        /// (jobs enqueued by another process, delayed jobs coming due).
        public var pollInterval: Duration
        /// How often expired leases are looked for.
        public var recoveryInterval: Duration
        /// How long a drain waits for running jobs before it cancels them and hands them back.
        public var shutdownGrace: Duration
        /// Most jobs one claim takes (bounded by free slots and rate tokens).
        public var maxClaimBatch: Int

        public init(
            retry: RetryPolicy = RetryPolicy(), pollInterval: Duration = .milliseconds(200),
            recoveryInterval: Duration = .seconds(5), shutdownGrace: Duration = .seconds(20), maxClaimBatch: Int = 64
        ) {
            self.retry = retry
            self.pollInterval = pollInterval
            self.recoveryInterval = recoveryInterval
            self.shutdownGrace = shutdownGrace
            self.maxClaimBatch = max(1, maxClaimBatch)
        }
    }

    /// What the runner has done since it started (the admin view; tests read it too).
    public struct Figures: Sendable, Hashable {
        /// Jobs running now, by queue.
        public var running: [String: Int] = [:]
        /// Attempts ended, by outcome: completed, retried, dead, lost, released.
        public var outcomes: [String: Int] = [:]
        /// Jobs put back by lease recovery.
        public var recovered = 0
    }

    public let queue: any JobQueue
    public let configurations: [QueueConfiguration]
    public let options: Options
    /// This process's worker name, recorded on the jobs it claims.
    public let workerID: String
    let handlers: [String: any JobHandler]
    let clock: JobClock
    let logger: Logger
    let metrics: JobMetrics?
    /// Gives each attempt a consumer span linked to the span that enqueued the job.
    let tracer: (any Tracer)?
    let lanes: [String: Lane]
    let stopping = Atomic<Bool>(false)
    let figuresState = Mutex(Figures())

    /// One queue's running count, wake-up signal and running attempts (for the drain).
    final class Lane: Sendable {
        let configuration: QueueConfiguration
        let signal = Signal()
        let state = Mutex<(running: Int, attempts: [String: AttemptRace])>((0, [:]))

        init(_ configuration: QueueConfiguration) { self.configuration = configuration }
        var running: Int { state.withLock { $0.running } }
    }

    public init(
        queue: any JobQueue, configurations: [QueueConfiguration] = QueueConfiguration.defaults,
        handlers: [any JobHandler], options: Options = Options(), clock: JobClock = .system,
        workerID: String? = nil, logger: Logger = Logger(label: "ats.jobs.runner"),
        metrics: PrometheusCollectorRegistry? = nil, tracer: (any Tracer)? = nil
    ) {
        self.queue = queue
        self.tracer = tracer
        self.configurations = configurations
        self.options = options
        self.clock = clock
        self.logger = logger
        self.metrics = metrics.map(JobMetrics.init)
        var byType: [String: any JobHandler] = [:]
        for handler in handlers { byType[handler.type] = handler }
        self.handlers = byType
        var lanes: [String: Lane] = [:]
        for configuration in configurations { lanes[configuration.name] = Lane(configuration) }
        self.lanes = lanes
        self.workerID =
            workerID
            ?? "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(Identifier.make().suffix(6))"
    }

    /// Looks for work now (a job was enqueued in this process); nil wakes every queue.
    public func wake(_ queueName: String? = nil) {
        if let queueName {
            lanes[queueName]?.signal.fire()
        } else {
            for lane in lanes.values { lane.signal.fire() }
        }
    }

    /// Starts the drain: no new claims; running jobs get `shutdownGrace` to finish. `run()`
    /// returns when they are done. (A ServiceGroup's graceful shutdown does the same.)
    public func shutdown() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        wake()
    }

    public var figures: Figures {
        var figures = figuresState.withLock { $0 }
        for (name, lane) in lanes { figures.running[name] = lane.running }
        return figures
    }

    public func run() async throws {
        if let observable = queue as? any JobEnqueueObservable {
            observable.observeEnqueues { [weak self] name in self?.wake(name) }
        }
        let batcher = CompletionBatcher(queue: queue, clock: clock)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { outer in
                outer.addTask { await batcher.run() }
                await withDiscardingTaskGroup { group in
                    for lane in self.lanes.values {
                        group.addTask { await self.work(lane, batcher: batcher) }
                    }
                    group.addTask { await self.recoverLeases() }
                }
                batcher.close()
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        logger.info("job runner stopped", metadata: ["worker": "\(workerID)"])
    }

    var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) || Task.isCancelled }

    // MARK: Loops

    /// One queue: claim while there are free slots and rate tokens, run each job in the group.
    func work(_ lane: Lane, batcher: CompletionBatcher) async {
        let configuration = lane.configuration
        var bucket = configuration.ratePerMinute.map {
            TokenBucket(perMinute: $0, burst: configuration.burst ?? configuration.concurrency, now: clock.now())
        }
        // Claims that failed in a row: the wait grows with them, and only the first is logged
        // (a full disk or a locked database fails every claim until it is fixed).
        var claimFailures = 0
        await withDiscardingTaskGroup { group in
            while !isStopping {
                let free = configuration.concurrency - lane.running
                if free <= 0 {
                    await lane.signal.wait(timeout: options.pollInterval, clock: clock)
                    continue
                }
                var wanted = min(free, options.maxClaimBatch)
                if bucket != nil {
                    let granted = bucket!.take(upTo: wanted, now: clock.now())
                    if granted == 0 {
                        await lane.signal.wait(timeout: bucket!.timeUntilToken(now: clock.now()), clock: clock)
                        continue
                    }
                    wanted = granted
                }
                let jobs: [Job]
                do {
                    jobs = try await queue.claim(
                        queue: configuration.name, worker: workerID, lease: configuration.lease, now: clock.now(),
                        limit: wanted)
                } catch {
                    bucket?.giveBack(wanted)
                    if isStopping { break }
                    claimFailures += 1
                    if claimFailures == 1 {
                        logger.warning(
                            "claiming jobs failed; retrying with a growing wait, logged again once it works",
                            metadata: ["queue": "\(configuration.name)", "error": "\(error)"])
                    }
                    await lane.signal.wait(timeout: Self.claimBackoff(after: claimFailures, poll: options.pollInterval), clock: clock)
                    continue
                }
                if claimFailures > 0 {
                    logger.notice(
                        "claiming jobs works again", metadata: ["queue": "\(configuration.name)", "failures": "\(claimFailures)"])
                    claimFailures = 0
                }
                bucket?.giveBack(wanted - jobs.count)
                if jobs.isEmpty {
                    await lane.signal.wait(timeout: options.pollInterval, clock: clock)
                    continue
                }
                for job in jobs {
                    let race = AttemptRace()
                    lane.state.withLock {
                        $0.running += 1
                        $0.attempts[job.id] = race
                    }
                    metrics?.running(configuration.name, by: 1)
                    group.addTask {
                        await self.execute(job, race: race, lane: lane, batcher: batcher)
                        lane.state.withLock {
                            $0.running -= 1
                            $0.attempts[job.id] = nil
                        }
                        self.metrics?.running(configuration.name, by: -1)
                        lane.signal.fire()
                    }
                }
            }
            await drain(lane)
        }
    }

    /// The wait after `failures` failed claims in a row: the poll interval, doubling, at most 10 s.
    static func claimBackoff(after failures: Int, poll: Duration) -> Duration {
        let factor = 1 << Swift.min(Swift.max(failures - 1, 0), 6)
        return Swift.min(poll * factor, Swift.max(poll, .seconds(10)))
    }

    /// Waits up to the grace period for the lane's jobs, then interrupts the rest.
    func drain(_ lane: Lane) async {
        let deadline = clock.now().addingTimeInterval(options.shutdownGrace.seconds)
        while lane.running > 0, !Task.isCancelled {
            let left = deadline.timeIntervalSince(clock.now())
            if left <= 0 { break }
            await lane.signal.wait(timeout: .milliseconds(Int64(min(left, 0.05) * 1000) + 1), clock: clock)
        }
        let races = lane.state.withLock { Array($0.attempts.values) }
        if !races.isEmpty {
            logger.warning(
                "drain grace over: handing running jobs back",
                metadata: ["queue": "\(lane.configuration.name)", "count": "\(races.count)"])
        }
        for race in races { race.finish(.interrupted) }
    }

    /// Puts jobs whose worker died back in their queues.
    func recoverLeases() async {
        while !isStopping {
            do {
                let recovered = try await queue.recoverExpiredLeases(now: clock.now())
                if recovered > 0 {
                    figuresState.withLock { $0.recovered += recovered }
                    metrics?.recovered(recovered)
                    wake()
                }
            } catch {
                logger.error("lease recovery failed", metadata: ["error": "\(error)"])
            }
            // Short naps so a drain is not held up by a long recovery interval.
            var left = options.recoveryInterval
            while left > .zero, !isStopping {
                let step = min(left, .milliseconds(100))
                do { try await clock.sleep(step) } catch { return }
                left -= step
            }
        }
    }

    func count(_ outcome: String) {
        figuresState.withLock { $0.outcomes[outcome, default: 0] += 1 }
    }
}
