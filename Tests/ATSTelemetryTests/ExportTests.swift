import Foundation
import Testing
import Tracing

@testable import ATSTelemetry

@Suite("Export queue and OTLP/JSON")
struct ExportTests {
    @Test func aFullQueueDropsAndCounts() async {
        let sink = RecordingSink()
        let tracer = makeTracer(sink: sink) {
            $0.queueCapacity = 10
            $0.batchSize = 4
        }
        for index in 0..<25 { tracer.startSpan("s\(index)", context: .topLevel).end() }
        #expect(tracer.figures.queueDepth == 10)
        #expect(tracer.figures.spansDropped == 15)
        await tracer.flush()
        let figures = tracer.figures
        #expect(figures.queueDepth == 0)
        #expect(figures.spansExported == 10)
        #expect(figures.batchesExported == 3)  // 4 + 4 + 2
        #expect(sink.spans.compactMap { $0["name"] as? String } == (0..<10).map { "s\($0)" })
    }

    @Test func aFailingSinkCountsFailuresAndDrops() async {
        let tracer = makeTracer(sink: RecordingSink(accepts: false)) { $0.batchSize = 3 }
        for _ in 0..<7 { tracer.startSpan("s", context: .topLevel).end() }
        await tracer.flush()
        #expect(tracer.figures.exportFailures == 3)
        #expect(tracer.figures.spansDropped == 7)
        #expect(tracer.figures.spansExported == 0)
    }

    @Test func theServiceExportsOnItsIntervalAndDrainsWhenStopped() async throws {
        let sink = RecordingSink()
        let tracer = makeTracer(sink: sink) { $0.flushInterval = .milliseconds(50) }
        let service = Task { try await tracer.run() }
        tracer.startSpan("first", context: .topLevel).end()
        // Exported by the interval tick, without flush().
        let deadline = ContinuousClock.now + .seconds(5)
        while tracer.figures.spansExported < 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(tracer.figures.spansExported == 1)
        for _ in 0..<5 { tracer.startSpan("more", context: .topLevel).end() }
        await tracer.flush()  // waits for the running loop
        #expect(tracer.figures.spansExported == 6)
        tracer.startSpan("last", context: .topLevel).end()
        service.cancel()
        try await service.value
        #expect(tracer.figures.spansExported == 7)
        #expect(tracer.figures.queueDepth == 0)
    }

    @Test func aFullBatchIsExportedWithoutWaitingForTheInterval() async throws {
        let sink = RecordingSink()
        let tracer = makeTracer(sink: sink) {
            $0.flushInterval = .seconds(3600)
            $0.batchSize = 5
        }
        let service = Task { try await tracer.run() }
        for _ in 0..<5 { tracer.startSpan("s", context: .topLevel).end() }
        let deadline = ContinuousClock.now + .seconds(5)
        while tracer.figures.spansExported < 5, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(tracer.figures.spansExported == 5)
        service.cancel()
        try await service.value
    }

    @Test func otlpJSONOfABatchHasTheExpectedFields() async throws {
        let sink = RecordingSink()
        let tracer = makeTracer(sink: sink) {
            $0.serviceName = "ats-test"
            $0.serviceVersion = "1.2.3"
        }
        let remote = tracer.context(traceparent: TraceparentTests.valid, tracestate: "congo=t61rcWkgMzE")
        let root = tracer.startSpan("GET /api/v1/candidates/{id}", context: remote, ofKind: .server, at: at(0))
        root.attributes["http.route"] = "/api/v1/candidates/{id}"
        root.attributes["http.response.status_code"] = 200
        root.attributes["ratio"] = 0.25
        root.attributes["cached"] = true
        root.attributes["tags"] = SpanAttribute.stringArray(["a", "b"])
        root.attributes["quote"] = "say \"hi\"\n\t\\ \u{01} é"
        let child = tracer.startSpan("job email.send", context: root.context, ofKind: .producer, at: at(1))
        child.addLink(SpanLink(context: remote, attributes: [:]))
        child.addEvent(SpanEvent(name: "retry", at: at(2), attributes: ["attempt": 2]))
        child.setStatus(SpanStatus(code: .error, message: "smtp 451"))
        child.end(at: at(3))
        root.setStatus(SpanStatus(code: .ok))
        root.end(at: at(4))
        await tracer.flush()

        let body = try #require(sink.bodies.withLock { $0.first })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let resourceSpans = try #require(object["resourceSpans"] as? [[String: Any]])
        let resource = try #require(resourceSpans.first?["resource"] as? [String: Any])
        let resourceAttributes = try #require(resource["attributes"] as? [[String: Any]])
        #expect(Self.value(resourceAttributes, "service.name")?["stringValue"] as? String == "ats-test")
        #expect(Self.value(resourceAttributes, "service.version")?["stringValue"] as? String == "1.2.3")
        let scopeSpans = try #require(resourceSpans.first?["scopeSpans"] as? [[String: Any]])
        #expect((scopeSpans.first?["scope"] as? [String: Any])?["name"] as? String == "ats")
        let spans = try #require(scopeSpans.first?["spans"] as? [[String: Any]])
        #expect(spans.count == 2)
        let producer = spans[0]
        let server = spans[1]

        #expect(server["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(server["parentSpanId"] as? String == "00f067aa0ba902b7")
        #expect((server["spanId"] as? String)?.count == 16)
        #expect(server["traceState"] as? String == "congo=t61rcWkgMzE")
        #expect(server["kind"] as? Int == 2)
        #expect(server["name"] as? String == "GET /api/v1/candidates/{id}")
        #expect(server["startTimeUnixNano"] as? String == "1750000000000000000")
        #expect(server["endTimeUnixNano"] as? String == "1750000000004000000")
        #expect((server["status"] as? [String: Any])?["code"] as? Int == 1)
        let attributes = try #require(server["attributes"] as? [[String: Any]])
        #expect(Self.value(attributes, "http.route")?["stringValue"] as? String == "/api/v1/candidates/{id}")
        #expect(Self.value(attributes, "http.response.status_code")?["intValue"] as? String == "200")
        #expect(Self.value(attributes, "ratio")?["doubleValue"] as? Double == 0.25)
        #expect(Self.value(attributes, "cached")?["boolValue"] as? Bool == true)
        #expect(Self.value(attributes, "quote")?["stringValue"] as? String == "say \"hi\"\n\t\\ \u{01} é")
        let tags = (Self.value(attributes, "tags")?["arrayValue"] as? [String: Any])?["values"] as? [[String: Any]]
        #expect(tags?.compactMap { $0["stringValue"] as? String } == ["a", "b"])

        #expect(producer["kind"] as? Int == 4)
        #expect(producer["parentSpanId"] as? String == server["spanId"] as? String)
        let status = try #require(producer["status"] as? [String: Any])
        #expect(status["code"] as? Int == 2)
        let events = try #require(producer["events"] as? [[String: Any]])
        #expect(events.first?["name"] as? String == "retry")
        #expect(events.first?["timeUnixNano"] as? String == "1750000000002000000")
        let links = try #require(producer["links"] as? [[String: Any]])
        #expect(links.first?["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(links.first?["spanId"] as? String == "00f067aa0ba902b7")
    }

    static func value(_ attributes: [[String: Any]], _ key: String) -> [String: Any]? {
        attributes.first { $0["key"] as? String == key }?["value"] as? [String: Any]
    }
}
