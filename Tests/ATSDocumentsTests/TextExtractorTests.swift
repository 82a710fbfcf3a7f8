import ATSDocuments
import Foundation
import Testing

@Suite("Text extraction")
struct TextExtractorTests {
    @Test("Content types and filenames map to formats")
    func formats() {
        #expect(DocumentFormat(contentType: "application/pdf") == .pdf)
        #expect(DocumentFormat(contentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document") == .docx)
        #expect(DocumentFormat(contentType: "text/rtf") == .rtf)
        #expect(DocumentFormat(contentType: "application/rtf") == .rtf)
        #expect(DocumentFormat(contentType: "text/plain; charset=utf-8") == .text)
        #expect(DocumentFormat(contentType: "Application/PDF") == .pdf)
        #expect(DocumentFormat(contentType: "application/msword") == nil)
        #expect(DocumentFormat(contentType: "image/png") == nil)
        #expect(DocumentFormat(filename: "Jane Doe CV.DOCX") == .docx)
        #expect(DocumentFormat(filename: "cv") == nil)
    }

    @Test("Extraction by content type: sniffed types work, others fail as unsupported with a hint")
    func byContentType() async throws {
        #expect(try await TextExtractor.extract(bytes: Array("Jane".utf8), contentType: "text/plain; charset=utf-8") == "Jane")
        let doc = await documentError { _ = try await TextExtractor.extract(bytes: Fixtures.encryptedOfficeFile(), contentType: "application/msword") }
        #expect(doc?.code == .unsupported)
        #expect(doc?.reason == "Word 97-2003 (.doc) files are not read; save the CV as .docx or PDF.")
        let image = await documentError { _ = try await TextExtractor.extract(bytes: [0x89, 0x50], contentType: "image/png") }
        #expect(image?.code == .unsupported)
        #expect(await documentError { _ = try await TextExtractor.extract(bytes: [1], contentType: "application/zip") }?.code == .unsupported)
    }

    // MARK: PDF

    @Test("A generated PDF reads back through pdftotext, accents, brackets and page breaks included",
          .enabled(if: pdftotextInstalled, "pdftotext is not installed (apt-get install poppler-utils)"))
    func pdfRoundTrip() async throws {
        var lines = ["Zoë Müller-Lüdenscheidt", "Senior Data Engineer (Zürich) \\ 100% remote — “quoted” €"]
        lines += (1...70).map { "Line \($0) of a long CV" }
        let pdf = SampleDocuments.pdf(lines: lines)
        #expect(pdf.starts(with: Array("%PDF-1.4".utf8)))
        let text = try await TextExtractor.extract(bytes: pdf, format: .pdf)
        let extracted = text.split(separator: "\n").map(String.init)
        #expect(extracted.first == "Zoë Müller-Lüdenscheidt")
        #expect(extracted.contains("Senior Data Engineer (Zürich) \\ 100% remote — “quoted” €"))
        #expect(extracted.contains("Line 70 of a long CV"), "the second page")
        #expect(!text.contains("\u{0C}"), "form feeds normalised away")
    }

    @Test("An encrypted PDF fails as encrypted", .enabled(if: pdftotextInstalled, "pdftotext is not installed"))
    func encryptedPDF() async {
        let error = await documentError { _ = try await TextExtractor.extract(bytes: Fixtures.encryptedPDF(), format: .pdf) }
        #expect(error?.code == .encrypted)
        #expect(error?.reason == "The PDF is password-protected.")
    }

    @Test("Malformed PDFs fail as malformed: garbage after the header, a truncated file, not a PDF at all",
          .enabled(if: pdftotextInstalled, "pdftotext is not installed"))
    func malformedPDF() async {
        let garbage = Array("%PDF-1.7\n".utf8) + Fixtures.garbage(200_000)
        let error = await documentError { _ = try await TextExtractor.extract(bytes: garbage, format: .pdf) }
        #expect(error?.code == .malformed)
        #expect(error?.reason == "The PDF is damaged or not a valid PDF.")
        let truncated = Array(SampleDocuments.pdf(lines: ["Jane Doe"]).prefix(150))
        #expect(await documentError { _ = try await TextExtractor.extract(bytes: truncated, format: .pdf) }?.code == .malformed)
        let notPDF = Array("Jane Doe, Engineer".utf8)
        let notError = await documentError { _ = try await TextExtractor.extract(bytes: notPDF, format: .pdf) }
        #expect(notError?.code == .malformed)
        #expect(notError?.reason == "The file is not a PDF.")
    }

