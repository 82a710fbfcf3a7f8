import Foundation
import Logging
import Synchronization
import Testing
import Tracing

@testable import ATSTelemetry

private struct SMTPRefused: Error, CustomStringConvertible {
    var description: String { "mailbox jane.doe@example.com refused" }
}

@Suite("JSON logs")
struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        func objects() throws -> [[String: Any]] {
            try all.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        }
    }

    func logger(_ lines: Lines, provider: Logger.MetadataProvider? = nil) -> Logger {
        var logger = Logger(label: "ats.test") { label in
            JSONLogHandler(label: label, metadataProvider: provider) { line in lines.lines.withLock { $0.append(line) } }
        }
        logger.logLevel = .debug
        return logger
    }

    @Test func linesParseAsJSONWithTheKeysInOrder() throws {
        let lines = Lines()
        var log = logger(lines)
        log[metadataKey: "request_id"] = "req-1"
        log.info(
            "candidate \"viewed\"\nnext line",
            metadata: [
                "zeta": "last", "alpha": .stringConvertible(42), "nested": ["k": "v"], "list": ["a", "b"],
                "msg": "collides",
            ])
        log.trace("below the level")
        let line = try #require(lines.all.first)
        #expect(lines.all.count == 1)
        #expect(line.hasPrefix(#"{"ts":""#))
        #expect(line.range(of: #"^\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"info","label":"ats.test","msg":"#, options: .regularExpression) != nil)
        let object = try #require(try lines.objects().first)
        #expect(object["msg"] as? String == "candidate \"viewed\"\nnext line")
        #expect(object["request_id"] as? String == "req-1")
        #expect(object["alpha"] as? String == "42")
        #expect((object["nested"] as? [String: Any])?["k"] as? String == "v")
        #expect(object["list"] as? [String] == ["a", "b"])
        #expect(object["meta.msg"] as? String == "collides")
        // request_id right after msg, then the rest sorted.
        let keys = ["request_id", "alpha", "list", "meta.msg", "nested", "zeta"].compactMap { line.range(of: "\"\($0)\"")?.lowerBound }
        #expect(keys == keys.sorted())
    }

    @Test func carriesTraceIDsOfTheCurrentSpan() throws {
        let lines = Lines()
        let log = logger(lines, provider: JSONLogHandler.tracingMetadataProvider())
        let tracer = makeTracer()
        var ids: W3CTraceContext?
        tracer.withSpan("GET /x", ofKind: .server) { span in
            ids = span.context.w3cTraceContext
            log.info("inside")
        }
        log.info("outside")
        let objects = try lines.objects()
        #expect(objects.count == 2)
        #expect(objects[0]["trace_id"] as? String == ids?.traceID)
        #expect(objects[0]["span_id"] as? String == ids?.spanID)
        #expect(objects[1]["trace_id"] == nil)
        // trace_id and span_id come right after msg.
        let first = try #require(lines.all.first)
        let msg = try #require(first.range(of: "\"msg\"")?.lowerBound)
        let trace = try #require(first.range(of: "\"trace_id\"")?.lowerBound)
        let span = try #require(first.range(of: "\"span_id\"")?.lowerBound)
        #expect(msg < trace && trace < span)
    }

    @Test func anErrorIsLoggedByTypeOnly() throws {
        let lines = Lines()
        let log = logger(lines)
        log.log(level: .error, "send failed", error: SMTPRefused())
        let line = try #require(lines.all.first)
        #expect(!line.contains("jane.doe"))
        let object = try #require(try lines.objects().first)
        #expect((object["error_type"] as? String)?.hasSuffix("SMTPRefused") == true)
        #expect(object["level"] as? String == "error")
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(JSONLogHandler.iso8601(Date(timeIntervalSince1970: 1_767_323_045.678)) == "2026-01-02T03:04:05.678Z")
        #expect(JSONLogHandler.iso8601(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
    }
}
