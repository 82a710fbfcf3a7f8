import Foundation
import Testing
import Tracing

@testable import ATSTelemetry

@Suite("Trace files")
struct FileSinkTests {
    @Test func writesOneJSONLinePerBatchInTheNamedFile() async throws {
        let directory = try temporaryDirectory() + "/traces"  // created by the sink
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tracer = makeTracer {
            $0.directory = directory
            $0.batchSize = 2
        }
        for _ in 0..<5 { tracer.startSpan("s", context: .topLevel).end() }
        await tracer.flush()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(names.count == 1)
        let name = try #require(names.first)
        #expect(name.range(of: #"^traces-\d{8}T\d{6}-\d{6}\.jsonl$"#, options: .regularExpression) != nil)
        let lines = try String(contentsOfFile: directory + "/" + name, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["resourceSpans"] != nil)
        }
        #expect(tracer.figures.spansExported == 5)
    }

    @Test func rotatesAtMaxBytesAndKeepsMaxFiles() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sink = FileSpanSink(directory: directory, maxFileBytes: 250, maxFiles: 3, logger: quietLogger)
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: 99)  // 100 bytes with its newline
        for _ in 0..<11 {
            #expect(await sink.write(line, spanCount: 1))
        }
        await sink.close()
        // Two lines per file (a third would pass 250 bytes): 6 files written, the 3 newest kept.
        let files = sink.files()
        #expect(files.count == 3)
        #expect(files.map { $0.suffix(12) } == ["000004.jsonl", "000005.jsonl", "000006.jsonl"])
        let sizes = try files.map { try FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int }
        #expect(sizes == [200, 200, 100])
    }

    @Test func aLineLargerThanMaxBytesGetsAFileOfItsOwn() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sink = FileSpanSink(directory: directory, maxFileBytes: 10, maxFiles: 8, logger: quietLogger)
        #expect(await sink.write(Array("small".utf8), spanCount: 1))
        #expect(await sink.write(Array(String(repeating: "L", count: 50).utf8), spanCount: 1))
        #expect(await sink.write(Array("tiny".utf8), spanCount: 1))
        #expect(sink.files().count == 3)
    }

    @Test func anUnwritableDirectoryCountsFailuresWithoutCrashing() async throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        // A regular file where the directory should be.
        let blocked = base + "/not-a-directory"
        _ = FileManager.default.createFile(atPath: blocked, contents: Data("x".utf8))
        let tracer = makeTracer { $0.directory = blocked + "/traces" }
        for _ in 0..<3 { tracer.startSpan("s", context: .topLevel).end() }
        await tracer.flush()
        #expect(tracer.figures.exportFailures == 1)
        #expect(tracer.figures.spansDropped == 3)
    }
}