    @Test("A PDF without a text layer is empty, with a hint about scans", .enabled(if: pdftotextInstalled, "pdftotext is not installed"))
    func scannedPDF() async {
        let error = await documentError { _ = try await TextExtractor.extract(bytes: Fixtures.imageOnlyPDF(), format: .pdf) }
        #expect(error?.code == .empty)
        #expect(error?.reason == "The PDF has no text layer; it may be a scanned image.")
    }

    @Test("pdftotext is killed at the timeout", .enabled(if: pdftotextInstalled, "pdftotext is not installed"))
    func timeout() async {
        let pdf = SampleDocuments.pdf(lines: (1...3000).map { "Line \($0)" })
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("timeout-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let clock = ContinuousClock()
        let start = clock.now
        let error = await documentError {
            let limits = ExtractionLimits(timeout: .milliseconds(1), temporaryDirectory: folder)
            _ = try await TextExtractor.extract(bytes: pdf, format: .pdf, limits: limits)
        }
        #expect(error?.code == .timeout)
        #expect(error?.reason == "Reading the PDF took longer than 1 ms and was stopped.")
        #expect(clock.now - start < .seconds(5))
        // The child is gone and its private copy of the PDF removed.
        #expect((try? FileManager.default.contentsOfDirectory(atPath: folder)) == [])
    }

    @Test("A missing pdftotext is reported as such")
    func toolMissing() async {
        let limits = ExtractionLimits(pdftotext: "/nonexistent/pdftotext")
        let error = await documentError { _ = try await TextExtractor.extract(bytes: SampleDocuments.pdf(lines: ["x"]), format: .pdf, limits: limits) }
        #expect(error?.code == .toolMissing)
    }

    // MARK: DOCX

    @Test("A generated DOCX reads back: paragraphs, tabs, line breaks, XML escapes")
    func docxRoundTrip() async throws {
        let docx = SampleDocuments.docx(paragraphs: ["Jane Doe", "Phone:\t+41 79 123 45 67", "R&D <lead> \"quoted\"\nsecond line", "", "Zürich"])
        let text = try await TextExtractor.extract(bytes: docx, format: .docx)
        #expect(text == "Jane Doe\nPhone:\t+41 79 123 45 67\nR&D <lead> \"quoted\"\nsecond line\n\nZürich")
    }

    @Test("Word's constructs: header part first, table rows on one line, no field codes, deletions or VML duplicates")
    func docxFromWordConstructs() async throws {
        let text = try await TextExtractor.extract(bytes: Fixtures.pythonDocx, format: .docx)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines == [
            "CONFIDENTIAL CV",
            "Priya Sharma",
            "Head of Data\tZurich",
            "Email\tpriya.sharma@proton.example",
            "Phone\t+41 76 987 65 43",
            "Experience",
            "2017 – present\tHead of Data, Helvetia & Partners",
            "Skills: Python, dbt, Snowflake, Airflow",
            "Languages: English (native), Hindi (native), German (B1) <3 ☺ é",
        ])
    }

