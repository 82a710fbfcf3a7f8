import Tracing

/// A span that ended: the immutable record handed to the export queue and the recent-traces store.
struct FinishedSpan: Sendable {
    struct Link: Sendable {
        var traceID: TraceID
        var spanID: UInt64
        var traceState: String?
        var attributes: SpanAttributes
    }

    var traceID: TraceID
    var spanID: UInt64
    var parentSpanID: UInt64?
    var traceState: String?
    /// No parent in this process (a new trace, or a remote parent): the span that completes a
    /// trace for the recent-traces view.
    var isLocalRoot: Bool
    var name: String
    var kind: SpanKind
    var startNanos: UInt64
    var endNanos: UInt64
    var attributes: SpanAttributes
    var events: [SpanEvent]
    var links: [Link]
    var status: SpanStatus?

    var isError: Bool { status?.code == .error }
}
