import ATSDomain
import Foundation
import Logging
import Synchronization
import Tracing

extension JobRunner {
    /// Runs one attempt: the handler in a task of its own (so one that ignores cancellation can
    /// be abandoned), a watchdog that heart-beats and enforces the timeout, then records the
    /// outcome with the attempt number, so a late or lost attempt changes nothing.
    func execute(_ job: Job, race: AttemptRace, lane: Lane, batcher: CompletionBatcher) async {
        let configuration = lane.configuration
        let started = clock.now()
        metrics?.waited(configuration.name, seconds: started.timeIntervalSince(job.runAt))
        var logger = self.logger
        logger[metadataKey: "job"] = "\(job.id)"
        logger[metadataKey: "type"] = "\(job.type)"
        logger[metadataKey: "attempt"] = "\(job.attempts)"

        guard let handler = handlers[job.type] else {
            await record(
                job, outcome: .failed(message: "no handler for type \(job.type)", retryable: false),
                reason: "no_handler", started: started, batcher: batcher, logger: logger)
            return
        }

        let timeout = job.timeout ?? configuration.defaultTimeout
        let lease = configuration.lease
        let beatEvery = lease / 3
        let queue = self.queue
        let clock = self.clock
        let beat = HeartbeatState(now: started)

        let context = JobContext(logger: logger) { progress in
            guard beat.record(progress) else { return false }
            let now = clock.now()
            guard beat.due(now: now, every: min(beatEvery, .seconds(1))) else { return !race.isDecided }
            let owned = (try? await queue.heartbeat(
                id: job.id, attempt: job.attempts, lease: lease, progress: progress, now: now)) ?? true
            if !owned {
                beat.lose()
                race.finish(.lost)
            }
            return owned && !race.isDecided
        }

        let span = startSpan(for: job)
        defer { span?.end() }
        let spanContext = span?.context ?? ServiceContext.current ?? .topLevel
        let work = Task {
            do {
                let result = try await ServiceContext.$current.withValue(spanContext) {
                    try await handler.run(job, context: context)
                }
                race.finish(.succeeded(result))
            } catch let failure as JobFailure {
                race.finish(.failed(message: failure.message, retryable: failure.retryable))
            } catch {
                race.finish(.failed(message: String(describing: error), retryable: true))
            }
        }
        let watchdog = Task {
            let deadline = started.addingTimeInterval(timeout.seconds)
            while !race.isDecided {
                let now = clock.now()
                let left = deadline.timeIntervalSince(now)
                if left <= 0 {
                    race.finish(.timedOut)
                    return
                }
                let nap = min(beatEvery.seconds, left)
                do { try await clock.sleep(.milliseconds(Int64((nap * 1000).rounded(.up)))) } catch { return }
                if race.isDecided { return }
                let at = clock.now()
                guard at.timeIntervalSince(beat.last) >= beatEvery.seconds * 0.9 else { continue }
                beat.touch(at)
                do {
                    let owned = try await queue.heartbeat(
                        id: job.id, attempt: job.attempts, lease: lease, progress: beat.progress, now: at)
                    if !owned {
                        beat.lose()
                        race.finish(.lost)
                        return
                    }
                } catch {
                    logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
                }
            }
        }

        let outcome = await race.wait()
        watchdog.cancel()
        switch outcome {
        case .succeeded, .failed: break
        case .timedOut, .lost, .interrupted: work.cancel()
        }
        let reason: String? =
            switch outcome {
            case .timedOut: "timeout"
            case .failed(_, let retryable): retryable ? "error" : "permanent"
            default: nil
            }
        if let span {
            switch outcome {
            case .succeeded: span.setStatus(SpanStatus(code: .ok))
            default: span.setStatus(SpanStatus(code: .error, message: reason))
            }
            span.attributes["ats.job.outcome"] = reason ?? "completed"
        }
        await record(job, outcome: outcome, reason: reason, started: started, batcher: batcher, logger: logger)
    }