    @Test("Hostile DOCX files fail with a reason: bomb, truncated, garbage, encrypted, legacy .doc, a workbook")
    func hostileDocx() async {
        let zeros = Fixtures.deflatedZeros(3_000_000)
        let bomb = Fixtures.zip([("word/document.xml", zeros, 8, 0, zeros.count, 2_000, 0)])
        #expect(await documentError { _ = try await TextExtractor.extract(bytes: bomb, format: .docx) }?.code == .zipBomb)
        let declared = Fixtures.zip([("word/document.xml", zeros, 8, 0, zeros.count, 3_000_000_000, 0)])
        #expect(await documentError { _ = try await TextExtractor.extract(bytes: declared, format: .docx) }?.code == .zipBomb)

        let truncated = Array(Fixtures.pythonDocx.prefix(Fixtures.pythonDocx.count / 2))
        let truncatedError = await documentError { _ = try await TextExtractor.extract(bytes: truncated, format: .docx) }
        #expect(truncatedError?.code == .malformed)
        #expect(truncatedError?.reason == "The ZIP archive is truncated or damaged: its directory is missing.")

        let garbage = await documentError { _ = try await TextExtractor.extract(bytes: Fixtures.garbage(10_000), format: .docx) }
        #expect(garbage?.code == .malformed)
        #expect(garbage?.reason == "The file is not a Word document.")

        let encrypted = await documentError { _ = try await TextExtractor.extract(bytes: Fixtures.encryptedOfficeFile(), format: .docx) }
        #expect(encrypted?.code == .encrypted)
        var legacy = Fixtures.encryptedOfficeFile()
        legacy.removeLast(512 + 28)
        #expect(await documentError { _ = try await TextExtractor.extract(bytes: legacy, format: .docx) }?.code == .unsupported)

        let workbook = Fixtures.zip([("xl/workbook.xml", Array("<workbook/>".utf8), 0, CRC32.checksum(Array("<workbook/>".utf8)), 11, 11, 0)])
        let workbookError = await documentError { _ = try await TextExtractor.extract(bytes: workbook, format: .docx) }
        #expect(workbookError?.code == .unsupported)
        #expect(workbookError?.reason == "This is an Excel workbook, not a Word document.")
    }

    // MARK: RTF

