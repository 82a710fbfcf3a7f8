import ATSDomain
import ATSWork
import Foundation
import Testing

@Suite("CSV writer and reader")
struct ExportCSVTests {
    @Test func writerQuotesOnlyWhatNeedsIt() {
        #expect(CSVWriter.escape("plain") == "plain")
        #expect(CSVWriter.escape("a,b") == "\"a,b\"")
        #expect(CSVWriter.escape("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSVWriter.escape("two\r\nlines") == "\"two\r\nlines\"")
        #expect(CSVWriter.escape("lf\nonly") == "\"lf\nonly\"")
        #expect(CSVWriter.escape("") == "")
        #expect(CSVWriter.record(["a", "b,c", ""]) == "a,\"b,c\",\r\n")
    }

    @Test func writerNeutralizesFormulas() {
        #expect(CSVWriter.escape("=SUM(A1:A9)") == "'=SUM(A1:A9)")
        #expect(CSVWriter.escape("+cmd") == "'+cmd")
        #expect(CSVWriter.escape("-2+3") == "'-2+3")
        #expect(CSVWriter.escape("@import") == "'@import")
        #expect(CSVWriter.escape("=HYPERLINK(\"x\",\"y\")") == "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"")
        // Plain numbers are data, not formulas.
        #expect(CSVWriter.escape("-5") == "-5")
        #expect(CSVWriter.escape("+41.5") == "+41.5")
    }

    @Test func readerRoundTripsWhatTheWriterWrites() throws {
        let rows = [["id", "note", "skills"], ["1", "multi\r\nline, with \"quotes\"", "Swift; Go"], ["2", "", "=1+1"]]
        let text = rows.map(CSVWriter.record).joined()
        for chunk in [1, 2, 3, 7, 4096] {
            let records = try readAll(CSVReader(bytes: Array(text.utf8), chunkSize: chunk))
            #expect(records.map { $0.fields.map { $0 ?? "<bad>" } } == [rows[0], rows[1], ["2", "", "'=1+1"]], "chunk \(chunk)")
            #expect(records.map(\.line) == [1, 2, 4])
        }
    }

    @Test func readerHandlesBOMLineEndsAndBlankLines() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("a,b\n\n1,2\r\n\r\n3,\"4\"\r5,6".utf8)
        let records = try readAll(CSVReader(bytes: bytes, chunkSize: 2))
        #expect(records.map(\.fields) == [["a", "b"], ["1", "2"], ["3", "4"], ["5", "6"]])
        #expect(records.map(\.line) == [1, 3, 5, 6])
    }

    @Test func readerFlagsBadUTF8PerCell() throws {
        let bytes: [UInt8] = Array("name,city\n".utf8) + [0x4A, 0xF6, 0x72, 0x67] + Array(",Zürich\n".utf8)
        let records = try readAll(CSVReader(bytes: bytes))
        #expect(records.count == 2)
        #expect(records[1].fields[0] == nil)
        #expect(records[1].fields[1] == "Zürich")
        #expect(records[1].hasInvalidUTF8)
    }

    @Test func readerRefusesUTF16() {
        #expect(throws: CSVError.self) { try readAll(CSVReader(bytes: [0xFF, 0xFE, 0x61, 0x00])) }
    }

    @Test func readerReportsUnterminatedQuotesAndRunawayRecords() throws {
        let records = try readAll(CSVReader(bytes: Array("a,b\n1,\"open\n2,3\n".utf8)))
        #expect(records.count == 2)
        #expect(records[1].unterminatedQuote)
        let long = "a\n\"" + String(repeating: "x", count: 5000)
        #expect(throws: CSVError.self) { try readAll(CSVReader(bytes: Array(long.utf8), maxRecordBytes: 1024)) }
    }

    @Test func readerCountsCellsAsWritten() throws {
        let records = try readAll(CSVReader(bytes: Array("a,b,c\n1,2\n1,2,3,4\n,,\n".utf8)))
        #expect(records.map(\.fields.count) == [3, 2, 4, 3])
    }
}
