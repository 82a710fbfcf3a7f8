import Foundation
import Tracing

/// The last `capacity` sampled traces, for the admin view. Not thread-safe: the tracer guards it.
///
/// A trace becomes visible when its local root ends; spans of it that ended before wait in
/// `pending` (bounded: traces whose root never ends are evicted oldest first), spans that end
/// after are appended to the visible trace while it is still kept.
struct RecentTraces {
    private struct Record {
        var root: FinishedSpan
        var spans: [FinishedSpan]
    }

    /// Spans kept per trace at most (a runaway loop must not hold memory forever).
    static let maxSpansPerTrace = 2000

    let capacity: Int
    private var records: [TraceID: Record] = [:]
    /// Ring of visible trace ids; `next` is where the next one goes (the oldest when full).
    private var ring: [TraceID?]
    private var next = 0
    private var pending: [TraceID: [FinishedSpan]] = [:]
    private var pendingOrder: [TraceID] = []
    private var pendingHead = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        self.ring = Array(repeating: nil, count: self.capacity)
    }

    private var pendingLimit: Int { max(16, capacity * 2) }

    mutating func add(_ span: FinishedSpan) {
        guard capacity > 0 else { return }
        if records[span.traceID] != nil {
            if let count = records[span.traceID]?.spans.count, count < Self.maxSpansPerTrace {
                records[span.traceID]?.spans.append(span)
            }
            return
        }
        if span.isLocalRoot {
            var spans = pending.removeValue(forKey: span.traceID) ?? []
            spans.append(span)
            if let evicted = ring[next] { records[evicted] = nil }
            ring[next] = span.traceID
            next = (next + 1) % capacity
            records[span.traceID] = Record(root: span, spans: spans)
            return
        }
        if pending[span.traceID] == nil {
            if pending.count >= pendingLimit { evictOldestPending() }
            pending[span.traceID] = [span]
            pendingOrder.append(span.traceID)
            if pendingOrder.count - pendingHead > pendingLimit * 4 { compactPendingOrder() }
        } else if let count = pending[span.traceID]?.count, count < Self.maxSpansPerTrace {
            pending[span.traceID]?.append(span)
        }
    }

    private mutating func evictOldestPending() {
        while pendingHead < pendingOrder.count {
            let id = pendingOrder[pendingHead]
            pendingHead += 1
            if pending.removeValue(forKey: id) != nil { break }
        }
        if pendingHead > 1024 { compactPendingOrder() }
    }

    private mutating func compactPendingOrder() {
        pendingOrder = pendingOrder[pendingHead...].filter { pending[$0] != nil }
        pendingHead = 0
    }

    /// Newest (by root end) first. With `organization`, a trace is listed when a local root
    /// of it was recorded for that organization (`ats.org`), and its figures (root, span
    /// count, error) count that organization's spans only: a foreign request that names the
    /// trace in its `traceparent` changes nothing in the list.
    func summaries(minDuration: Duration?, route: String?, limit: Int, organization: String? = nil) -> [TraceSummary] {
        guard capacity > 0, limit > 0 else { return [] }
        let minNanos = minDuration.map { Self.nanos($0) } ?? 0
        var result: [TraceSummary] = []
        var index = next
        for _ in 0..<capacity {
            index = (index - 1 + capacity) % capacity
            guard let id = ring[index], let record = records[id] else { continue }
            var root = record.root
            var spans = record.spans
            if let organization {
                let owners = Self.owners(of: record.spans)
                spans = record.spans.filter { owners[$0.spanID] == organization }
                if owners[root.spanID] != organization {
                    // The trace's first local root is another tenant's: this organization's own
                    // first request in it stands for it, when there is one.
                    guard let own = spans.filter(\.isLocalRoot).min(by: { $0.startNanos < $1.startNanos }) else { continue }
                    root = own
                }
            }
            let duration = root.endNanos - root.startNanos
            guard duration >= minNanos else { continue }
            if let route, root.attributes.get("http.route")?.stringified != route { continue }
            var attributes: [String: String] = [:]
            root.attributes.forEach { key, value in
                if value.isPlainScalar { attributes[key] = value.stringified }
            }
            result.append(
                TraceSummary(
                    traceID: id.hex, rootName: root.name,
                    startTime: Date(timeIntervalSince1970: Double(root.startNanos) / 1e9),
                    startTimeUnixNano: root.startNanos, durationNanos: duration, spanCount: spans.count,
                    error: spans.contains(where: \.isError), attributes: attributes))
            if result.count >= limit { break }
        }
        return result
    }

    /// The trace as a tree. A local root (a request or a job of this process) is always a root
    /// of the tree, never a child: its parent was named by a `traceparent` header, which any
    /// caller may set to any span, so nesting it would hang one tenant's request under another's.
    /// With `organization`, only the spans recorded for that organization are kept (nil when
    /// there are none).
    func tree(id: TraceID, organization: String? = nil) -> TraceTree? {
        guard let record = records[id] else { return nil }
        var spans = record.spans.sorted { ($0.startNanos, $0.spanID) < ($1.startNanos, $1.spanID) }
        if let organization {
            let owners = Self.owners(of: spans)
            spans = spans.filter { owners[$0.spanID] == organization }
            guard !spans.isEmpty else { return nil }
        }
        let present = Set(spans.map(\.spanID))
        var childrenOf: [UInt64: [FinishedSpan]] = [:]
        var roots: [FinishedSpan] = []
        for span in spans {
            if !span.isLocalRoot, let parent = span.parentSpanID, parent != span.spanID, present.contains(parent) {
                childrenOf[parent, default: []].append(span)
            } else {
                roots.append(span)
            }
        }
        var visited = Set<UInt64>()
        func build(_ span: FinishedSpan) -> SpanNode {
            visited.insert(span.spanID)
            var node = span.node
            node.children = (childrenOf[span.spanID] ?? []).filter { !visited.contains($0.spanID) }.map(build)
            return node
        }
        // Local roots first, then orphans (whose parent ended after the trace was dropped, or never).
        let ordered = roots.filter(\.isLocalRoot) + roots.filter { !$0.isLocalRoot }
        return TraceTree(traceID: id.hex, spans: ordered.map(build))
    }

    /// The organization each span was recorded for: a local root's own `ats.org` (set once the
    /// request is authenticated, or by the job runner), inherited by the spans started under it
    /// in this process. Spans whose chain reaches no local root (orphans) belong to nobody.
    static func owners(of spans: [FinishedSpan]) -> [UInt64: String] {
        var byID: [UInt64: FinishedSpan] = [:]
        for span in spans { byID[span.spanID] = span }
        var owners: [UInt64: String] = [:]
        var settled = Set<UInt64>()
        for span in spans {
            // Walk up to the local root (or a dead end), then write the answer down the path.
            var path: [UInt64] = []
            var current: FinishedSpan? = span
            var owner: String?
            while let here = current, !settled.contains(here.spanID), path.count < Self.maxSpansPerTrace {
                path.append(here.spanID)
                if here.isLocalRoot {
                    owner = here.attributes.get("ats.org")?.stringified
                    current = nil
                    break
                }
                guard let parent = here.parentSpanID, parent != here.spanID else { current = nil; break }
                current = byID[parent]
            }
            if let here = current, settled.contains(here.spanID) { owner = owners[here.spanID] }
            for id in path {
                settled.insert(id)
                if let owner { owners[id] = owner }
            }
        }
        return owners
    }

    static func nanos(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
