import Testing
import Tracing

@testable import ATSTelemetry

@Suite("Sampling")
struct SamplingTests {
    @Test(arguments: [0.01, 0.1, 0.5, 0.9])
    func ratioIsHonoredStatistically(_ ratio: Double) {
        let tracer = makeTracer(sampleRatio: ratio, seed: 7)
        let roots = 20_000
        var sampled = 0
        for _ in 0..<roots {
            let span = tracer.startSpan("root", context: .topLevel)
            if span.isRecording { sampled += 1 }
        }
        // Binomial: 5 standard deviations either side.
        let expected = Double(roots) * ratio
        let sigma = (Double(roots) * ratio * (1 - ratio)).squareRoot()
        #expect(abs(Double(sampled) - expected) < 5 * sigma)
        #expect(tracer.figures.spansStarted == roots)
        #expect(tracer.figures.spansSampled == sampled)
    }

    @Test func sameSeedSameDecisions() {
        let first = makeTracer(sampleRatio: 0.3, seed: 99)
        let second = makeTracer(sampleRatio: 0.3, seed: 99)
        let a = (0..<500).map { _ in first.startSpan("r", context: .topLevel).isRecording }
        let b = (0..<500).map { _ in second.startSpan("r", context: .topLevel).isRecording }
        #expect(a == b)
    }

    @Test func zeroAndOneAreAbsolute() {
        let never = makeTracer(sampleRatio: 0)
        let always = makeTracer(sampleRatio: 1)
        #expect((0..<1000).allSatisfy { _ in !never.startSpan("r", context: .topLevel).isRecording })
        #expect((0..<1000).allSatisfy { _ in always.startSpan("r", context: .topLevel).isRecording })
    }

    @Test func childrenFollowTheirLocalParent() {
        let tracer = makeTracer(sampleRatio: 0.5, seed: 3)
        for _ in 0..<200 {
            let root = tracer.startSpan("root", context: .topLevel)
            let child = tracer.startSpan("child", context: root.context)
            let grandchild = tracer.startSpan("grandchild", context: child.context)
            #expect(child.isRecording == root.isRecording)
            #expect(grandchild.isRecording == root.isRecording)
            #expect(grandchild.context.w3cTraceContext?.traceID == root.context.w3cTraceContext?.traceID)
        }
    }

    @Test func anUnsampledRemoteParentIsHonored() throws {
        let tracer = makeTracer(sampleRatio: 1)
        let remote = tracer.context(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", tracestate: nil)
        let span = tracer.startSpan("GET /x", context: remote, ofKind: .server)
        #expect(!span.isRecording)
        // Still a valid context that propagates with flags 00.
        let header = try #require(tracer.traceparent(span.context))
        #expect(header.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
        #expect(header.hasSuffix("-00"))
        span.attributes["ignored"] = "yes"
        #expect(span.attributes.isEmpty)
        span.end()
        #expect(tracer.recentTraces(minDuration: nil, route: nil, limit: 10).isEmpty)
    }

    @Test func unsampledSpansAreNeverExported() async {
        let sink = RecordingSink()
        let tracer = makeTracer(sampleRatio: 0, sink: sink)
        for _ in 0..<50 { tracer.startSpan("r", context: .topLevel).end() }
        await tracer.flush()
        #expect(sink.bodies.withLock { $0.isEmpty })
        #expect(tracer.figures.spansSampled == 0)
        #expect(tracer.figures.spansExported == 0)
    }

    @Test func aDisabledTracerRecordsNothingButPassesContextThrough() {
        let tracer = makeTracer { $0.enabled = false }
        let remote = tracer.context(traceparent: TraceparentTests.valid, tracestate: nil)
        let span = tracer.startSpan("GET /x", context: remote, ofKind: .server)
        #expect(!span.isRecording)
        #expect(tracer.traceparent(span.context) == TraceparentTests.valid)
        span.end()
        #expect(tracer.figures.spansSampled == 0)
        #expect(tracer.traceparent(tracer.startSpan("r", context: .topLevel).context) == nil)
    }
}
