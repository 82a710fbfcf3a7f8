import Testing
import Tracing

@testable import ATSTelemetry

@Suite("W3C traceparent")
struct TraceparentTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func parsesAValidHeader() throws {
        let context = try #require(W3CTraceContext(traceparent: Self.valid, tracestate: "congo=t61rcWkgMzE"))
        #expect(context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.spanID == "00f067aa0ba902b7")
        #expect(context.isSampled)
        #expect(context.isRemote)
        #expect(context.traceState == "congo=t61rcWkgMzE")
        #expect(context.traceparent == Self.valid)
    }

    @Test func readsTheUnsampledFlagAndIgnoresOtherFlagBits() throws {
        let unsampled = try #require(W3CTraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"))
        #expect(!unsampled.isSampled)
        let otherBits = try #require(W3CTraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"))
        #expect(otherBits.isSampled)
        #expect(otherBits.traceparent.hasSuffix("-01"))
    }

    @Test func acceptsAFutureVersionByItsPrefix() {
        #expect(W3CTraceContext(traceparent: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") != nil)
        #expect(W3CTraceContext(traceparent: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds") != nil)
        #expect(W3CTraceContext(traceparent: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x") == nil)
    }

    @Test(arguments: [
        "",  // empty
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
        "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // short version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 with more
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",  // long trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",  // short span id
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",  // uppercase span id
        "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // uppercase version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",  // bad flags
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",  // bad separators
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  // short flags
        "00-xbf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // non-hex
    ])
    func rejectsInvalidHeaders(_ header: String) {
        #expect(W3CTraceContext(traceparent: header) == nil)
        // The tracer then starts a new trace.
        let tracer = makeTracer()
        let context = tracer.context(traceparent: header, tracestate: "a=b")
        #expect(context.w3cTraceContext == nil)
        let span = tracer.startSpan("new", context: context)
        #expect(span.context.w3cTraceContext?.traceID != "4bf92f3577b34da6a3ce929d0e0e4736")
        span.end()
    }

    @Test func dropsOversizedOrEmptyTracestateButKeepsTheParent() throws {
        let long = String(repeating: "a", count: 600)
        let context = try #require(W3CTraceContext(traceparent: Self.valid, tracestate: long))
        #expect(context.traceState == nil)
        #expect(W3CTraceContext(traceparent: Self.valid, tracestate: "  ")?.traceState == nil)
    }

    @Test func childOfARemoteParentContinuesItsTraceAndFlags() throws {
        let tracer = makeTracer(sampleRatio: 0)
        let remote = tracer.context(traceparent: Self.valid, tracestate: "congo=t61rcWkgMzE")
        let span = tracer.startSpan("GET /x", context: remote, ofKind: .server)
        // Parent-based: the sampled parent is honored although the ratio is 0.
        #expect(span.isRecording)
        let header = try #require(tracer.traceparent(span.context))
        #expect(header.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
        #expect(!header.contains("00f067aa0ba902b7"))
        #expect(header.hasSuffix("-01"))
        span.end()
    }

    @Test func injectAndExtractRoundTrip() throws {
        let tracer = makeTracer()
        let span = tracer.startSpan("client call", context: .topLevel, ofKind: .client)
        var headers: [String: String] = [:]
        tracer.inject(span.context, into: &headers, using: DictionaryCarrier())
        #expect(headers["traceparent"] == tracer.traceparent(span.context))
        #expect(headers["tracestate"] == nil)

        var extracted = ServiceContext.topLevel
        tracer.extract(["traceparent": Self.valid, "tracestate": "k=v"], into: &extracted, using: DictionaryCarrier())
        #expect(extracted.w3cTraceContext?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        var reinjected: [String: String] = [:]
        tracer.inject(extracted, into: &reinjected, using: DictionaryCarrier())
        #expect(reinjected == ["traceparent": Self.valid, "tracestate": "k=v"])

        var untouched = ServiceContext.topLevel
        tracer.extract(["traceparent": "garbage"], into: &untouched, using: DictionaryCarrier())
        #expect(untouched.w3cTraceContext == nil)
        span.end()
    }

    @Test func idsAreLowercaseHexOfTheRightLength() {
        let tracer = makeTracer()
        for _ in 0..<100 {
            let span = tracer.startSpan("s", context: .topLevel)
            let trace = span.context.w3cTraceContext
            #expect(trace?.traceID.count == 32)
            #expect(trace?.spanID.count == 16)
            #expect(trace?.traceID.allSatisfy { "0123456789abcdef".contains($0) } == true)
            #expect(trace?.traceID != String(repeating: "0", count: 32))
            span.end()
        }
    }
}