    /// The attempt's consumer span: a trace of its own (a job may run long after the request
    /// that enqueued it ended), linked to the producer's span through the job's traceparent.
    func startSpan(for job: Job) -> (any Span)? {
        guard let tracer else { return nil }
        let span = tracer.startSpan("job \(job.type)", context: .topLevel, ofKind: .consumer)
        span.attributes["messaging.system"] = "ats"
        span.attributes["messaging.destination.name"] = job.queue
        span.attributes["messaging.operation.type"] = "process"
        span.attributes["ats.job.type"] = job.type
        span.attributes["ats.job.attempt"] = job.attempts
        if let organization = job.organizationID { span.attributes["ats.org"] = organization }
        if let parent = job.traceParent {
            var producer = ServiceContext.topLevel
            tracer.extract(["traceparent": parent], into: &producer, using: DictionaryExtractor())
            span.addLink(SpanLink(context: producer, attributes: [:]))
        }
        return span
    }

    /// Writes the attempt's end to the queue and counts it.
    func record(
        _ job: Job, outcome: AttemptRace.Outcome, reason: String?, started: Date, batcher: CompletionBatcher,
        logger: Logger
    ) async {
        let now = clock.now()
        let elapsed = max(0, now.timeIntervalSince(started))
        let timeout = job.timeout ?? lanes[job.queue]?.configuration.defaultTimeout ?? .seconds(300)
        if let reason { metrics?.failed(job, reason: reason) }
        do {
            let name: String
            switch outcome {
            case .succeeded(let result):
                let owned = try await batcher.complete(JobCompletion(id: job.id, attempt: job.attempts, result: result))
                name = owned ? "completed" : "lost"
            case .failed(let message, let retryable):
                name = try await failed(job, message: message, retryable: retryable, now: now, logger: logger)
            case .timedOut:
                name = try await failed(
                    job, message: "timed out after \(Self.describe(timeout))", retryable: true, now: now, logger: logger)
            case .lost:
                logger.info("the job was cancelled or lost its lease; its attempt stops")
                name = "lost"
            case .interrupted:
                let released = try await queue.release(id: job.id, attempt: job.attempts, now: now)
                name = released ? "released" : "lost"
            }
            count(name)
            metrics?.finished(job, outcome: name, seconds: elapsed)
        } catch {
            // The lease runs out and recovery hands the job to another attempt.
            logger.error("recording the attempt failed", metadata: ["error": "\(error)"])
            count("unrecorded")
        }
    }

    func failed(_ job: Job, message: String, retryable: Bool, now: Date, logger: Logger) async throws -> String {
        let last = !retryable || job.attempts >= job.maxAttempts
        let retryAt = last ? nil : now.addingTimeInterval(options.retry.delay(afterAttempt: job.attempts).seconds)
        let owned = try await queue.fail(id: job.id, attempt: job.attempts, error: message, retryAt: retryAt, now: now)
        guard owned else { return "lost" }
        if last {
            logger.warning("job failed for good: dead letter", metadata: ["error": "\(message.prefix(200))"])
            return "dead"
        }
        logger.info("job attempt failed; retrying", metadata: ["error": "\(message.prefix(200))"])
        return "retried"
    }

    static func describe(_ duration: Duration) -> String {
        let seconds = duration.seconds
        if seconds >= 1, seconds == seconds.rounded() { return "\(Int(seconds))s" }
        return String(format: "%.3gs", seconds)
    }
}

/// The last heartbeat and progress of a running attempt, shared by its handler and watchdog.
final class HeartbeatState: Sendable {
    private struct State {
        var last: Date
        var progress: JobProgress?
        var lost = false
    }

    private let state: Mutex<State>

    init(now: Date) { state = Mutex(State(last: now)) }

    var last: Date { state.withLock { $0.last } }
    var progress: JobProgress? { state.withLock { $0.progress } }

    /// Keeps the latest progress; false once the attempt lost its job.
    func record(_ progress: JobProgress) -> Bool {
        state.withLock {
            $0.progress = progress
            return !$0.lost
        }
    }

    /// True (and marks the beat) when the last heartbeat is at least `every` old.
    func due(now: Date, every: Duration) -> Bool {
        state.withLock {
            guard now.timeIntervalSince($0.last) >= every.seconds else { return false }
            $0.last = now
            return true
        }
    }

    func touch(_ now: Date) { state.withLock { $0.last = now } }
    func lose() { state.withLock { $0.lost = true } }
}

/// Reads W3C trace headers from a plain dictionary (a job's stored traceparent).
public struct DictionaryExtractor: Extractor {
    public init() {}
    public func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

/// Writes W3C trace headers into a plain dictionary.
public struct DictionaryInjector: Injector {
    public init() {}
    public func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}
