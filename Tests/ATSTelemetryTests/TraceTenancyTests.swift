import Testing
import Tracing

@testable import ATSTelemetry

/// The recent-traces view per organization: a trace id or span id named in a `traceparent` is
/// not a claim on anyone's trace.
@Suite("Recent traces per organization")
struct TraceTenancyTests {
    /// A server span recorded for `org` (as the router marks it once the caller is known), with
    /// one child; returns the server span's context.
    @discardableResult
    func request(
        _ tracer: ApplianceTracer, org: String, route: String, parent: ServiceContext = .topLevel, start: UInt64, error: Bool = false
    ) -> ServiceContext {
        let root = tracer.startSpan("GET \(route)", context: parent, ofKind: .server, at: at(start))
        root.attributes["http.route"] = SpanAttribute.string(route)
        root.attributes["ats.org"] = SpanAttribute.string(org)
        let child = tracer.startSpan("cache.fetch", context: root.context, at: at(start + 1))
        if error { child.setStatus(SpanStatus(code: .error)) }
        child.end(at: at(start + 2))
        root.end(at: at(start + 5))
        return root.context
    }

    /// Every node of a tree, depth first.
    func nodes(_ tree: TraceTree?) -> [SpanNode] {
        var found: [SpanNode] = []
        func walk(_ node: SpanNode) {
            found.append(node)
            node.children.forEach(walk)
        }
        tree?.spans.forEach(walk)
        return found
    }

    @Test func aForeignRequestNamingOurSpanIsNeverOurChild() throws {
        let tracer = makeTracer()
        let ours = request(tracer, org: "org-a", route: "/api/v1/candidates/{id}", start: 0)
        let traceID = try #require(ours.w3cTraceContext?.traceID)
        let ourSpan = try #require(ours.w3cTraceContext?.spanID)
        // B's request arrives with `traceparent: 00-<A's trace>-<A's span>-01`, and fails.
        let remote = tracer.context(traceparent: "00-\(traceID)-\(ourSpan)-01", tracestate: nil)
        request(tracer, org: "org-b", route: "/api/v1/jobs", parent: remote, start: 10, error: true)

        let a = nodes(tracer.trace(id: traceID, organization: "org-a"))
        #expect(a.map(\.name) == ["GET /api/v1/candidates/{id}", "cache.fetch"])
        let b = tracer.trace(id: traceID, organization: "org-b")
        #expect(b?.spans.map(\.name) == ["GET /api/v1/jobs"])
        #expect(b?.spans.first?.parentSpanID == ourSpan, "the remote parent is kept as an id, not as a node")
        #expect(nodes(b).map(\.name) == ["GET /api/v1/jobs", "cache.fetch"])
        #expect(tracer.trace(id: traceID, organization: "org-c") == nil)

        // Without an organization (the operator's view) both are there, side by side.
        let all = try #require(tracer.trace(id: traceID))
        #expect(all.spans.map(\.name) == ["GET /api/v1/candidates/{id}", "GET /api/v1/jobs"])

        // The list counts each organization's own spans only; B's error is not A's.
        let listA = tracer.recentTraces(minDuration: nil, route: nil, limit: 10, organization: "org-a")
        #expect(listA.map(\.traceID) == [traceID])
        #expect(listA.first?.spanCount == 2 && listA.first?.error == false)
        let listB = tracer.recentTraces(minDuration: nil, route: nil, limit: 10, organization: "org-b")
        #expect(listB.first?.rootName == "GET /api/v1/jobs" && listB.first?.spanCount == 2 && listB.first?.error == true)
        #expect(tracer.recentTraces(minDuration: nil, route: "/api/v1/jobs", limit: 10, organization: "org-a").isEmpty)
        #expect(tracer.recentTraces(minDuration: nil, route: nil, limit: 10, organization: "org-c").isEmpty)
    }

    @Test func spansOfAnUnidentifiedRequestBelongToNobody() throws {
        let tracer = makeTracer()
        // An unauthenticated request: the router never marks its span with an organization.
        let root = tracer.startSpan("GET /api/v1/candidates", context: .topLevel, ofKind: .server, at: at(0))
        let child = tracer.startSpan("auth", context: root.context, at: at(1))
        child.end(at: at(2))
        root.end(at: at(3))
        let traceID = try #require(root.context.w3cTraceContext?.traceID)
        #expect(tracer.trace(id: traceID, organization: "org-a") == nil)
        #expect(tracer.recentTraces(minDuration: nil, route: nil, limit: 10, organization: "org-a").isEmpty)
        #expect(tracer.trace(id: traceID) != nil)
    }
}
