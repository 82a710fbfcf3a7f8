import Testing
import Tracing

@testable import ATSTelemetry

@Suite("Recent traces")
struct RecentTracesTests {
    /// A request trace: server root with a route, one child, lasting `milliseconds`.
    @discardableResult
    func request(_ tracer: ApplianceTracer, route: String, start: UInt64, milliseconds: UInt64, status: Int = 200) -> String {
        let root = tracer.startSpan("GET \(route)", context: .topLevel, ofKind: .server, at: at(start))
        root.attributes["http.route"] = SpanAttribute.string(route)
        root.attributes["http.request.method"] = "GET"
        root.attributes["http.response.status_code"] = SpanAttribute.int64(Int64(status))
        root.attributes["ats.latency.buckets"] = SpanAttribute.int64Array([1, 2])  // not a plain scalar
        let child = tracer.startSpan("db.select", context: root.context, at: at(start + 1))
        child.end(at: at(start + 2))
        root.end(at: at(start + milliseconds))
        return root.context.w3cTraceContext?.traceID ?? ""
    }

    @Test func filtersByMinDurationAndRouteNewestFirst() {
        let tracer = makeTracer()
        let fastCandidate = request(tracer, route: "/api/v1/candidates/{id}", start: 0, milliseconds: 5)
        let slowJobs = request(tracer, route: "/api/v1/jobs", start: 10, milliseconds: 300)
        let slowCandidate = request(tracer, route: "/api/v1/candidates/{id}", start: 20, milliseconds: 150)

        let all = tracer.recentTraces(minDuration: nil, route: nil, limit: 10)
        #expect(all.map(\.traceID) == [slowCandidate, slowJobs, fastCandidate])
        #expect(all.first?.spanCount == 2)
        #expect(all.first?.durationNanos == 150_000_000)
        #expect(all.first?.rootName == "GET /api/v1/candidates/{id}")
        #expect(all.first?.attributes == [
            "http.route": "/api/v1/candidates/{id}", "http.request.method": "GET", "http.response.status_code": "200",
        ])

        let slow = tracer.recentTraces(minDuration: .milliseconds(100), route: nil, limit: 10)
        #expect(slow.map(\.traceID) == [slowCandidate, slowJobs])
        let candidates = tracer.recentTraces(minDuration: nil, route: "/api/v1/candidates/{id}", limit: 10)
        #expect(candidates.map(\.traceID) == [slowCandidate, fastCandidate])
        let both = tracer.recentTraces(minDuration: .milliseconds(100), route: "/api/v1/candidates/{id}", limit: 10)
        #expect(both.map(\.traceID) == [slowCandidate])
        #expect(tracer.recentTraces(minDuration: nil, route: nil, limit: 1).map(\.traceID) == [slowCandidate])
    }

    @Test func keepsOnlyTheConfiguredNumberOfTraces() {
        let tracer = makeTracer { $0.recentTraces = 3 }
        let ids = (0..<5).map { request(tracer, route: "/r\($0)", start: UInt64($0) * 10, milliseconds: 5) }
        let kept = tracer.recentTraces(minDuration: nil, route: nil, limit: 10).map(\.traceID)
        #expect(kept == [ids[4], ids[3], ids[2]])
        #expect(tracer.trace(id: ids[0]) == nil)
        #expect(tracer.trace(id: ids[4]) != nil)
    }

    @Test func aTraceAppearsWhenItsLocalRootEnds() throws {
        let tracer = makeTracer()
        let root = tracer.startSpan("GET /slow", context: .topLevel, ofKind: .server, at: at(0))
        let traceID = try #require(root.context.w3cTraceContext?.traceID)
        let early = tracer.startSpan("early", context: root.context, at: at(1))
        early.end(at: at(2))
        let late = tracer.startSpan("late", context: root.context, at: at(3))
        #expect(tracer.trace(id: traceID) == nil)
        #expect(tracer.recentTraces(minDuration: nil, route: nil, limit: 10).isEmpty)
        root.end(at: at(10))
        #expect(tracer.trace(id: traceID)?.spans.first?.children.map(\.name) == ["early"])
        late.end(at: at(12))  // ends after its root: joins the visible trace
        #expect(tracer.trace(id: traceID)?.spans.first?.children.map(\.name) == ["early", "late"])
        #expect(tracer.recentTraces(minDuration: nil, route: nil, limit: 1).first?.spanCount == 3)
    }

    @Test func treeShapeRootsFirstChildrenInStartOrder() throws {
        let tracer = makeTracer()
        let remote = tracer.context(traceparent: TraceparentTests.valid, tracestate: nil)
        let root = tracer.startSpan("GET /x", context: remote, ofKind: .server, at: at(0))
        let b = tracer.startSpan("b", context: root.context, at: at(5))
        let a = tracer.startSpan("a", context: root.context, at: at(1))
        let a1 = tracer.startSpan("a1", context: a.context, ofKind: .client, at: at(2))
        a1.end(at: at(3))
        a.end(at: at(4))
        b.end(at: at(6))
        root.end(at: at(7))
        let tree = try #require(tracer.trace(id: "4BF92F3577B34DA6A3CE929D0E0E4736"))
        #expect(tree.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(tree.spans.count == 1)
        let node = try #require(tree.spans.first)
        #expect(node.name == "GET /x")
        // The local root's parent is the remote span: kept as parentSpanID, not a node.
        #expect(node.parentSpanID == "00f067aa0ba902b7")
        #expect(node.children.map(\.name) == ["a", "b"])
        #expect(node.children.first?.children.map(\.name) == ["a1"])
        #expect(node.children.first?.children.first?.kind == "client")
        #expect(tracer.trace(id: "not-hex") == nil)
    }
}