    @Test("RTF: \\'e9 and \\u escapes, skipped destinations, groups, tabs and paragraphs")
    func rtf() async throws {
        let source = #"""
            {\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Arial;}{\f1 Times;}}{\colortbl;\red0\green0\blue0;}
            {\*\generator Riched20 10.0}{\info{\author Secret Author}}\viewkind4\uc1\pard\f0\fs22
            {\b Ren\'e9e Fran\'e7ois}\par
            Ing\u233?nieure \endash  Z\u252?rich\tab Gen\u232\'e8ve\par
            Emoji \u-10179?\u-8704? and braces \{ \} and \\ backslash\par
            {\pict\wmetafile8 0102030405}{\field{\*\fldinst HYPERLINK "x"}{\fldrslt link text}}\par
            \bin4 
            """#
        let bytes = Array(source.utf8) + [0x00, 0xFF, UInt8(ascii: "{"), UInt8(ascii: "}")] + Array("done}".utf8)
        let text = try await TextExtractor.extract(bytes: bytes, format: .rtf)
        #expect(text == "Renée François\nIngénieure – Zürich\tGenève\nEmoji 😀 and braces { } and \\ backslash\nlink text\ndone")
        #expect(!text.contains("Secret Author") && !text.contains("Arial") && !text.contains("Riched20"))
    }

    @Test("A generated RTF reads back")
    func rtfRoundTrip() async throws {
        let rtf = SampleDocuments.rtf(paragraphs: ["Jürgen Groß", "Développeur {C#} \\ ✓ 🎉", "Tab\there"])
        let text = try await TextExtractor.extract(bytes: Array(rtf.utf8), format: .rtf)
        #expect(text == "Jürgen Groß\nDéveloppeur {C#} \\ ✓ 🎉\nTab\there")
    }

    @Test("Hostile RTF: not RTF, nested too deeply, binary garbage")
    func hostileRTF() async {
        #expect(await documentError { _ = try await TextExtractor.extract(bytes: Array("plain text".utf8), format: .rtf) }?.code == .malformed)
        let deep = Array(("{\\rtf1 " + String(repeating: "{", count: 100_000)).utf8)
        let deepError = await documentError { _ = try await TextExtractor.extract(bytes: deep, format: .rtf) }
        #expect(deepError?.code == .malformed)
        #expect(deepError?.reason == "The RTF document is nested too deeply.")
        let garbage = Array("{\\rtf1 ".utf8) + Fixtures.garbage(50_000).map { $0 == UInt8(ascii: "{") ? 0x20 : $0 }
        let garbageResult = await documentError { _ = try await TextExtractor.extract(bytes: garbage, format: .rtf) }
        #expect(garbageResult == nil || garbageResult?.code == .empty || garbageResult?.code == .malformed)
    }

    // MARK: Plain text

    @Test("Plain text: UTF-8 (with or without BOM), UTF-16 with BOM, Latin-1 and Windows-1252")
    func plainText() async throws {
        #expect(try await TextExtractor.extract(bytes: Array("Zoë Müller\r\nZürich".utf8), format: .text) == "Zoë Müller\nZürich")
        #expect(try await TextExtractor.extract(bytes: [0xEF, 0xBB, 0xBF] + Array("Genève".utf8), format: .text) == "Genève")
        let utf16: [UInt8] = [0xFF, 0xFE] + "Genève 🎉".utf16.flatMap { unit -> [UInt8] in [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        #expect(try await TextExtractor.extract(bytes: utf16, format: .text) == "Genève 🎉")
        let latin1: [UInt8] = Array("Ren".utf8) + [0xE9] + Array("e Fran".utf8) + [0xE7] + Array("ois ".utf8) + [0x80, 0x93, 0x94]
        #expect(try await TextExtractor.extract(bytes: latin1, format: .text) == "Renée François €“”")
    }

    @Test("Normalisation: decomposed accents composed, ligatures unfolded, blank runs collapsed, truncated to the limit")
    func normalisation() async throws {
        let decomposed = "Zu\u{0308}rich \u{FB01}nance\u{00A0}team\n\n\n\n  \nNext   \u{200B}"
        #expect(try await TextExtractor.extract(bytes: Array(decomposed.utf8), format: .text) == "Zürich finance team\n\nNext")
        let long = (0..<1_000).map { "paragraph \($0)" }
        let limits = ExtractionLimits(maxTextCharacters: 1_000)
        let truncated = try await TextExtractor.extract(bytes: Array(long.joined(separator: "\n").utf8), format: .text, limits: limits)
        #expect(truncated.count <= 1_000 && truncated.count > 900)
        let docx = try await TextExtractor.extract(bytes: SampleDocuments.docx(paragraphs: long), format: .docx, limits: limits)
        #expect(docx.count <= 1_000 && docx.hasPrefix("paragraph 0\nparagraph 1\n"))
        let rtf = try await TextExtractor.extract(bytes: Array(SampleDocuments.rtf(paragraphs: long).utf8), format: .rtf, limits: limits)
        #expect(rtf.count <= 1_000 && rtf.hasPrefix("paragraph 0\nparagraph 1\n"))
    }

    @Test("Empty, oversized and binary input fail with a reason for every format")
    func hostileText() async {
        for format in DocumentFormat.allCases {
            let empty = await documentError { _ = try await TextExtractor.extract(bytes: [], format: format) }
            #expect(empty?.code == .empty, "\(format)")
            #expect(empty?.reason == "The file is empty.")
            let large = await documentError {
                _ = try await TextExtractor.extract(bytes: [UInt8](repeating: 0x41, count: 2_000), format: format, limits: ExtractionLimits(maxInputBytes: 1_000))
            }
            #expect(large?.code == .tooLarge, "\(format)")
        }
        let binary = await documentError { _ = try await TextExtractor.extract(bytes: Fixtures.garbage(4_096), format: .text) }
        #expect(binary?.code == .malformed)
        #expect(binary?.reason == "The file is declared as text but contains binary data.")
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Fixtures.garbage(2_000, seed: 7)
        #expect(await documentError { _ = try await TextExtractor.extract(bytes: png, format: .text) }?.code == .malformed)
        #expect(await documentError { _ = try await TextExtractor.extract(bytes: Array("   \n\t\n".utf8), format: .text) }?.code == .empty)
    }
}
