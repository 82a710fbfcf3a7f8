import Synchronization
import Tracing

/// The appliance's span. A sampled one records under a lock and hands itself, once ended, to
/// its tracer; an unsampled one only carries its identity (so `traceparent` still propagates
/// with flags 00) and every mutation is a no-op.
public final class ApplianceSpan: Span {
    private struct State {
        var name: String
        var attributes: SpanAttributes = [:]
        var events: [SpanEvent] = []
        var links: [FinishedSpan.Link] = []
        var status: SpanStatus?
        var ended = false
    }

    /// Events and links kept per span at most (a loop that adds events must not grow a span forever).
    static let maxEvents = 128
    static let maxLinks = 128

    /// The context children start from: the parent's context plus this span's identity.
    public let context: ServiceContext
    /// false for a span of an unsampled trace (or of a disabled tracer).
    public let isRecording: Bool
    let kind: SpanKind
    let startNanos: UInt64
    private let identity: W3CTraceContext?
    private let parentSpanID: UInt64?
    private let isLocalRoot: Bool
    private let tracer: ApplianceTracer?
    private let state: Mutex<State>

    init(
        name: String, context: ServiceContext, identity: W3CTraceContext?, parentSpanID: UInt64?,
        isLocalRoot: Bool, kind: SpanKind, startNanos: UInt64, recordingFor tracer: ApplianceTracer?
    ) {
        self.context = context
        self.identity = identity
        self.parentSpanID = parentSpanID
        self.isLocalRoot = isLocalRoot
        self.kind = kind
        self.startNanos = startNanos
        self.tracer = tracer
        self.isRecording = tracer != nil
        self.state = Mutex(State(name: name))
    }

    /// The span's name (for a server span, the route template).
    public var operationName: String {
        get { state.withLock { $0.name } }
        set {
            guard isRecording else { return }
            state.withLock { $0.name = newValue }
        }
    }

    /// Never personal data: ids and categories only.
    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set {
            guard isRecording else { return }
            state.withLock { $0.attributes = newValue }
        }
    }

    /// OTel semantics: once `ok`, the status is final.
    public func setStatus(_ status: SpanStatus) {
        guard isRecording else { return }
        state.withLock { state in
            if state.status?.code == .ok { return }
            state.status = status
        }
    }

    /// Keeps at most `maxEvents` events.
    public func addEvent(_ event: SpanEvent) {
        guard isRecording else { return }
        state.withLock { state in
            if state.events.count < Self.maxEvents { state.events.append(event) }
        }
    }

    /// Records an `exception` event with the error's type name only: error messages can carry
    /// personal data, so they never reach a span.
    public func recordError<Instant: TracerInstant>(
        _ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant
    ) {
        guard isRecording else { return }
        var eventAttributes = attributes
        eventAttributes["exception.type"] = String(reflecting: type(of: error))
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: eventAttributes))
    }

    /// Links to a span of ours or a remote one; a context without a W3C identity is ignored.
    public func addLink(_ link: SpanLink) {
        guard isRecording, let target = link.context.w3cTraceContext else { return }
        let finished = FinishedSpan.Link(
            traceID: target.traceIDValue, spanID: target.spanIDValue, traceState: target.traceState,
            attributes: link.attributes)
        state.withLock { state in
            if state.links.count < Self.maxLinks { state.links.append(finished) }
        }
    }

    /// Ends the span once; later calls do nothing.
    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let tracer, let identity else { return }
        let endNanos = max(instant().nanosecondsSinceEpoch, startNanos)
        let snapshot: State? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let snapshot else { return }
        tracer.spanEnded(
            FinishedSpan(
                traceID: identity.traceIDValue, spanID: identity.spanIDValue, parentSpanID: parentSpanID,
                traceState: identity.traceState, isLocalRoot: isLocalRoot, name: snapshot.name, kind: kind,
                startNanos: startNanos, endNanos: endNanos, attributes: snapshot.attributes,
                events: snapshot.events, links: snapshot.links, status: snapshot.status))
    }
}
