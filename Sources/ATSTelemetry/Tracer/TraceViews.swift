import Foundation
import Tracing

/// One recent trace as the admin list shows it.
public struct TraceSummary: Sendable, Hashable {
    /// 32 lowercase hex digits.
    public var traceID: String
    /// The local root span's name (for requests: the route template, e.g. `GET /api/v1/candidates/{id}`).
    public var rootName: String
    /// When the root span started.
    public var startTime: Date
    public var startTimeUnixNano: UInt64
    /// The local root span's duration.
    public var durationNanos: UInt64
    /// Spans of the trace kept in memory.
    public var spanCount: Int
    /// Some span of the trace has an error status.
    public var error: Bool
    /// The root span's string, integer and boolean attributes, stringified (e.g. `http.route`,
    /// `http.request.method`, `http.response.status_code`).
    public var attributes: [String: String]

    /// The root span's `http.route`, when it served a request.
    public var route: String? { attributes["http.route"] }
}

/// One trace's spans as a tree.
public struct TraceTree: Sendable, Hashable {
    public var traceID: String
    /// Spans whose parent is not in the trace (the local root, and orphans), in start order;
    /// each with its children in start order.
    public var spans: [SpanNode]
}

/// A span of a `TraceTree`.
public struct SpanNode: Sendable, Hashable {
    /// A timestamped event of the span (e.g. `exception`).
    public struct Event: Sendable, Hashable {
        public var name: String
        public var timeUnixNano: UInt64
    }

    /// A link to another span (e.g. a job's producer).
    public struct Link: Sendable, Hashable {
        public var traceID: String
        public var spanID: String
    }

    /// 16 lowercase hex digits.
    public var spanID: String
    /// nil for a new trace's root; a remote parent's id for a request that came with `traceparent`.
    public var parentSpanID: String?
    public var name: String
    /// "server", "client", "internal", "producer" or "consumer".
    public var kind: String
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    /// "unset", "ok" or "error".
    public var status: String
    /// Every attribute, stringified.
    public var attributes: [String: String]
    public var events: [Event]
    public var links: [Link]
    /// Spans started under this one, in start order.
    public var children: [SpanNode]
}

extension SpanKind {
    var name: String {
        switch self {
        case .server: "server"
        case .client: "client"
        case .producer: "producer"
        case .consumer: "consumer"
        case .internal: "internal"
        }
    }

    /// The OTLP `SpanKind` enum value.
    var otlpValue: Int {
        switch self {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }
}

extension SpanAttribute {
    /// A plain rendering for the admin view (arrays as `[a, b]`).
    var stringified: String {
        switch self {
        case .string(let value): return value
        case .int32(let value): return String(value)
        case .int64(let value): return String(value)
        case .double(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .stringConvertible(let value): return value.description
        case .stringArray(let values): return "[" + values.joined(separator: ", ") + "]"
        case .int32Array(let values): return "[" + values.map(String.init).joined(separator: ", ") + "]"
        case .int64Array(let values): return "[" + values.map(String.init).joined(separator: ", ") + "]"
        case .doubleArray(let values): return "[" + values.map { String($0) }.joined(separator: ", ") + "]"
        case .boolArray(let values): return "[" + values.map { $0 ? "true" : "false" }.joined(separator: ", ") + "]"
        case .stringConvertibleArray(let values):
            return "[" + values.map(\.description).joined(separator: ", ") + "]"
        default: return ""
        }
    }

    /// Only plain scalars qualify for a `TraceSummary`.
    var isPlainScalar: Bool {
        switch self {
        case .string, .int32, .int64, .bool: true
        default: false
        }
    }
}

extension FinishedSpan {
    var node: SpanNode {
        var stringAttributes: [String: String] = [:]
        attributes.forEach { key, value in stringAttributes[key] = value.stringified }
        let statusName: String =
            switch status?.code {
            case .none: "unset"
            case .ok: "ok"
            case .error: "error"
            }
        return SpanNode(
            spanID: Hex.encode(spanID), parentSpanID: parentSpanID.map(Hex.encode), name: name, kind: kind.name,
            startTimeUnixNano: startNanos, endTimeUnixNano: endNanos, status: statusName,
            attributes: stringAttributes,
            events: events.map { SpanNode.Event(name: $0.name, timeUnixNano: $0.nanosecondsSinceEpoch) },
            links: links.map { SpanNode.Link(traceID: $0.traceID.hex, spanID: Hex.encode($0.spanID)) },
            children: [])
    }
}
