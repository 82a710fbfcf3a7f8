import Tracing

/// The identity of one span as W3C Trace Context carries it: what a `ServiceContext` holds for
/// the span currently running, or for a remote parent extracted from `traceparent`.
public struct W3CTraceContext: Sendable, Hashable {
    let traceIDValue: TraceID
    let spanIDValue: UInt64
    /// Whether the trace is recorded (the `sampled` flag).
    public let isSampled: Bool
    /// The vendor `tracestate` passed through unchanged, when any.
    public let traceState: String?
    /// true for a parent extracted from a request header (another process's span).
    public let isRemote: Bool

    init(traceID: TraceID, spanID: UInt64, isSampled: Bool, traceState: String?, isRemote: Bool) {
        self.traceIDValue = traceID
        self.spanIDValue = spanID
        self.isSampled = isSampled
        self.traceState = traceState
        self.isRemote = isRemote
    }

    /// 32 lowercase hex digits.
    public var traceID: String { traceIDValue.hex }
    /// 16 lowercase hex digits.
    public var spanID: String { Hex.encode(spanIDValue) }

    /// `00-<trace-id>-<span-id>-<flags>`, written in one buffer (every response carries one).
    public var traceparent: String {
        String(unsafeUninitializedCapacity: 55) { buffer in
            let dash = UInt8(ascii: "-")
            buffer[0] = UInt8(ascii: "0")
            buffer[1] = UInt8(ascii: "0")
            buffer[2] = dash
            Hex.write(traceIDValue.high, into: buffer, at: 3)
            Hex.write(traceIDValue.low, into: buffer, at: 19)
            buffer[35] = dash
            Hex.write(spanIDValue, into: buffer, at: 36)
            buffer[52] = dash
            buffer[53] = UInt8(ascii: "0")
            buffer[54] = isSampled ? UInt8(ascii: "1") : UInt8(ascii: "0")
            return 55
        }
    }

    /// Parses a `traceparent` header value per W3C Trace Context level 1. Returns nil for anything
    /// invalid (the caller then starts a new trace): a version other than two lowercase hex
    /// digits or `ff`, version 00 with extra characters, wrong lengths or separators, uppercase
    /// hex, an all-zero trace or span id. Versions above 00 are read by their 00 prefix, as the
    /// spec asks, when what follows is a `-`.
    public init?(traceparent: String, tracestate: String? = nil) {
        let bytes = Array(traceparent.utf8)
        guard bytes.count >= 55 else { return nil }
        guard let version = Hex.decode(bytes[0..<2]), version != 0xFF else { return nil }
        if version == 0 {
            guard bytes.count == 55 else { return nil }
        } else if bytes.count > 55, bytes[55] != UInt8(ascii: "-") {
            return nil
        }
        let dash = UInt8(ascii: "-")
        guard bytes[2] == dash, bytes[35] == dash, bytes[52] == dash else { return nil }
        guard let high = Hex.decode(bytes[3..<19]), let low = Hex.decode(bytes[19..<35]),
            let span = Hex.decode(bytes[36..<52]), let flags = Hex.decode(bytes[53..<55])
        else { return nil }
        let traceID = TraceID(high: high, low: low)
        guard !traceID.isZero, span != 0 else { return nil }
        self.init(
            traceID: traceID, spanID: span, isSampled: flags & 1 == 1,
            traceState: Self.acceptedTraceState(tracestate), isRemote: true)
    }

    /// tracestate is opaque to us: kept when non-empty and within the spec's 512-character
    /// propagation floor, otherwise dropped (never a reason to refuse the parent).
    static func acceptedTraceState(_ value: String?) -> String? {
        guard let trimmed = value?.trimmingSpaces, !trimmed.isEmpty, trimmed.utf8.count <= 512 else { return nil }
        return trimmed
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}

/// Where a `ServiceContext` keeps the current span's W3C identity.
enum W3CTraceContextKey: ServiceContextKey {
    typealias Value = W3CTraceContext
    static var nameOverride: String? { "w3c-trace-context" }
}

extension ServiceContext {
    /// The W3C identity of the span this context belongs to (ours or a remote parent), if any.
    public internal(set) var w3cTraceContext: W3CTraceContext? {
        get { self[W3CTraceContextKey.self] }
        set { self[W3CTraceContextKey.self] = newValue }
    }
}
