import ATSDomain
import ATSJobs
import Foundation
import Logging
import Synchronization
import Testing

/// Time that moves only when the test says so.
final class ManualClock: Sendable {
    private struct Sleeper {
        let deadline: Date
        let continuation: CheckedContinuation<Void, any Error>
    }

    private let state: Mutex<(now: Date, sleepers: [UUID: Sleeper])>

    init(_ start: Date) { state = Mutex((start, [:])) }

    var now: Date { state.withLock { $0.now } }
    var sleeping: Int { state.withLock { $0.sleepers.count } }

    var jobClock: JobClock {
        JobClock(now: { self.now }, sleep: { try await self.sleep($0) })
    }

    func sleep(_ duration: Duration) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    let deadline = state.now.addingTimeInterval(duration.seconds)
                    if deadline <= state.now { return true }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    func advance(to date: Date) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = date
            let due = state.sleepers.filter { $0.value.deadline <= date }
            for key in due.keys { state.sleepers[key] = nil }
            return Array(due.values)
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}

func utc(_ text: String) -> Date { Timestamp.parse(text)! }

@Suite("Cron")
struct CronTests {
    @Test("parses 5-field expressions and macros and finds the next time in UTC")
    func schedules() throws {
        func next(_ expression: String, _ after: String) throws -> String {
            Timestamp.format(try CronSchedule(expression).next(after: utc(after)))
        }
        #expect(try next("*/15 * * * *", "2030-01-01T10:07:30Z") == "2030-01-01T10:15:00.000Z")
        #expect(try next("*/15 * * * *", "2030-01-01T10:15:00Z") == "2030-01-01T10:30:00.000Z")
        #expect(try next("0 9 * * 1-5", "2030-01-05T12:00:00Z") == "2030-01-07T09:00:00.000Z")  // Saturday -> Monday
        #expect(try next("@daily", "2030-01-31T23:59:00Z") == "2030-02-01T00:00:00.000Z")
        #expect(try next("@hourly", "2030-01-01T10:00:00Z") == "2030-01-01T11:00:00.000Z")
        #expect(try next("@weekly", "2030-01-01T00:00:00Z") == "2030-01-06T00:00:00.000Z")  // next Sunday
        #expect(try next("30 2 1,15 * *", "2030-01-02T00:00:00Z") == "2030-01-15T02:30:00.000Z")
        #expect(try next("0 0 1 jan *", "2030-06-01T00:00:00Z") == "2031-01-01T00:00:00.000Z")
        #expect(try next("0 0 29 2 *", "2030-03-01T00:00:00Z") == "2032-02-29T00:00:00.000Z")
        #expect(try next("5-10/5 * * * *", "2030-01-01T00:06:00Z") == "2030-01-01T00:10:00.000Z")
        #expect(try next("0 0 * * 7", "2030-01-01T00:00:00Z") == "2030-01-06T00:00:00.000Z")  // 7 is Sunday
        // Both day fields restricted: either matches (the 13th, or a Friday).
        #expect(try next("0 0 13 * FRI", "2030-01-01T00:00:00Z") == "2030-01-04T00:00:00.000Z")
        #expect(try next("0 0 13 * FRI", "2030-01-11T00:00:00Z") == "2030-01-13T00:00:00.000Z")
        for bad in ["", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "*/0 * * * *", "5-1 * * * *",
            "0 0 30 2 *", "a b c d e", "1,,2 * * * *"]
        {
            #expect(throws: JobQueueError.self, "\(bad)") { try CronSchedule(bad) }
        }
    }

    func recurring(_ name: String, _ expression: String) throws -> RecurringJob {
        RecurringJob(name: name, schedule: try CronSchedule(expression), request: JobRequest(queue: JobQueues.maintenance, type: "tick"))
    }

