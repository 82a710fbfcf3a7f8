import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// JSON-lines trace files: `directory/traces-<UTC yyyyMMdd'T'HHmmss>-<seq>.jsonl`, one
/// `ExportTraceServiceRequest` per line (one line per batch). A file is closed once the next
/// line would take it past `maxFileBytes` (a single larger line still gets a file of its own);
/// then the oldest files are deleted so that `maxFiles` remain, the open one included.
final class FileSpanSink: SpanSink {
    private struct State {
        var descriptor: Int32 = -1
        var path: String?
        var size = 0
        var sequence = 0
        /// A write failed and none succeeded since: a full disk fails every batch, logged once.
        var failing = false
    }

    let directory: String
    let maxFileBytes: Int
    let maxFiles: Int
    private let logger: Logger
    private let state = Mutex(State())

    init(directory: String, maxFileBytes: Int, maxFiles: Int, logger: Logger) {
        self.directory = directory
        self.maxFileBytes = max(1, maxFileBytes)
        self.maxFiles = max(1, maxFiles)
        self.logger = logger
    }

    func write(_ body: [UInt8], spanCount: Int) async -> Bool {
        var line = body
        line.append(UInt8(ascii: "\n"))
        return state.withLock { state in
            do {
                if state.descriptor >= 0, state.size > 0, state.size + line.count > maxFileBytes {
                    closeFile(&state)
                }
                if state.descriptor < 0 { try openFile(&state) }
                do {
                    try writeAll(line, to: state.descriptor)
                } catch {
                    // A line cut short (the disk filled up) would break every reader of the file.
                    _ = ftruncate(state.descriptor, off_t(state.size))
                    throw error
                }
                state.size += line.count
                if state.failing {
                    state.failing = false
                    logger.notice("trace files are written again", metadata: ["directory": "\(directory)"])
                }
                return true
            } catch {
                if !state.failing {
                    logger.warning(
                        "trace file write failed; logged again once it works", metadata: ["directory": "\(directory)", "error": "\(error)"])
                }
                state.failing = true
                // An empty file left by each failed batch would push real trace files out (`maxFiles`).
                if state.descriptor >= 0, state.size == 0, let path = state.path { unlink(path) }
                // Start afresh next time (the directory may have been removed, the disk freed).
                closeFile(&state)
                return false
            }
        }
    }

    func close() async {
        state.withLock { closeFile(&$0) }
    }

    /// The trace files present, oldest first.
    func files() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("traces-") && $0.hasSuffix(".jsonl") }.sorted()
            .map { directory + "/" + $0 }
    }

    private func closeFile(_ state: inout State) {
        if state.descriptor >= 0 { _ = posixClose(state.descriptor) }
        state.descriptor = -1
        state.path = nil
        state.size = 0
    }

    private func openFile(_ state: inout State) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        state.sequence += 1
        let path = directory + "/traces-" + Self.timestamp() + "-" + Self.padded(state.sequence) + ".jsonl"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSinkError(operation: "open", code: errno) }
        var info = stat()
        let existing = fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
        state.descriptor = descriptor
        state.path = path
        state.size = existing
        prune(keeping: path)
    }

    private func prune(keeping current: String) {
        let others = files().filter { $0 != current }
        let excess = others.count - (maxFiles - 1)
        guard excess > 0 else { return }
        for path in others.prefix(excess) { unlink(path) }
    }

    private func writeAll(_ bytes: [UInt8], to descriptor: Int32) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = posixWrite(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FileSinkError(operation: "write", code: errno)
                }
                offset += written
            }
        }
    }

    /// UTC `yyyyMMdd'T'HHmmss`.
    static func timestamp(_ date: Date = Date()) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))"
    }

    /// Zero-padded so names sort in creation order.
    private static func padded(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}

/// An errno from the trace file sink.
struct FileSinkError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32
    var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

// File-scope shims: inside the sink, `close` and `write` name its own methods.
private func posixClose(_ descriptor: Int32) -> Int32 { close(descriptor) }
private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
