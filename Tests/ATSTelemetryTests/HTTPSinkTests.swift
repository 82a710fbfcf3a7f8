import Foundation
import Testing
import Tracing

@testable import ATSTelemetry

@Suite("OTLP/HTTP exporter")
struct HTTPSinkTests {
    @Test func parsesEndpoints() {
        #expect(HTTPSpanSink.Endpoint("http://127.0.0.1:4318")?.path == "/v1/traces")
        #expect(HTTPSpanSink.Endpoint("http://collector:4318/otlp/")?.path == "/otlp/v1/traces")
        #expect(HTTPSpanSink.Endpoint("http://collector")?.port == 80)
        #expect(HTTPSpanSink.Endpoint("http://[::1]:4318")?.host == "::1")
        #expect(HTTPSpanSink.Endpoint("https://collector:4318") == nil)
        #expect(HTTPSpanSink.Endpoint("http://collector:notaport") == nil)
        #expect(HTTPSpanSink.Endpoint("http://:4318") == nil)
    }

    @Test func retriesA503ThenDelivers() async throws {
        let server = try TinyHTTPServer(statuses: [503])
        defer { server.stop() }
        let tracer = makeTracer { $0.endpoint = "http://127.0.0.1:\(server.port)" }
        let span = tracer.startSpan("GET /x", context: .topLevel, ofKind: .server)
        span.attributes["http.route"] = "/x"
        span.end()
        await tracer.flush()
        let requests = server.requests.withLock { $0 }
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.requestLine == "POST /v1/traces HTTP/1.1" })
        #expect(requests.first?.headers["content-type"] == "application/json")
        #expect(requests.first?.headers["content-length"] == String(requests.first?.body.utf8.count ?? -1))
        let body = try #require(requests.last?.body)
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        #expect(object?["resourceSpans"] != nil)
        #expect(tracer.figures.spansExported == 1)
        #expect(tracer.figures.exportFailures == 0)
        #expect(tracer.figures.spansDropped == 0)
    }

    @Test func aNonRetryableStatusDropsAtOnce() async throws {
        let server = try TinyHTTPServer(statuses: [400])
        defer { server.stop() }
        let tracer = makeTracer { $0.endpoint = "http://127.0.0.1:\(server.port)" }
        tracer.startSpan("s", context: .topLevel).end()
        await tracer.flush()
        #expect(server.requests.withLock { $0.count } == 1)
        #expect(tracer.figures.exportFailures == 1)
        #expect(tracer.figures.spansDropped == 1)
    }

    @Test(.timeLimit(.minutes(1)))
    func aDownCollectorDropsAndCountsWithinBoundedTime() async throws {
        let port = try TinyHTTPServer.closedPort()
        let endpoint = try #require(HTTPSpanSink.Endpoint("http://127.0.0.1:\(port)"))
        let sink = HTTPSpanSink(endpoint: endpoint, maxRetries: 2, logger: quietLogger, backoff: .milliseconds(20))
        let tracer = makeTracer(sink: sink) { $0.batchSize = 4 }
        let started = ContinuousClock.now
        for _ in 0..<6 { tracer.startSpan("s", context: .topLevel).end() }
        await tracer.flush()
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(tracer.figures.exportFailures == 2)
        #expect(tracer.figures.spansDropped == 6)
        #expect(tracer.figures.spansExported == 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func aSilentCollectorTimesOut() async throws {
        let server = try TinyHTTPServer(silent: true)
        defer { server.stop() }
        let endpoint = try #require(HTTPSpanSink.Endpoint("http://127.0.0.1:\(server.port)"))
        let sink = HTTPSpanSink(
            endpoint: endpoint, maxRetries: 0, logger: quietLogger, timeout: .milliseconds(300),
            backoff: .milliseconds(10))
        let started = ContinuousClock.now
        #expect(await sink.write(Array("{}".utf8), spanCount: 1) == false)
        #expect(ContinuousClock.now - started < .seconds(3))
    }
}
