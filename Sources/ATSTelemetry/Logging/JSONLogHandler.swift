import Foundation
import Logging
import Synchronization
import Tracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Structured logs: one JSON object per line,
/// `{"ts":"2026-01-02T03:04:05.678Z","level":"info","label":…,"msg":…,"request_id":…,"trace_id":…,"span_id":…,<other metadata>}`.
///
/// The well-known keys come first in that order, the other metadata after them sorted by key;
/// nested metadata become JSON objects and arrays. An attached error is logged by its type name
/// only (`error_type`): error messages can carry personal data.
public struct JSONLogHandler: LogHandler {
    /// Receives each finished line, without the trailing newline.
    public typealias Sink = @Sendable (String) -> Void

    /// Messages below this level are not written.
    public var logLevel: Logger.Level = .info
    /// The logger's own metadata (a log call's metadata wins over it).
    public var metadata: Logger.Metadata = [:]
    /// Contextual metadata, e.g. `tracingMetadataProvider()`.
    public var metadataProvider: Logger.MetadataProvider?
    /// The logger's label, written as `label`.
    public let label: String
    private let sink: Sink

    /// `sink` nil: standard error, one `write` per line (lines from concurrent tasks do not interleave).
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, sink: Sink? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.sink = sink ?? Self.standardError
    }

    /// One metadata value of the logger.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line.
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let extra = event.metadata, !extra.isEmpty {
            merged.merge(extra) { _, new in new }
        }
        if let error = event.error {
            merged["error_type"] = .string(String(reflecting: type(of: error)))
        }
        sink(Self.line(timestamp: Date(), level: event.level, label: label, message: event.message.description, metadata: merged))
    }

    /// Keys that come right after `msg`, in this order.
    static let leadingKeys = ["request_id", "trace_id", "span_id"]
    /// Keys the handler writes itself; metadata under these names is renamed with a `meta.` prefix.
    static let reservedKeys: Set<String> = ["ts", "level", "label", "msg"]

    static func line(
        timestamp: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata
    ) -> String {
        var json = JSONWriter(reservingCapacity: 256)
        json.object { json in
            json.field("ts", iso8601(timestamp))
            json.field("level", level.rawValue)
            json.field("label", label)
            json.field("msg", message)
            for key in leadingKeys {
                if let value = metadata[key] {
                    json.key(key)
                    write(value, to: &json)
                }
            }
            for key in metadata.keys.sorted() where !leadingKeys.contains(key) {
                guard let value = metadata[key] else { continue }
                json.key(reservedKeys.contains(key) ? "meta." + key : key)
                write(value, to: &json)
            }
        }
        return json.string
    }

    private static func write(_ value: Logger.Metadata.Value, to json: inout JSONWriter) {
        switch value {
        case .string(let string):
            json.string(string)
        case .stringConvertible(let convertible):
            json.string(convertible.description)
        case .array(let values):
            json.array { json in
                for value in values { write(value, to: &json) }
            }
        case .dictionary(let dictionary):
            json.object { json in
                for key in dictionary.keys.sorted() {
                    guard let value = dictionary[key] else { continue }
                    json.key(key)
                    write(value, to: &json)
                }
            }
        }
    }

    /// UTC with milliseconds: `2026-01-02T03:04:05.678Z`.
    static func iso8601(_ date: Date) -> String {
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(totalMillis >= 0 ? totalMillis / 1000 : (totalMillis - 999) / 1000)
        let millis = totalMillis - Int64(seconds) * 1000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    private static let standardError: Sink = { line in
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written <= 0 {
                    if written < 0, errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

extension JSONLogHandler {
    /// Adds `trace_id` and `span_id` of the span in `ServiceContext.current` (one of ours, or a
    /// remote parent): pass it to `Logger(label:metadataProvider:)` or to
    /// `LoggingSystem.bootstrap(_:metadataProvider:)` so every log line inside a traced request
    /// can be joined to its trace.
    public static func tracingMetadataProvider() -> Logger.MetadataProvider {
        Logger.MetadataProvider {
            guard let trace = ServiceContext.current?.w3cTraceContext else { return [:] }
            return ["trace_id": .string(trace.traceID), "span_id": .string(trace.spanID)]
        }
    }
}
