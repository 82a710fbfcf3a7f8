import Logging
import ServiceLifecycle
import Synchronization
import Tracing

/// What the tracer has done since it started (for /metrics and the admin view).
public struct TraceFigures: Sendable, Hashable {
    /// Every span started, sampled or not.
    public var spansStarted: Int
    /// Spans that record (their trace is sampled).
    public var spansSampled: Int
    /// Spans delivered to the file or collector.
    public var spansExported: Int
    /// Spans lost: queue full, or their batch failed for good.
    public var spansDropped: Int
    /// Batches that could not be delivered (after the HTTP retries).
    public var exportFailures: Int
    /// Batches delivered.
    public var batchesExported: Int
    /// Finished spans waiting for export now.
    public var queueDepth: Int

    /// Memberwise, all zero by default.
    public init(
        spansStarted: Int = 0, spansSampled: Int = 0, spansExported: Int = 0, spansDropped: Int = 0,
        exportFailures: Int = 0, batchesExported: Int = 0, queueDepth: Int = 0
    ) {
        self.spansStarted = spansStarted
        self.spansSampled = spansSampled
        self.spansExported = spansExported
        self.spansDropped = spansDropped
        self.exportFailures = exportFailures
        self.batchesExported = batchesExported
        self.queueDepth = queueDepth
    }
}

/// The appliance's tracer: W3C Trace Context propagation (`traceparent` + `tracestate`),
/// parent-based ratio sampling, spans that hand themselves to a bounded export queue and to an
/// in-memory store of recent traces, and an exporter (`run`) that writes OTLP/JSON batches to
/// files or an OTLP/HTTP collector.
///
/// Ending a span never blocks on I/O: a full queue drops the span and counts it. The exporter
/// loop is a `Service`: it exports every `flushInterval` or as soon as a batch is full, and on
/// graceful shutdown it flushes what is queued, then returns.
public final class ApplianceTracer: Tracer, Service, Sendable {
    /// The span type every `startSpan` returns.
    public typealias Span = ApplianceSpan

    let configuration: TraceConfiguration
    let logger: Logger
    private let ids: IDGenerator
    /// See `threshold(for:)`.
    private let sampleThreshold: UInt64
    private let sink: (any SpanSink)?
    private let encoder: OTLPJSON
    private let recent: Mutex<RecentTraces>
    let exportState: Mutex<ExportState>
    let counters = Counters()
    let wakeUps: AsyncStream<Void>
    let wake: AsyncStream<Void>.Continuation

    /// Plain counters; relaxed atomics because they are only read for reporting.
    final class Counters: Sendable {
        let started = Atomic<Int>(0)
        let sampled = Atomic<Int>(0)
        let exported = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let batches = Atomic<Int>(0)
    }

    /// Builds the tracer and its sink (files under `directory`, or the collector at `endpoint`).
    /// Nothing runs until the tracer is `run` as a service.
    public convenience init(configuration: TraceConfiguration, logger: Logger) {
        self.init(configuration: configuration, logger: logger, seed: nil, sink: nil)
    }

