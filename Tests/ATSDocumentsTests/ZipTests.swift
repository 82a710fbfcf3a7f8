import ATSDocuments
import Foundation
import Testing

/// Runs a throwing body and returns the DocumentError it threw (nil when it did not throw, or threw
/// something else, which the calling expectation then reports).
func documentError(_ body: () throws -> Void) -> DocumentError? {
    do {
        try body()
        return nil
    } catch {
        return error as? DocumentError
    }
}

func documentError(_ body: () async throws -> Void) async -> DocumentError? {
    do {
        try await body()
        return nil
    } catch {
        return error as? DocumentError
    }
}

@Suite("ZIP reading and writing")
struct ZipTests {
    @Test("A DOCX written by Python's zipfile (deflate, level 9) reads back, CRCs checked")
    func readsRealDeflate() throws {
        let archive = try ZipReader(bytes: Fixtures.pythonDocx)
        #expect(archive.entryNames == ["[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/header1.xml", "word/media/image1.png"])
        #expect(archive.entries["word/document.xml"]?.method == 8)
        let document = String(decoding: try archive.read("word/document.xml"), as: UTF8.self)
        #expect(document.hasPrefix("<?xml") && document.hasSuffix("</w:document>"))
        #expect(document.contains("Priya Sharma"))
        let image = try archive.read("word/media/image1.png")
        #expect(image == Array((0..<8).flatMap { _ in (0...255).map(UInt8.init) }), "a stored entry")
    }

    @Test("zlib's raw DEFLATE (dynamic and fixed blocks, empty stored blocks) inflates byte for byte")
    func inflatesZlibOutput() throws {
        let expected = Fixtures.deflatedText
        let archive = try ZipReader(bytes: Fixtures.zip([
            ("text.txt", Fixtures.zlibDeflate, 8, CRC32.checksum(expected), Fixtures.zlibDeflate.count, expected.count, 0),
        ]))
        #expect(try archive.read("text.txt") == expected)
    }

