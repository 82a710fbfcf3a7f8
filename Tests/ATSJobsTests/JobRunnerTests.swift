import ATSDomain
import ATSJobs
import Foundation
import Logging
import Synchronization
import Testing

/// A handler from a closure.
struct TestHandler: JobHandler {
    let type: String
    let body: @Sendable (Job, JobContext) async throws -> JSONObject?
    init(_ type: String, _ body: @escaping @Sendable (Job, JobContext) async throws -> JSONObject?) {
        self.type = type
        self.body = body
    }
    func run(_ job: Job, context: JobContext) async throws -> JSONObject? { try await body(job, context) }
}

/// Waits for about `duration` without looking at cancellation: a handler that hangs.
func ignoreCancellation(for duration: Duration) async {
    await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
        DispatchQueue.global().asyncAfter(deadline: .now() + duration.seconds) { continuation.resume() }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Runs a runner on a fresh SQLite queue for `body`, then drains it.
func withRunner(
    handlers: [any JobHandler], queues: [JobRunner.QueueConfiguration] = [.init(name: JobQueues.analytics, concurrency: 4, lease: .seconds(2))],
    options: JobRunner.Options = .init(retry: RetryPolicy(base: .milliseconds(20), cap: .milliseconds(200), jitter: 0), pollInterval: .milliseconds(20), recoveryInterval: .milliseconds(50), shutdownGrace: .seconds(5)),
    _ body: (JobRunner, any JobQueue) async throws -> Void
) async throws {
    let subject = try await JobQueueFactory.sqlite.make()
    let runner = JobRunner(
        queue: subject.queue, configurations: queues, handlers: handlers, options: options, workerID: "test-runner",
        logger: Logger(label: "test.runner"))
    let running = Task { try await runner.run() }
    do {
        try await body(runner, subject.queue)
    } catch {
        runner.shutdown()
        _ = try? await running.value
        await subject.cleanup()
        throw error
    }
    runner.shutdown()
    try await running.value
    await subject.cleanup()
}

@Suite("JobRunner", .serialized)
struct JobRunnerTests {
    static let q = JobQueues.analytics

    func finished(_ queue: any JobQueue, _ id: String) async throws -> Job? {
        var last: Job?
        _ = try await eventually { last = try await queue.job(id: id); return last?.state.isFinished == true }
        return last
    }

    @Test("a failing job is retried with backoff, then succeeds")
    func retries() async throws {
        let starts = Mutex<[Date]>([])
        let handler = TestHandler("flaky") { job, _ in
            starts.withLock { $0.append(Date()) }
            if job.attempts < 3 { throw JobFailure.transient("try again (\(job.attempts))") }
            return ["ok": true]
        }
        try await withRunner(handlers: [handler]) { runner, queue in
            let job = try await queue.enqueue(JobRequest(queue: Self.q, type: "flaky", maxAttempts: 5))
            let done = try #require(try await finished(queue, job.id))
            #expect(done.state == .completed)
            #expect(done.attempts == 3)
            #expect(done.result == ["ok": true])
            #expect(done.lastError == "try again (2)")
            let times = starts.withLock { $0 }
            #expect(times.count == 3)
            // Backoff 20 ms then 40 ms (no jitter).
            #expect(times[1].timeIntervalSince(times[0]) >= 0.019)
            #expect(times[2].timeIntervalSince(times[1]) >= 0.039)
            // The figures are counted just after the queue records the outcome.
            _ = try await eventually { runner.figures.outcomes["completed"] == 1 }
            // Two failed attempts were counted (as "retried"; on a loaded machine a fail can land
            // after its lease and count as "lost" or "unrecorded", and recovery retries it instead).
            let outcomes = runner.figures.outcomes
            let failures = ["retried", "lost", "unrecorded"].reduce(0) { $0 + (outcomes[$1] ?? 0) }
            #expect(failures == 2, "\(outcomes)")
            #expect(outcomes["completed"] == 1)
        }
    }

    @Test("a permanent failure, an unknown type and used-up attempts are dead letters with their error")
    func deadLetters() async throws {
        let permanent = TestHandler("bad") { _, _ in throw JobFailure.permanent("payload does not decode") }
        let always = TestHandler("always") { _, _ in throw CocoaError(.fileNoSuchFile) }
        try await withRunner(handlers: [permanent, always]) { runner, queue in
            let a = try await queue.enqueue(JobRequest(queue: Self.q, type: "bad", maxAttempts: 5))
            let b = try await queue.enqueue(JobRequest(queue: Self.q, type: "mystery"))
            let c = try await queue.enqueue(JobRequest(queue: Self.q, type: "always", maxAttempts: 2))
            let deadA = try #require(try await finished(queue, a.id))
            #expect(deadA.state == .dead)
            #expect(deadA.attempts == 1)
            #expect(deadA.lastError == "payload does not decode")
            let deadB = try #require(try await finished(queue, b.id))
            #expect(deadB.state == .dead)
            #expect(deadB.lastError == "no handler for type mystery")
            let deadC = try #require(try await finished(queue, c.id))
            #expect(deadC.state == .dead)
            #expect(deadC.attempts == 2)
            #expect(deadC.lastError?.isEmpty == false)
            // A dead letter can be retried.
            let again = try await queue.retry(id: a.id, now: Date())
            #expect(again.state == .queued)
            #expect(try await finished(queue, a.id)?.attempts == 1)
        }
    }

    @Test("a timeout stops a job, even one that ignores cancellation; its late result is dropped")
    func timeouts() async throws {
        let cooperativeStopped = Atomic<Bool>(false)
        let hangingReturned = Atomic<Bool>(false)
        let cooperative = TestHandler("sleepy") { _, _ in
            do { try await Task.sleep(for: .seconds(30)) } catch { cooperativeStopped.store(true, ordering: .relaxed); throw error }
            return nil
        }
        let hanging = TestHandler("hang") { _, _ in
            await ignoreCancellation(for: .milliseconds(1500))
            hangingReturned.store(true, ordering: .relaxed)
            return ["late": true]
        }
        try await withRunner(handlers: [cooperative, hanging]) { runner, queue in
            let started = Date()
            let a = try await queue.enqueue(JobRequest(queue: Self.q, type: "sleepy", maxAttempts: 1, timeout: .milliseconds(150)))
            let b = try await queue.enqueue(JobRequest(queue: Self.q, type: "hang", maxAttempts: 1, timeout: .milliseconds(200)))
            let deadA = try #require(try await finished(queue, a.id))
            let deadB = try #require(try await finished(queue, b.id))
            #expect(Date().timeIntervalSince(started) < 1.2)
            #expect(deadA.state == .dead)
            #expect(deadA.lastError == "timed out after 0.15s")
            #expect(deadB.state == .dead)
            #expect(deadB.lastError == "timed out after 0.2s")
            #expect(try await eventually(timeout: .seconds(2)) { cooperativeStopped.load(ordering: .relaxed) })
            // The slot is free although the hanging handler still runs.
            #expect(hangingReturned.load(ordering: .relaxed) == false)
            #expect(try await eventually(timeout: .seconds(2)) { runner.figures.running[Self.q] == 0 })
            #expect(try await eventually(timeout: .seconds(3)) { hangingReturned.load(ordering: .relaxed) })
            try await Task.sleep(for: .milliseconds(100))
            let after = try #require(try await queue.job(id: b.id))
            #expect(after.state == .dead)
            #expect(after.result == nil)
        }
    }

    @Test("per-queue concurrency is never exceeded")
    func concurrency() async throws {
        let state = Mutex<(now: Int, max: Int)>((0, 0))
        let handler = TestHandler("work") { _, _ in
            state.withLock { $0.now += 1; $0.max = max($0.max, $0.now) }
            try await Task.sleep(for: .milliseconds(15))
            state.withLock { $0.now -= 1 }
            return nil
        }
        try await withRunner(handlers: [handler], queues: [.init(name: Self.q, concurrency: 3, lease: .seconds(5))]) { _, queue in
            let jobs = try await queue.enqueue(contentsOf: (0..<40).map { _ in JobRequest(queue: Self.q, type: "work") })
            for job in jobs { #expect(try await finished(queue, job.id)?.state == .completed) }
        }
        let peak = state.withLock { $0.max }
        #expect(peak <= 3)
        #expect(peak >= 2)
    }

    @Test("the rate limit holds under a burst")
    func rateLimit() async throws {
        let starts = Mutex<[Date]>([])
        let handler = TestHandler("send") { _, _ in
            starts.withLock { $0.append(Date()) }
            return nil
        }
        // 1,200 a minute = 20 a second, bursts of 2; 200 jobs arrive at once.
        let queues: [JobRunner.QueueConfiguration] = [.init(name: Self.q, concurrency: 10, ratePerMinute: 1200, burst: 2, lease: .seconds(5))]
        let window = 1.5
        try await withRunner(handlers: [handler], queues: queues) { _, queue in
            _ = try await queue.enqueue(contentsOf: (0..<200).map { _ in JobRequest(queue: Self.q, type: "send") })
            try await Task.sleep(for: .seconds(window))
        }
        let times = starts.withLock { $0 }.sorted()
        let first = try #require(times.first)
        let inWindow = times.filter { $0.timeIntervalSince(first) <= window }.count
        // Burst plus the rate over the window (one token of slack for timer rounding).
        #expect(inWindow <= 2 + Int(20 * window) + 1)
        #expect(inWindow >= Int(20 * window) / 2)
        // No sliding half-second holds more than its share.
        for (index, start) in times.enumerated() {
            let count = times[index...].prefix { $0.timeIntervalSince(start) < 0.5 }.count
            #expect(count <= 2 + 10 + 1)
        }
    }

    @Test("progress is recorded while a job runs")
    func progress() async throws {
        let gate = Atomic<Bool>(false)
        let handler = TestHandler("long") { _, context in
            #expect(await context.progress(40, "reading rows"))
            while !gate.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
            return nil
        }
        try await withRunner(handlers: [handler]) { _, queue in
            let job = try await queue.enqueue(JobRequest(queue: Self.q, type: "long"))
            var seen: Job?
            #expect(try await eventually { seen = try await queue.job(id: job.id); return seen?.progress != nil })
            #expect(seen?.progress == JobProgress(percent: 40, message: "reading rows"))
            #expect(seen?.state == .running)
            gate.store(true, ordering: .relaxed)
            #expect(try await finished(queue, job.id)?.state == .completed)
        }
    }

    @Test("cancelling a running job stops its handler")
    func cancelRunning() async throws {
        let observed = Atomic<Bool>(false)
        let handler = TestHandler("loop") { _, context in
            while !context.isCancelled {
                try? await Task.sleep(for: .milliseconds(5))
            }
            observed.store(true, ordering: .relaxed)
            return ["should": "be dropped"]
        }
        try await withRunner(handlers: [handler]) { runner, queue in
            let job = try await queue.enqueue(JobRequest(queue: Self.q, type: "loop"))
            #expect(try await eventually { try await queue.job(id: job.id)?.state == .running })
            _ = try await queue.cancel(id: job.id, now: Date())
            #expect(try await eventually(timeout: .seconds(2)) { observed.load(ordering: .relaxed) })
            let after = try #require(try await queue.job(id: job.id))
            #expect(after.state == .cancelled)
            #expect(after.result == nil)
            #expect(try await eventually { runner.figures.outcomes["lost"] == 1 })
        }
    }

    @Test("a drain waits for running jobs; past its grace it hands them back")
    func drain() async throws {
        let handler = TestHandler("slow") { job, _ in
            try await Task.sleep(for: job.payload["ms"]?.intValue.map { .milliseconds($0) } ?? .seconds(1))
            return nil
        }
        // Within the grace: the job finishes.
        let subject = try await JobQueueFactory.sqlite.make()
        let queues: [JobRunner.QueueConfiguration] = [.init(name: Self.q, concurrency: 2, lease: .seconds(5))]
        var options = JobRunner.Options(pollInterval: .milliseconds(20), shutdownGrace: .seconds(3))
        var runner = JobRunner(queue: subject.queue, configurations: queues, handlers: [handler], options: options)
        var task = Task { [runner] in try await runner.run() }
        let short = try await subject.queue.enqueue(JobRequest(queue: Self.q, type: "slow", payload: ["ms": 300]))
        #expect(try await eventually { try await subject.queue.job(id: short.id)?.state == .running })
        runner.shutdown()
        // No new claims once draining.
        let later = try await subject.queue.enqueue(JobRequest(queue: Self.q, type: "slow", payload: ["ms": 1]))
        try await task.value
        #expect(try await subject.queue.job(id: short.id)?.state == .completed)
        #expect(try await subject.queue.job(id: later.id)?.state == .queued)
        // Past the grace: the job goes back to its queue with its attempt given back.
        options.shutdownGrace = .milliseconds(100)
        runner = JobRunner(queue: subject.queue, configurations: queues, handlers: [handler], options: options)
        task = Task { [runner] in try await runner.run() }
        let long = try await subject.queue.enqueue(JobRequest(queue: Self.q, type: "slow", payload: ["ms": 10_000]))
        #expect(try await eventually { try await subject.queue.job(id: long.id)?.state == .running })
        let stopAt = Date()
        runner.shutdown()
        try await task.value
        #expect(Date().timeIntervalSince(stopAt) < 2)
        let back = try #require(try await subject.queue.job(id: long.id))
        #expect(back.state == .queued)
        #expect(back.attempts == 0)
        #expect(runner.figures.outcomes["released"] == 1)
        await subject.cleanup()
    }

    /// The `kill -9` proof without a child process: a worker claims a job with a short lease and
    /// dies (never heart-beats, never finishes). The runner's lease recovery picks the job up
    /// and it completes exactly once; the dead worker's late completion changes nothing.
    @Test("a job whose worker died is recovered after its lease and completes exactly once")
    func deadWorker() async throws {
        let runs = Atomic<Int>(0)
        let handler = TestHandler("once") { _, _ in
            runs.add(1, ordering: .relaxed)
            return ["done": true]
        }
        // The doomed worker claims before the runner exists.
        let subject = try await JobQueueFactory.sqlite.make()
        let queue = subject.queue
        let job = try await queue.enqueue(JobRequest(queue: JobQueues.maintenance, type: "once", maxAttempts: 3))
        let doomed = try #require(try await queue.claim(queue: JobQueues.maintenance, worker: "killed-9", lease: .milliseconds(200), now: Date()))
        #expect(doomed.id == job.id)
        let runner = JobRunner(
            queue: queue, configurations: [.init(name: JobQueues.maintenance, concurrency: 2, lease: .seconds(5))], handlers: [handler],
            options: .init(pollInterval: .milliseconds(20), recoveryInterval: .milliseconds(50)))
        let task = Task { try await runner.run() }
        let done = try #require(try await finished(queue, job.id))
        #expect(done.state == .completed)
        #expect(done.attempts == 2)
        #expect(done.worker != "killed-9")
        #expect(done.lastError?.contains("killed-9") == true)
        // The dead worker comes back to life: its attempt no longer owns the job.
        #expect(try await queue.complete(id: job.id, attempt: doomed.attempts, result: ["zombie": true], now: Date()) == false)
        try await Task.sleep(for: .milliseconds(300))
        runner.shutdown()
        try await task.value
        #expect(runs.load(ordering: .relaxed) == 1)
        #expect(try await queue.job(id: job.id)?.result == ["done": true])
        #expect(runner.figures.recovered == 1)
        await subject.cleanup()
    }

    @Test("an in-process enqueue wakes an idle runner at once")
    func wakeUp() async throws {
        let handler = TestHandler("quick") { _, _ in nil }
        let options = JobRunner.Options(pollInterval: .seconds(30))
        try await withRunner(handlers: [handler], options: options) { _, queue in
            try await Task.sleep(for: .milliseconds(50))
            let started = Date()
            let job = try await queue.enqueue(JobRequest(queue: Self.q, type: "quick"))
            #expect(try await finished(queue, job.id)?.state == .completed)
            #expect(Date().timeIntervalSince(started) < 2)
        }
    }
}