    /// `seed` makes ids (hence sampling) reproducible; `sink` replaces the configured one (tests).
    init(configuration: TraceConfiguration, logger: Logger, seed: UInt64?, sink: (any SpanSink)?) {
        var configuration = configuration
        configuration.sampleRatio = min(1, max(0, configuration.sampleRatio.isNaN ? 0 : configuration.sampleRatio))
        configuration.batchSize = max(1, configuration.batchSize)
        configuration.queueCapacity = max(1, configuration.queueCapacity)
        self.configuration = configuration
        self.logger = logger
        self.ids = IDGenerator(seed: seed)
        self.sampleThreshold = Self.threshold(for: configuration.sampleRatio)
        self.encoder = OTLPJSON(serviceName: configuration.serviceName, serviceVersion: configuration.serviceVersion)
        self.recent = Mutex(RecentTraces(capacity: configuration.recentTraces))
        self.exportState = Mutex(ExportState())
        (self.wakeUps, self.wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        if let sink {
            self.sink = sink
        } else if !configuration.enabled {
            self.sink = nil
        } else if let url = configuration.endpoint {
            if let endpoint = HTTPSpanSink.Endpoint(url) {
                self.sink = HTTPSpanSink(endpoint: endpoint, maxRetries: configuration.maxRetries, logger: logger)
            } else {
                logger.error("trace endpoint is not an http:// URL; spans are not exported", metadata: ["endpoint": "\(url)"])
                self.sink = nil
            }
        } else if let directory = configuration.directory {
            self.sink = FileSpanSink(
                directory: directory, maxFileBytes: configuration.maxFileBytes, maxFiles: configuration.maxFiles,
                logger: logger)
        } else {
            self.sink = nil
        }
    }

    /// Exact counters since start, and the queue depth now.
    public var figures: TraceFigures {
        TraceFigures(
            spansStarted: counters.started.load(ordering: .relaxed),
            spansSampled: counters.sampled.load(ordering: .relaxed),
            spansExported: counters.exported.load(ordering: .relaxed),
            spansDropped: counters.dropped.load(ordering: .relaxed),
            exportFailures: counters.failures.load(ordering: .relaxed),
            batchesExported: counters.batches.load(ordering: .relaxed),
            queueDepth: exportState.withLock { $0.queue.count })
    }

    // MARK: Sampling

    /// The ratio as a threshold over 2^63: a trace is sampled when its id's low 63 bits fall
    /// below it (the ids are uniformly random, so that is the ratio; deciding from the id means
    /// every process that sees the trace decides alike).
    static func threshold(for ratio: Double) -> UInt64 {
        if ratio >= 1 { return UInt64.max }
        if ratio <= 0 { return 0 }
        return UInt64(ratio * 9_223_372_036_854_775_808.0)
    }

    func isSampled(_ traceID: TraceID) -> Bool {
        if sampleThreshold == UInt64.max { return true }
        return traceID.low & 0x7FFF_FFFF_FFFF_FFFF < sampleThreshold
    }

    // MARK: Tracer

    /// Starts a child of the span in `context` (same trace, its sampling decision), or a new
    /// trace sampled by ratio. Cheap when unsampled: an identity, no recording.
    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> ApplianceSpan {
        let parentContext = context()
        counters.started.wrappingAdd(1, ordering: .relaxed)
        guard configuration.enabled else {
            return ApplianceSpan(
                name: operationName, context: parentContext, identity: nil, parentSpanID: nil, isLocalRoot: true,
                kind: kind, startNanos: 0, recordingFor: nil)
        }
        let parent = parentContext.w3cTraceContext
        if let parent, !parent.isSampled, !parent.isRemote {
            // Inside an unsampled trace nothing is recorded or exported, and what propagates
            // (a job's traceparent, flags 00) may name the local parent: no new identity.
            return ApplianceSpan(
                name: operationName, context: parentContext, identity: parent, parentSpanID: nil, isLocalRoot: false,
                kind: kind, startNanos: 0, recordingFor: nil)
        }
        let traceID = parent?.traceIDValue ?? ids.traceID()
        let sampled = parent?.isSampled ?? isSampled(traceID)
        let identity = W3CTraceContext(
            traceID: traceID, spanID: ids.spanID(), isSampled: sampled, traceState: parent?.traceState,
            isRemote: false)
        var spanContext = parentContext
        spanContext.w3cTraceContext = identity
        if sampled { counters.sampled.wrappingAdd(1, ordering: .relaxed) }
        return ApplianceSpan(
            name: operationName, context: spanContext, identity: identity, parentSpanID: parent?.spanIDValue,
            isLocalRoot: parent?.isRemote ?? true, kind: kind,
            startNanos: sampled ? instant().nanosecondsSinceEpoch : 0, recordingFor: sampled ? self : nil)
    }

    /// Asks the exporter loop to export what is queued now (does not wait; see `flush()`).
    public func forceFlush() {
        wake.yield()
    }

    // MARK: Instrument (W3C Trace Context)

    /// Writes `traceparent` (and `tracestate` when present) of the span in `context`.
    public func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let trace = context.w3cTraceContext else { return }
        injector.inject(trace.traceparent, forKey: "traceparent", into: &carrier)
        if let state = trace.traceState { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }

    /// An invalid or missing `traceparent` leaves the context as it was (a new trace starts).
    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: "traceparent", from: carrier),
            let parent = W3CTraceContext(
                traceparent: header, tracestate: extractor.extract(key: "tracestate", from: carrier))
        else { return }
        context.w3cTraceContext = parent
    }

    /// The W3C traceparent of the span currently in `context` (nil when none).
    public func traceparent(_ context: ServiceContext) -> String? {
        context.w3cTraceContext?.traceparent
    }

    /// A context carrying the remote parent of a `traceparent` header value (invalid: an empty
    /// context, i.e. a new trace).
    public func context(traceparent: String?, tracestate: String?) -> ServiceContext {
        var context = ServiceContext.topLevel
        if let traceparent, let parent = W3CTraceContext(traceparent: traceparent, tracestate: tracestate) {
            context.w3cTraceContext = parent
        }
        return context
    }

    // MARK: Recent traces

    /// Recent sampled traces, newest first: those whose root took at least `minDuration` and,
    /// when `route` is given, whose root's `http.route` is that route. With `organization`,
    /// only what was recorded for that organization (`ats.org`) is seen or counted.
    public func recentTraces(minDuration: Duration?, route: String?, limit: Int, organization: String? = nil) -> [TraceSummary] {
        recent.withLock { $0.summaries(minDuration: minDuration, route: route, limit: limit, organization: organization) }
    }

    /// One recent trace's spans as a tree (roots first, children in start order), or nil; with
    /// `organization`, that organization's spans only (nil when it has none in the trace).
    public func trace(id: String, organization: String? = nil) -> TraceTree? {
        guard let traceID = TraceID(hex: id.lowercased()) else { return nil }
        return recent.withLock { $0.tree(id: traceID, organization: organization) }
    }

    // MARK: Span end

    /// Called once by each sampled span as it ends: never blocks on I/O.
    func spanEnded(_ span: FinishedSpan) {
        recent.withLock { $0.add(span) }
        guard sink != nil else { return }
        let capacity = configuration.queueCapacity
        let batchSize = configuration.batchSize
        let (accepted, batchReady) = exportState.withLock { state -> (Bool, Bool) in
            let sequence = state.offered
            state.offered += 1
            guard state.queue.count < capacity else { return (false, false) }
            state.queue.append(QueuedSpan(sequence: sequence, span: span))
            return (true, state.queue.count % batchSize == 0)
        }
        if !accepted {
            counters.dropped.wrappingAdd(1, ordering: .relaxed)
        } else if batchReady {
            wake.yield()
        }
    }

    var hasSink: Bool { sink != nil }

    func closeSink() async {
        await sink?.close()
    }

    /// Exports everything queued, batch by batch. Only one caller at a time (the loop, or
    /// `flush()` while the loop is not running).
    func exportQueued() async {
        guard let sink else { return }
        let batchSize = configuration.batchSize
        var failing = false
        while true {
            let batch: [QueuedSpan] = exportState.withLock { state in
                let count = min(batchSize, state.queue.count)
                guard count > 0 else { return [] }
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                state.inFlightFirst = batch.first?.sequence
                return batch
            }
            guard !batch.isEmpty else { break }
            let body = encoder.encode(batch.map(\.span))
            if await sink.write(body, spanCount: batch.count) {
                counters.exported.wrappingAdd(batch.count, ordering: .relaxed)
                counters.batches.wrappingAdd(1, ordering: .relaxed)
                if failing { logger.info("trace export recovered") }
                failing = false
            } else {
                counters.dropped.wrappingAdd(batch.count, ordering: .relaxed)
                counters.failures.wrappingAdd(1, ordering: .relaxed)
                if !failing {
                    logger.warning("trace export failed; batch dropped", metadata: ["spans": "\(batch.count)"])
                }
                failing = true
            }
            let ready = exportState.withLock { state in
                state.inFlightFirst = nil
                return state.takeSatisfiedWaiters()
            }
            for waiter in ready { waiter.resume() }
        }
    }
}

/// A finished span waiting in the export queue, numbered in arrival order.
struct QueuedSpan: Sendable {
    var sequence: UInt64
    var span: FinishedSpan
}

/// The export queue and the `flush()` waiters, under the tracer's lock.
struct ExportState {
    var queue: [QueuedSpan] = []
    /// Spans offered to the queue so far (dropped ones included): the next sequence number.
    var offered: UInt64 = 0
    /// The first sequence number of the batch being written, if any.
    var inFlightFirst: UInt64?
    var loopRunning = false
    var waiters: [(through: UInt64, continuation: CheckedContinuation<Void, Never>)] = []

    /// Every span numbered below `sequence` has been written or dropped.
    func isDone(through sequence: UInt64) -> Bool {
        let oldestPending = inFlightFirst ?? queue.first?.sequence ?? UInt64.max
        return oldestPending >= sequence
    }

    mutating func takeSatisfiedWaiters() -> [CheckedContinuation<Void, Never>] {
        var ready: [CheckedContinuation<Void, Never>] = []
        var waiting: [(through: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        for waiter in waiters {
            if isDone(through: waiter.through) {
                ready.append(waiter.continuation)
            } else {
                waiting.append(waiter)
            }
        }
        waiters = waiting
        return ready
    }
}
