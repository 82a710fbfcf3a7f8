import ATSDomain
import ATSJobs
import Foundation
import Logging
import Synchronization
import Testing

/// Durable no-op jobs per second and enqueue-to-start latency. Opt-in (`ATS_JOBS_BENCH=1`);
/// printed, not asserted. Run it on a release build:
/// `ATS_JOBS_BENCH=1 swift test -c release --filter JobThroughput`.
@Suite("Job throughput", .enabled(if: ProcessInfo.processInfo.environment["ATS_JOBS_BENCH"] == "1"), .serialized)
struct JobThroughputTests {
    static let total = Int(ProcessInfo.processInfo.environment["ATS_JOBS_BENCH_N"] ?? "") ?? 50_000

    @Test("queue calls: batched enqueue, claim and complete")
    func queueCalls() async throws {
        let subject = try await JobQueueFactory.sqlite.make()
        let queue = subject.queue
        let q = JobQueues.analytics
        let start = ContinuousClock.now
        for offset in stride(from: 0, to: Self.total, by: 500) {
            _ = try await queue.enqueue(contentsOf: (offset..<min(Self.total, offset + 500)).map {
                JobRequest(queue: q, type: "noop", payload: ["n": .int(Int64($0))])
            })
        }
        let enqueued = ContinuousClock.now
        var done = 0
        while true {
            let jobs = try await queue.claim(queue: q, worker: "bench", lease: .seconds(30), now: Date().addingTimeInterval(1), limit: 256)
            if jobs.isEmpty { break }
            let ok = try await queue.complete(jobs.map { JobCompletion(id: $0.id, attempt: $0.attempts) }, now: Date())
            done += ok.filter { $0 }.count
        }
        let end = ContinuousClock.now
        #expect(done == Self.total)
        let enqueueRate = Double(Self.total) / (enqueued - start).seconds
        let processRate = Double(Self.total) / (end - enqueued).seconds
        let overall = Double(Self.total) / (end - start).seconds
        print(String(format: "jobs bench (queue calls, %d jobs): enqueue %.0f/s, claim+complete %.0f/s, end to end %.0f durable jobs/s", Self.total, enqueueRate, processRate, overall))
        await subject.cleanup()
    }

    @Test("the runner: no-op handler, enqueue while it runs")
    func runner() async throws {
        let subject = try await JobQueueFactory.sqlite.make()
        let queue = subject.queue
        let q = JobQueues.analytics
        let latencies = Mutex<[Double]>([])
        latencies.withLock { $0.reserveCapacity(Self.total) }
        let handler = TestHandler("noop") { job, _ in
            let waited = Date().timeIntervalSince(job.createdAt)
            latencies.withLock { $0.append(waited) }
            return nil
        }
        let runner = JobRunner(
            queue: queue, configurations: [.init(name: q, concurrency: 256, lease: .seconds(30))], handlers: [handler],
            options: .init(pollInterval: .milliseconds(50), maxClaimBatch: 256), logger: Logger(label: "bench"))
        let task = Task { try await runner.run() }
        let start = ContinuousClock.now
        for offset in stride(from: 0, to: Self.total, by: 200) {
            _ = try await queue.enqueue(contentsOf: (offset..<min(Self.total, offset + 200)).map { _ in JobRequest(queue: q, type: "noop") })
        }
        _ = await eventually(timeout: .seconds(300), every: .milliseconds(5)) { runner.figures.outcomes["completed", default: 0] >= Self.total }
        let end = ContinuousClock.now
        runner.shutdown()
        try await task.value
        let sorted = latencies.withLock { $0 }.sorted()
        let completed = runner.figures.outcomes["completed", default: 0]
        #expect(completed == Self.total)
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000 }
        print(String(format: "jobs bench (runner, %d jobs, concurrency 256): %.0f durable jobs/s (enqueue + claim + run + complete); enqueue-to-start p50 %.1f ms, p99 %.1f ms", completed, Double(completed) / (end - start).seconds, percentile(0.5), percentile(0.99)))

        // Latency when idle: one job at a time.
        let idle = Mutex<[Double]>([])
        let single = TestHandler("noop") { job, _ in idle.withLock { $0.append(Date().timeIntervalSince(job.createdAt)) }; return nil }
        let quiet = JobRunner(queue: queue, configurations: [.init(name: q, concurrency: 4, lease: .seconds(30))], handlers: [single], logger: Logger(label: "bench"))
        let quietTask = Task { try await quiet.run() }
        for _ in 0..<200 {
            let job = try await queue.enqueue(JobRequest(queue: q, type: "noop"))
            _ = await eventually(every: .microseconds(200)) { (try? await queue.job(id: job.id))??.state == .completed }
        }
        quiet.shutdown()
        try await quietTask.value
        let idleSorted = idle.withLock { $0 }.sorted()
        print(String(format: "jobs bench (one at a time, wake-up on enqueue): enqueue-to-start p50 %.2f ms, p99 %.2f ms", idleSorted[idleSorted.count / 2] * 1000, idleSorted[min(idleSorted.count - 1, idleSorted.count * 99 / 100)] * 1000))
        await subject.cleanup()
    }
}
