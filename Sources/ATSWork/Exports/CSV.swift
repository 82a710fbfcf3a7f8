import Foundation

/// RFC 4180 writing: the one place cells are quoted and neutralized, so every export agrees.
public enum CSVWriter {
    /// A record: cells joined by commas, ended by CRLF.
    public static func record(_ cells: [String]) -> String {
        var line = ""
        for (index, cell) in cells.enumerated() {
            if index > 0 { line += "," }
            line += escape(cell)
        }
        return line + "\r\n"
    }

    /// Quotes a cell holding a comma, quote, CR or LF (doubling quotes), and prefixes `'` to a
    /// cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first): exports
    /// carry text that candidates typed, and a CV must not become a formula on a recruiter's machine.
    /// Plain numbers (`-5`, `+41.5`) stay as they are.
    public static func escape(_ cell: String) -> String {
        var text = cell
        if let first = text.utf8.first, formulaStarts.contains(first), Double(text) == nil {
            text = "'" + text
        }
        let needsQuotes = text.utf8.contains { quoteTriggers.contains($0) }
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `=`, `+`, `-`, `@`, tab, CR.
    static let formulaStarts: Set<UInt8> = [61, 43, 45, 64, 9, 13]
    /// `,`, `"`, CR, LF.
    static let quoteTriggers: Set<UInt8> = [44, 34, 13, 10]
}

/// Why a CSV file cannot be read at all (row-level problems are reported per row instead).
public struct CSVError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable { case encoding, recordTooLong, unreadable }
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// One record of a CSV file.
public struct CSVRecord: Sendable, Equatable {
    /// The cells, decoded as UTF-8; nil where the bytes were not valid UTF-8.
    public var fields: [String?]
    /// 1-based physical line where the record starts (records can span lines).
    public var line: Int
    /// The file ended inside a quoted cell.
    public var unterminatedQuote: Bool

    public var hasInvalidUTF8: Bool { fields.contains { $0 == nil } }
}

/// A streaming RFC 4180 reader: quoted cells, doubled quotes, embedded CR/LF, CRLF or LF
/// line ends, a UTF-8 byte-order mark. Reads the source in chunks, so memory stays at one
/// chunk plus one record whatever the file size; a record over `maxRecordBytes` (usually an
/// unbalanced quote swallowing the file) stops the read with a clear error.
public final class CSVReader {
    public static let defaultChunk = 256 * 1024
    let read: (Int) throws -> [UInt8]
    let chunkSize: Int
    let maxRecordBytes: Int

    var buffer: [UInt8] = []
    var position = 0
    var finished = false
    var started = false
    /// Bytes consumed so far (for progress).
    public private(set) var bytesRead = 0
    var line = 1
    var skipLF = false

    /// Reads chunks from `read` (which returns an empty array at the end).
    public init(chunkSize: Int = CSVReader.defaultChunk, maxRecordBytes: Int = 1 << 20, read: @escaping (Int) throws -> [UInt8]) {
        self.read = read
        self.chunkSize = chunkSize
        self.maxRecordBytes = maxRecordBytes
    }

    /// A reader over a file.
    public convenience init(fileHandle: FileHandle, chunkSize: Int = CSVReader.defaultChunk, maxRecordBytes: Int = 1 << 20) {
        self.init(chunkSize: chunkSize, maxRecordBytes: maxRecordBytes) { size in
            guard let data = try fileHandle.read(upToCount: size) else { return [] }
            return [UInt8](data)
        }
    }

    /// A reader over bytes in memory (tests, small uploads).
    public convenience init(bytes: [UInt8], chunkSize: Int = CSVReader.defaultChunk, maxRecordBytes: Int = 1 << 20) {
        var offset = 0
        self.init(chunkSize: chunkSize, maxRecordBytes: maxRecordBytes) { size in
            let end = min(bytes.count, offset + size)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
    }

    func fill() throws -> Bool {
        if finished { return false }
        var chunk: [UInt8]
        do {
            chunk = try read(chunkSize)
            // The first bytes decide the encoding: make sure a byte-order mark is seen whole.
            while !started, chunk.count < 3 {
                let more = try read(chunkSize)
                if more.isEmpty { break }
                chunk += more
            }
        } catch {
            throw CSVError(.unreadable, "the file cannot be read")
        }
        if chunk.isEmpty {
            finished = true
            return false
        }
        buffer = chunk
        position = 0
        if !started {
            started = true
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) {
                position = 3
                bytesRead += 3
            } else if buffer.starts(with: [0xFF, 0xFE]) || buffer.starts(with: [0xFE, 0xFF]) {
                throw CSVError(.encoding, "the file is UTF-16 encoded; save it as CSV UTF-8")
            }
        }
        return true
    }

    enum State { case fieldStart, unquoted, quoted, quoteInQuoted }

    /// The next record, or nil at the end of the file. Blank lines are skipped.
    public func next() throws -> CSVRecord? {
        var fields: [String?] = []
        var field: [UInt8] = []
        var state = State.fieldStart
        var startLine = line
        var recordBytes = 0
        var sawContent = false
        var quotedCR = false

        func endField() {
            fields.append(String(validating: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        }

        while true {
            if position >= buffer.count {
                guard try fill() else {
                    // End of file.
                    if !sawContent && fields.isEmpty && state == .fieldStart { return nil }
                    endField()
                    return CSVRecord(fields: fields, line: startLine, unterminatedQuote: state == .quoted)
                }
                continue
            }
            let byte = buffer[position]
            position += 1
            bytesRead += 1
            if skipLF {
                skipLF = false
                if byte == 10 { continue }
            }
            recordBytes += 1
            if recordBytes > maxRecordBytes {
                throw CSVError(
                    .recordTooLong,
                    "the record starting on line \(startLine) is longer than \(maxRecordBytes) bytes (an unbalanced quote?)")
            }
            switch state {
            case .fieldStart, .unquoted:
                switch byte {
                case UInt8(ascii: "\"") where state == .fieldStart:
                    state = .quoted
                    sawContent = true
                case UInt8(ascii: ","):
                    endField()
                    state = .fieldStart
                    sawContent = true
                case 13, 10:
                    line += 1
                    if byte == 13 { skipLF = true }
                    if !sawContent && fields.isEmpty && field.isEmpty {
                        // A blank line: not a record.
                        startLine = line
                        recordBytes = 0
                        state = .fieldStart
                        continue
                    }
                    endField()
                    return CSVRecord(fields: fields, line: startLine, unterminatedQuote: false)
                default:
                    field.append(byte)
                    state = .unquoted
                    sawContent = true
                }
            case .quoted:
                if byte == UInt8(ascii: "\"") {
                    state = .quoteInQuoted
                } else {
                    // CR, LF and CRLF inside quotes each end one physical line.
                    if byte == 13 || (byte == 10 && !quotedCR) { line += 1 }
                    quotedCR = byte == 13
                    field.append(byte)
                }
            case .quoteInQuoted:
                switch byte {
                case UInt8(ascii: "\""):
                    field.append(byte)
                    state = .quoted
                case UInt8(ascii: ","):
                    endField()
                    state = .fieldStart
                case 13, 10:
                    line += 1
                    if byte == 13 { skipLF = true }
                    endField()
                    return CSVRecord(fields: fields, line: startLine, unterminatedQuote: false)
                default:
                    // `"ab"c`: lenient, keep the text as it stands.
                    field.append(byte)
                    state = .unquoted
                }
            }
        }
    }
}
