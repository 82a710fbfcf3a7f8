import Testing
import Tracing

@testable import ATSTelemetry

private struct CandidateLookupFailed: Error, CustomStringConvertible {
    var description: String { "no candidate named Jane Doe" }
}

@Suite("Spans")
struct SpanTests {
    @Test func withSpanNestingSetsParentage() async throws {
        let tracer = makeTracer()
        let (rootID, traceID) = await tracer.withSpan("GET /api/v1/candidates/{id}", ofKind: .server) { root in
            root.attributes["http.route"] = "/api/v1/candidates/{id}"
            await tracer.withSpan("cache.fetch") { span in
                span.attributes["ats.cache.hit"] = false
                #expect(ServiceContext.current?.w3cTraceContext?.spanID == span.context.w3cTraceContext?.spanID)
                await tracer.withSpan("db.select") { db in
                    db.attributes["db.system.name"] = "sqlite"
                    try? await Task.sleep(for: .milliseconds(1))
                }
            }
            return (root.context.w3cTraceContext?.spanID, root.context.w3cTraceContext?.traceID)
        }
        let tree = try requireTree(tracer, traceID)
        #expect(tree.spans.count == 1)
        let root = try #require(tree.spans.first)
        #expect(root.spanID == rootID)
        #expect(root.parentSpanID == nil)
        #expect(root.kind == "server")
        #expect(root.children.map(\.name) == ["cache.fetch"])
        let cache = try #require(root.children.first)
        #expect(cache.parentSpanID == rootID)
        #expect(cache.attributes["ats.cache.hit"] == "false")
        #expect(cache.children.map(\.name) == ["db.select"])
        #expect(cache.children.first?.parentSpanID == cache.spanID)
        #expect(cache.children.first?.attributes["db.system.name"] == "sqlite")
        #expect(cache.kind == "internal")
    }

    @Test func recordErrorKeepsTheTypeNameOnlyAndWithSpanSetsErrorStatus() throws {
        let tracer = makeTracer()
        var traceID: String?
        #expect(throws: CandidateLookupFailed.self) {
            try tracer.withSpan("lookup") { span in
                traceID = span.context.w3cTraceContext?.traceID
                throw CandidateLookupFailed()
            }
        }
        let node = try #require(try requireTree(tracer, traceID).spans.first)
        #expect(node.status == "error")
        #expect(node.events.map(\.name) == ["exception"])
        let summary = try #require(tracer.recentTraces(minDuration: nil, route: nil, limit: 1).first)
        #expect(summary.error)
    }

    @Test func errorEventCarriesNoMessageInTheExport() async throws {
        let sink = RecordingSink()
        let tracer = makeTracer(sink: sink)
        let span = tracer.startSpan("lookup", context: .topLevel)
        span.recordError(CandidateLookupFailed())
        span.setStatus(SpanStatus(code: .error))
        span.end()
        await tracer.flush()
        let body = String(decoding: try #require(sink.bodies.withLock { $0.first }), as: UTF8.self)
        #expect(body.contains("CandidateLookupFailed"))
        #expect(!body.contains("Jane"))
        #expect(body.contains("\"exception.type\""))
    }

    @Test func linksPointAtTheProducer() async throws {
        let tracer = makeTracer()
        let producer = tracer.startSpan("enqueue email", context: .topLevel, ofKind: .producer)
        let producerIDs = try #require(producer.context.w3cTraceContext)
        producer.end()
        let consumer = tracer.startSpan("job email.send", context: .topLevel, ofKind: .consumer)
        consumer.addLink(SpanLink(context: producer.context, attributes: ["ats.job": "email"]))
        consumer.addLink(SpanLink(context: .topLevel, attributes: [:]))  // no identity: ignored
        let consumerTrace = try #require(consumer.context.w3cTraceContext?.traceID)
        consumer.end()
        let node = try #require(tracer.trace(id: consumerTrace)?.spans.first)
        #expect(node.kind == "consumer")
        #expect(node.links == [SpanNode.Link(traceID: producerIDs.traceID, spanID: producerIDs.spanID)])
        #expect(consumerTrace != producerIDs.traceID)
    }

    @Test func endTwiceRecordsOnceAndStatusOkIsFinal() async throws {
        let sink = RecordingSink()
        let tracer = makeTracer(sink: sink)
        let span = tracer.startSpan("once", context: .topLevel, at: at(0))
        span.setStatus(SpanStatus(code: .ok))
        span.setStatus(SpanStatus(code: .error))
        span.end(at: at(5))
        span.end(at: at(9))
        await tracer.flush()
        #expect(sink.spans.count == 1)
        let tree = try requireTree(tracer, span.context.w3cTraceContext?.traceID)
        #expect(tree.spans.first?.status == "ok")
        #expect(tree.spans.first.map { $0.endTimeUnixNano - $0.startTimeUnixNano } == 5_000_000)
    }

    @Test func attributesOfEveryKindAreStringified() throws {
        let tracer = makeTracer()
        let span = tracer.startSpan("attrs", context: .topLevel)
        span.attributes["s"] = "text"
        span.attributes["i"] = 42
        span.attributes["d"] = 1.5
        span.attributes["b"] = true
        span.attributes["a"] = SpanAttribute.stringArray(["x", "y"])
        span.operationName = "renamed"
        span.end()
        let node = try #require(try requireTree(tracer, span.context.w3cTraceContext?.traceID).spans.first)
        #expect(node.name == "renamed")
        #expect(node.attributes == ["s": "text", "i": "42", "d": "1.5", "b": "true", "a": "[x, y]"])
    }
}
