import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import Logging

/// The job tier's figures for `make bench`: durable no-op jobs through the real queue and
/// runner, measured the way the RQ anchor is (Tests/bench/python/rq_bench.py).
public enum JobBenchmark {
    public struct Result: Sendable {
        /// Jobs enqueued one by one and completed, per second, end to end.
        public var jobsPerSecond: Double
        /// The same, enqueued 100 per call.
        public var batchedJobsPerSecond: Double
        public var enqueuePerSecond: Double
        public var latencyP50Milliseconds: Double
        public var latencyP99Milliseconds: Double
    }

    static let type = "bench.noop"

    public static func run(store: SQLiteStore, count: Int, latencyCount: Int) async throws -> Result {
        var logger = Logger(label: "ats.bench")
        logger.logLevel = .error
        let jobs = try Appliance.openJobs(store: store, logger: logger)
        let noop = ClosureHandler(type: type) { _, _ in nil }
        let configuration = JobRunner.QueueConfiguration(name: JobQueues.maintenance, concurrency: 64)
        let runner = JobRunner(queue: jobs, configurations: [configuration], handlers: [noop], logger: logger)
        jobs.observeEnqueues { queue in runner.wake(queue) }

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runner.run() }
            defer { runner.shutdown() }

            // 1. Throughput, enqueued one job per call (each its own transaction), then run.
            let request = JobRequest(queue: JobQueues.maintenance, type: type, maxAttempts: 1)
            let start = ContinuousClock.now
            let enqueuers = 8
            try await withThrowingTaskGroup(of: Void.self) { enqueue in
                for worker in 0..<enqueuers {
                    enqueue.addTask {
                        for _ in stride(from: worker, to: count, by: enqueuers) { _ = try await jobs.enqueue(request) }
                    }
                }
                try await enqueue.waitForAll()
            }
            let enqueued = ContinuousClock.now
            try await waitUntilIdle(jobs)
            let done = ContinuousClock.now

            // 2. Throughput, enqueued in batches of 100 (like BullMQ's addBulk or RQ's enqueue_many).
            let batchStart = ContinuousClock.now
            for offset in stride(from: 0, to: count, by: 100) {
                _ = try await jobs.enqueue(contentsOf: Array(repeating: request, count: min(100, count - offset)))
            }
            try await waitUntilIdle(jobs)
            let batchDone = ContinuousClock.now

            // 3. Latency: jobs enqueued at a steady pace while the workers wait.
            var ids: [String] = []
            for _ in 0..<latencyCount {
                ids.append(try await jobs.enqueue(JobRequest(queue: JobQueues.maintenance, type: type, maxAttempts: 1)).id)
                try await Task.sleep(for: .milliseconds(4))
            }
            try await waitUntilIdle(jobs)
            var latencies: [Double] = []
            for id in ids {
                if let job = try await jobs.job(id: id), let started = job.startedAt {
                    latencies.append(started.timeIntervalSince(job.createdAt) * 1000)
                }
            }
            latencies.sort()
            func percentile(_ p: Double) -> Double {
                latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int((p / 100 * Double(latencies.count - 1)).rounded()))]
            }
            runner.shutdown()
            group.cancelAll()
            return Result(
                jobsPerSecond: Double(count) / (done - start).seconds,
                batchedJobsPerSecond: Double(count) / (batchDone - batchStart).seconds,
                enqueuePerSecond: Double(count) / (enqueued - start).seconds,
                latencyP50Milliseconds: percentile(50), latencyP99Milliseconds: percentile(99))
        }
    }

    static func waitUntilIdle(_ jobs: any JobQueue) async throws {
        while true {
            let stats = try await jobs.stats(now: Date())
            let open = stats.reduce(0) { total, queue in
                total + (queue.counts[.queued] ?? 0) + (queue.counts[.scheduled] ?? 0) + (queue.counts[.running] ?? 0)
            }
            if open == 0 { return }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
