import Foundation
import Testing
import Logging
import Synchronization
import Tracing

@testable import ATSTelemetry

/// A sink that keeps every batch it is given (decoded as JSON), or refuses them all.
final class RecordingSink: SpanSink {
    let bodies = Mutex<[[UInt8]]>([])
    let accepts: Bool

    init(accepts: Bool = true) {
        self.accepts = accepts
    }

    func write(_ body: [UInt8], spanCount: Int) async -> Bool {
        bodies.withLock { $0.append(body) }
        return accepts
    }

    func close() async {}

    /// Every exported span object, in order.
    var spans: [[String: Any]] {
        bodies.withLock { $0 }.flatMap { body -> [[String: Any]] in
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                let resourceSpans = object["resourceSpans"] as? [[String: Any]]
            else { return [] }
            return resourceSpans.flatMap { resource in
                ((resource["scopeSpans"] as? [[String: Any]]) ?? []).flatMap { ($0["spans"] as? [[String: Any]]) ?? [] }
            }
        }
    }
}

let quietLogger = Logger(label: "telemetry-tests") { _ in SwiftLogNoOpLogHandler() }

func makeTracer(
    sampleRatio: Double = 1, seed: UInt64 = 42, sink: (any SpanSink)? = nil,
    configure: (inout TraceConfiguration) -> Void = { _ in }
) -> ApplianceTracer {
    var configuration = TraceConfiguration(sampleRatio: sampleRatio)
    configure(&configuration)
    return ApplianceTracer(configuration: configuration, logger: quietLogger, seed: seed, sink: sink)
}

/// A fixed instant, `milliseconds` after an arbitrary epoch in 2025.
func at(_ milliseconds: UInt64) -> DefaultTracerClock.Timestamp {
    DefaultTracerClock.Timestamp(nanosecondsSinceEpoch: 1_750_000_000_000_000_000 + milliseconds * 1_000_000)
}

/// A fresh empty directory under the temporary folder.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "ats-telemetry-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

struct DictionaryCarrier: Injector, Extractor {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }

    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}

/// The recent trace with this id (failing the test when it is missing).
func requireTree(_ tracer: ApplianceTracer, _ id: String?, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> TraceTree {
    let id = try #require(id, sourceLocation: sourceLocation)
    return try #require(tracer.trace(id: id), sourceLocation: sourceLocation)
}