    @Test("CRC-32 matches the standard check value")
    func crc() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        var incremental = CRC32()
        incremental.update(Array("1234".utf8))
        incremental.update(Array("56789".utf8))
        #expect(incremental.value == 0xCBF4_3926)
    }

    @Test("ZipWriter output is read by unzip and by our reader, streamed entries included")
    func writerRoundTrip() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("documents.zip").path
        let pdf = SampleDocuments.pdf(lines: ["Jane Doe", "Engineer"])
        let big = Fixtures.garbage(300_000)
        var writer = try ZipWriter(path: path)
        try writer.add(name: "Jane Doe CV.pdf", bytes: pdf, modified: Date(timeIntervalSince1970: 1_700_000_000))
        try writer.add(name: "notes/Entretien à Genève.txt", chunks: [Array("Très ".utf8), Array("bien".utf8)])
        let stream = AsyncStream<[UInt8]> { continuation in
            for start in stride(from: 0, to: big.count, by: 65_536) { continuation.yield(Array(big[start..<min(start + 65_536, big.count)])) }
            continuation.finish()
        }
        try await writer.add(name: "blob.bin", chunks: stream)
        try writer.add(name: "empty.txt", bytes: [])
        try writer.finish()

        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let archive = try ZipReader(bytes: bytes)
        #expect(archive.entryNames == ["Jane Doe CV.pdf", "notes/Entretien à Genève.txt", "blob.bin", "empty.txt"])
        #expect(try archive.read("Jane Doe CV.pdf") == pdf)
        #expect(String(decoding: try archive.read("notes/Entretien à Genève.txt"), as: UTF8.self) == "Très bien")
        #expect(try archive.read("blob.bin") == big)
        #expect(try archive.read("empty.txt").isEmpty)

        if FileManager.default.isExecutableFile(atPath: "/usr/bin/unzip") {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/unzip")
            process.arguments = ["-tq", path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "unzip -t accepts the archive")
        }
    }

    @Test("ZipWriter refuses unsafe and duplicate names; entryName makes user filenames safe and unique")
    func writerNames() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("names-\(UUID().uuidString).zip").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var writer = try ZipWriter(path: path)
        for bad in ["", "/etc/passwd", "../escape.txt", "a/../../b", "a\\b.txt", "nul\u{0}.txt", "dir/", "a//b"] {
            #expect(documentError { try writer.add(name: bad, bytes: [1]) }?.code == .unsupported, "\(bad)")
        }
        try writer.add(name: "cv.pdf", bytes: [1])
        #expect(documentError { try writer.add(name: "cv.pdf", bytes: [2]) }?.code == .unsupported)
        try writer.finish()
        #expect(documentError { try writer.add(name: "late.txt", bytes: [1]) }?.code == .io)

        #expect(ZipWriter.entryName(for: "../../etc/passwd", avoiding: []) == "passwd")
        #expect(ZipWriter.entryName(for: "C:\\Users\\jane\\CV.pdf", avoiding: []) == "CV.pdf")
        #expect(ZipWriter.entryName(for: "cv.pdf", avoiding: ["cv.pdf", "cv (2).pdf"]) == "cv (3).pdf")
        #expect(ZipWriter.entryName(for: "..", avoiding: []) == "file")
        #expect(ZipWriter.entryName(for: ".hidden", avoiding: []) == "hidden")
        #expect(ZipWriter.entryName(for: "bad\u{7}name\n.txt", avoiding: []) == "badname.txt")
    }

    @Test("A 42.zip-like archive is refused from its directory, before anything is inflated")
    func declaredBomb() {
        let small = Fixtures.deflatedZeros(10_000)
        // One entry claiming 4 GiB - 1 from a few bytes: the ratio.
        let ratio = Fixtures.zip([("zeros", small, 8, 0, small.count, 0xFFFF_FFFE, 0)])
        #expect(documentError { _ = try ZipReader(bytes: ratio) }?.code == .zipBomb)
        // Many honest-looking entries whose sizes add up past the total.
        let entries = (0..<20).map { index in
            (name: "part\(index)", data: [UInt8](), method: UInt16(0), crc: UInt32(0), compressed: 4 << 20, uncompressed: 4 << 20, flags: UInt16(0))
        }
        let total = Fixtures.zip(entries)
        #expect(documentError { _ = try ZipReader(bytes: total, limits: ExtractionLimits(maxUncompressedBytes: 64 << 20)) }?.code == .zipBomb)
        // Too many entries.
        let many = Fixtures.zip((0..<60).map { ("f\($0)", [], 0, 0, 0, 0, 0) })
        let error = documentError { _ = try ZipReader(bytes: many, limits: ExtractionLimits(maxEntries: 50)) }
        #expect(error?.code == .zipBomb)
        #expect(error?.reason == "The archive holds more than 50 files.")
    }

    @Test("An entry that lies about its size stops inflating at the declared size")
    func lyingBomb() {
        let zeros = Fixtures.deflatedZeros(5_000_000)  // ~40 KB that expand to 5 MB
        let archive = Fixtures.zip([("word/document.xml", zeros, 8, 0, zeros.count, 1_000, 0)])
        let reader = try? ZipReader(bytes: archive)
        #expect(reader != nil, "the directory alone looks harmless")
        let error = documentError { _ = try reader!.read("word/document.xml") }
        #expect(error?.code == .zipBomb)
        #expect(error?.reason == "A file in the archive expands beyond its declared size.")
    }

    @Test("Truncated, damaged, ZIP64, encrypted and unknown-method archives fail with a reason")
    func damaged() throws {
        let docx = Fixtures.pythonDocx
        let truncated = Array(docx.prefix(docx.count - 40))
        #expect(documentError { _ = try ZipReader(bytes: truncated) }?.code == .malformed)
        #expect(documentError { _ = try ZipReader(bytes: Array(docx.prefix(10))) }?.code == .malformed)
        #expect(documentError { _ = try ZipReader(bytes: Fixtures.garbage(5_000)) }?.code == .malformed)

        // Flip a byte inside the deflated document: inflate fails or the CRC does.
        let reader = try ZipReader(bytes: docx)
        let entry = reader.entries["word/document.xml"]!
        var corrupted = docx
        let dataStart = docx.firstRange(of: Array("word/document.xml".utf8))!.upperBound
        corrupted[dataStart + entry.compressedSize / 2] ^= 0x55
        let damaged = try ZipReader(bytes: corrupted)
        #expect(documentError { _ = try damaged.read("word/document.xml") }?.code == .malformed)

        let stored = Array("hello".utf8)
        let badCRC = Fixtures.zip([("a.txt", stored, 0, 1234, 5, 5, 0)])
        #expect(documentError { _ = try ZipReader(bytes: badCRC).read("a.txt") }?.reason == "The ZIP archive is damaged: a file inside it fails its checksum.")
        let encrypted = Fixtures.zip([("a.txt", stored, 0, CRC32.checksum(stored), 5, 5, 1)])
        #expect(documentError { _ = try ZipReader(bytes: encrypted).read("a.txt") }?.code == .encrypted)
        let bzip2 = Fixtures.zip([("a.txt", stored, 12, CRC32.checksum(stored), 5, 5, 0)])
        #expect(documentError { _ = try ZipReader(bytes: bzip2).read("a.txt") }?.code == .unsupported)
        let zip64 = Fixtures.zip([("a.txt", stored, 0, CRC32.checksum(stored), 0xFFFF_FFFF, 0xFFFF_FFFF, 0)])
        #expect(documentError { _ = try ZipReader(bytes: zip64) }?.code == .unsupported)
        // A directory that points past its own end.
        var pointing = Fixtures.zip([("a.txt", stored, 0, CRC32.checksum(stored), 5, 5, 0)])
        pointing[pointing.count - 6] = 0xFF
        #expect(documentError { _ = try ZipReader(bytes: pointing) }?.code == .malformed)
        #expect(documentError { _ = try ZipReader(bytes: badCRC).read("missing.txt") }?.code == .malformed)
    }

    @Test("Random corruptions of a real archive never crash: each read succeeds or throws a DocumentError")
    func fuzz() {
        let docx = Fixtures.pythonDocx
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
        var failures = 0
        for _ in 0..<300 {
            var bytes = docx
            for _ in 0..<(1 + next() % 4) { bytes[next() % bytes.count] = UInt8(next() % 256) }
            if next() % 5 == 0 { bytes = Array(bytes.prefix(next() % bytes.count)) }
            do {
                let reader = try ZipReader(bytes: bytes)
                for name in reader.entryNames { _ = try reader.read(name) }
            } catch {
                failures += 1
                #expect(!error.reason.isEmpty)
            }
        }
        #expect(failures > 0)
    }
}