    /// Advances minute by minute, letting the scheduler catch up after each step.
    func advance(_ clock: ManualClock, to end: Date, loops: Int) async throws {
        var at = clock.now
        while at < end {
            at = min(end, at.addingTimeInterval(60))
            clock.advance(to: at)
            #expect(try await eventually(timeout: .seconds(5), every: .milliseconds(1)) { clock.sleeping == loops })
        }
    }

    func fired(_ queue: any JobQueue) async throws -> [String] {
        try await queue.jobs(JobQuery(queue: JobQueues.maintenance, limit: 200)).jobs.compactMap(\.uniqueKey).sorted()
    }

    @Test("fires on schedule with an injected clock, once per occurrence across restarts and twin schedulers")
    func scheduler() async throws {
        let subject = try await JobQueueFactory.sqlite.make()
        let ledger = try #require(subject.queue as? SQLiteJobQueue)
        let clock = ManualClock(utc("2030-01-01T00:00:30Z"))
        let jobs = [try recurring("sweep", "*/5 * * * *"), try recurring("hourly", "@hourly")]
        let a = CronScheduler(ledger: ledger, jobs: jobs, clock: clock.jobClock, logger: Logger(label: "test.cron"))
        let twin = CronScheduler(ledger: ledger, jobs: jobs, clock: clock.jobClock, logger: Logger(label: "test.cron"))
        let runA = Task { try await a.run() }
        let runTwin = Task { try await twin.run() }
        #expect(try await eventually { clock.sleeping == 4 })
        try await advance(clock, to: utc("2030-01-01T00:21:00Z"), loops: 4)
        #expect(try await fired(subject.queue) == [
            "cron:sweep:2030-01-01T00:05:00.000Z", "cron:sweep:2030-01-01T00:10:00.000Z",
            "cron:sweep:2030-01-01T00:15:00.000Z", "cron:sweep:2030-01-01T00:20:00.000Z",
        ])
        // Complete them all, so a unique key alone could not stop a duplicate.
        while let job = try await subject.queue.claim(queue: JobQueues.maintenance, worker: "w", lease: .seconds(5), now: Date().addingTimeInterval(1)) {
            try await subject.queue.complete(id: job.id, attempt: job.attempts, result: nil, now: Date())
        }
        runA.cancel()
        runTwin.cancel()
        _ = try? await runA.value
        _ = try? await runTwin.value

        // A restart in the same minute fires nothing again.
        let b = CronScheduler(ledger: ledger, jobs: jobs, clock: clock.jobClock, logger: Logger(label: "test.cron"))
        let runB = Task { try await b.run() }
        #expect(try await eventually { clock.sleeping == 2 })
        #expect(try await fired(subject.queue).count == 4)
        runB.cancel()
        _ = try? await runB.value

        // Down from 00:21 to 01:12: one catch-up of the latest missed occurrence (01:10), then on schedule.
        clock.advance(to: utc("2030-01-01T01:12:10Z"))
        let c = CronScheduler(ledger: ledger, jobs: jobs, clock: clock.jobClock, logger: Logger(label: "test.cron"))
        let runC = Task { try await c.run() }
        #expect(try await eventually { clock.sleeping == 2 })
        try await advance(clock, to: utc("2030-01-01T01:16:00Z"), loops: 2)
        runC.cancel()
        _ = try? await runC.value
        let keys = try await fired(subject.queue)
        #expect(keys.count == 6)
        // `hourly` never fired before, so the ledger has nothing to catch up on: it starts at 02:00.
        #expect(!keys.contains("cron:hourly:2030-01-01T01:00:00.000Z"))
        #expect(keys.contains("cron:sweep:2030-01-01T01:10:00.000Z"))
        #expect(keys.contains("cron:sweep:2030-01-01T01:15:00.000Z"))
        #expect(!keys.contains("cron:sweep:2030-01-01T00:25:00.000Z"))
        #expect(try await ledger.lastOccurrence(of: "sweep") == utc("2030-01-01T01:15:00Z"))
        await subject.cleanup()
    }
}
