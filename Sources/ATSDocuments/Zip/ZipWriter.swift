import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a ZIP archive to a file, entry by entry, without compression ("stored").
///
/// Stored, because what goes in (PDFs, DOCX, images, exports) is already compressed or small, and because
/// it keeps the writer streaming: an entry's bytes go straight to disk and its CRC-32 and sizes are patched
/// into the local header afterwards, so every reader (Windows Explorer, macOS Archive Utility, `unzip`,
/// Java) opens the result. ZIP64 is not written: an archive or entry of 4 GiB or more is refused.
public struct ZipWriter {
    private let file: OutputFile
    private var records: [[UInt8]] = []
    private var names: Set<String> = []
    private var offset = 0
    private var finished = false
    /// The path the archive is written to.
    public let path: String

    /// Creates (or truncates) the file at `path`.
    public init(path: String) throws(DocumentError) {
        self.path = path
        self.file = try OutputFile(path: path)
    }

    /// Adds one entry whose bytes are all at hand.
    public mutating func add(name: String, bytes: [UInt8], modified: Date = Date()) throws(DocumentError) {
        try begin(name)
        guard offset + 30 + name.utf8.count + bytes.count < 0xFFFF_FFFF else { throw Self.tooLarge() }
        let header = ZipFormat.localHeader(name: name, crc: CRC32.checksum(bytes), size: bytes.count, modified: modified)
        try file.write(header)
        try file.write(bytes)
        records.append(ZipFormat.centralHeader(name: name, crc: CRC32.checksum(bytes), size: bytes.count, modified: modified, offset: offset))
        offset += header.count + bytes.count
    }

    /// Adds one entry from a sequence of chunks, streamed to disk (the CRC and size are patched in after).
    public mutating func add(name: String, modified: Date = Date(), chunks: some Sequence<[UInt8]>) throws(DocumentError) {
        var entry = try startStreamed(name: name, modified: modified)
        for chunk in chunks { try append(chunk, to: &entry) }
        try finishStreamed(entry)
    }

    /// Adds one entry from an asynchronous sequence of chunks (a blob being read, for instance).
    public mutating func add<S: AsyncSequence>(name: String, modified: Date = Date(), chunks: S) async throws
    where S.Element == [UInt8] {
        var entry = try startStreamed(name: name, modified: modified)
        for try await chunk in chunks { try append(chunk, to: &entry) }
        try finishStreamed(entry)
    }

    /// Writes the central directory, flushes the file to disk and closes it.
    public mutating func finish() throws(DocumentError) {
        guard !finished else { return }
        finished = true
        let directoryOffset = offset
        var directorySize = 0
        for record in records {
            try file.write(record)
            directorySize += record.count
        }
        guard offset + directorySize < 0xFFFF_FFFF else { throw Self.tooLarge() }
        try file.write(ZipFormat.endRecord(count: records.count, directorySize: directorySize, directoryOffset: directoryOffset))
        try file.close(sync: true)
    }

    /// A safe, unique entry name for a user's filename: no folders, no traversal, no control characters,
    /// " (2)" before the extension when the name is taken.
    public static func entryName(for filename: String, avoiding taken: Set<String>) -> String {
        let base = filename.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var cleaned = String(base.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F && $0 != ":" }.map(Character.init))
            .trimmingCharacters(in: .whitespaces)
        while cleaned.hasPrefix(".") { cleaned.removeFirst() }
        if cleaned.isEmpty { cleaned = "file" }
        if cleaned.utf8.count > 200 { cleaned = String(cleaned.prefix(120)) }
        guard taken.contains(cleaned) else { return cleaned }
        let stem: Substring, suffix: Substring
        if let dot = cleaned.lastIndex(of: "."), dot != cleaned.startIndex {
            stem = cleaned[..<dot]
            suffix = cleaned[dot...]
        } else {
            stem = cleaned[...]
            suffix = ""
        }
        var number = 2
        while taken.contains("\(stem) (\(number))\(suffix)") { number += 1 }
        return "\(stem) (\(number))\(suffix)"
    }

    private struct StreamedEntry {
        let name: String
        let modified: Date
        let headerOffset: Int
        var crc = CRC32()
        var size = 0
    }

    private mutating func begin(_ name: String) throws(DocumentError) {
        guard !finished else { throw DocumentError(.io, "The ZIP archive is already finished.") }
        guard Self.isSafe(name) else {
            throw DocumentError(.unsupported, "A ZIP entry name must be a relative path without “..”, backslashes or control characters.")
        }
        guard !names.contains(name) else { throw DocumentError(.unsupported, "The archive already holds an entry with that name.") }
        guard records.count < 0xFFFF else { throw Self.tooLarge() }
        names.insert(name)
    }

    private mutating func startStreamed(name: String, modified: Date) throws(DocumentError) -> StreamedEntry {
        try begin(name)
        let header = ZipFormat.localHeader(name: name, crc: 0, size: 0, modified: modified)
        guard offset + header.count < 0xFFFF_FFFF else { throw Self.tooLarge() }
        try file.write(header)
        let entry = StreamedEntry(name: name, modified: modified, headerOffset: offset)
        offset += header.count
        return entry
    }

    private mutating func append(_ chunk: [UInt8], to entry: inout StreamedEntry) throws(DocumentError) {
        guard offset + chunk.count < 0xFFFF_FFFF else { throw Self.tooLarge() }
        try file.write(chunk)
        entry.crc.update(chunk)
        entry.size += chunk.count
        offset += chunk.count
    }

    private mutating func finishStreamed(_ entry: StreamedEntry) throws(DocumentError) {
        var patch: [UInt8] = []
        patch.appendLE32(entry.crc.value)
        patch.appendLE32(UInt32(entry.size))
        patch.appendLE32(UInt32(entry.size))
        try file.write(patch, at: entry.headerOffset + 14)
        records.append(ZipFormat.centralHeader(
            name: entry.name, crc: entry.crc.value, size: entry.size, modified: entry.modified, offset: entry.headerOffset))
    }

    static func isSafe(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 0xFFFF, !name.hasPrefix("/"), !name.hasSuffix("/") else { return false }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\\" }) else { return false }
        return !name.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == "." || $0 == ".." }
    }

    private static func tooLarge() -> DocumentError {
        DocumentError(.tooLarge, "The ZIP archive would reach 4 GiB, which needs ZIP64; split the download.")
    }
}

/// An owned file descriptor, closed when the last copy of the writer goes away.
private final class OutputFile: @unchecked Sendable {
    private var descriptor: Int32

    init(path: String) throws(DocumentError) {
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw DocumentError(.io, "The ZIP archive cannot be created (\(String(cString: strerror(errno))))") }
    }

    func write(_ bytes: [UInt8]) throws(DocumentError) {
        guard descriptor >= 0 else { throw DocumentError(.io, "The ZIP archive is closed.") }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { posixWrite(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw DocumentError(.io, "Writing the ZIP archive failed (\(String(cString: strerror(errno)))).")
            }
            written += result
        }
    }

    func write(_ bytes: [UInt8], at position: Int) throws(DocumentError) {
        let result = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress!, bytes.count, off_t(position)) }
        guard result == bytes.count else {
            throw DocumentError(.io, "Writing the ZIP archive failed (\(String(cString: strerror(errno)))).")
        }
    }

    func close(sync: Bool) throws(DocumentError) {
        guard descriptor >= 0 else { return }
        defer { descriptor = -1 }
        if sync, fsync(descriptor) != 0 {
            _ = posixClose(descriptor)
            throw DocumentError(.io, "Flushing the ZIP archive to disk failed (\(String(cString: strerror(errno)))).")
        }
        _ = posixClose(descriptor)
    }

    deinit {
        if descriptor >= 0 { _ = posixClose(descriptor) }
    }
}

/// The byte layout of ZIP records (APPNOTE 6.3), shared by the file writer and the in-memory DOCX builder.
enum ZipFormat {
    static func localHeader(name: String, crc: UInt32, size: Int, modified: Date) -> [UInt8] {
        let (time, date) = dosDateTime(modified)
        var out: [UInt8] = []
        out.appendLE32(0x0403_4B50)
        out.appendLE16(10)  // version needed: 1.0, stored
        out.appendLE16(0x800)  // names are UTF-8
        out.appendLE16(0)  // stored
        out.appendLE16(time)
        out.appendLE16(date)
        out.appendLE32(crc)
        out.appendLE32(UInt32(size))
        out.appendLE32(UInt32(size))
        out.appendLE16(UInt16(name.utf8.count))
        out.appendLE16(0)
        out.append(contentsOf: name.utf8)
        return out
    }

    static func centralHeader(name: String, crc: UInt32, size: Int, modified: Date, offset: Int) -> [UInt8] {
        let (time, date) = dosDateTime(modified)
        var out: [UInt8] = []
        out.appendLE32(0x0201_4B50)
        out.appendLE16(0x031E)  // made by: Unix, spec 3.0
        out.appendLE16(10)
        out.appendLE16(0x800)
        out.appendLE16(0)
        out.appendLE16(time)
        out.appendLE16(date)
        out.appendLE32(crc)
        out.appendLE32(UInt32(size))
        out.appendLE32(UInt32(size))
        out.appendLE16(UInt16(name.utf8.count))
        out.appendLE16(0)  // extra
        out.appendLE16(0)  // comment
        out.appendLE16(0)  // disk
        out.appendLE16(0)  // internal attributes
        out.appendLE32(0o100644 << 16)  // external attributes: a regular file, rw-r--r--
        out.appendLE32(UInt32(offset))
        out.append(contentsOf: name.utf8)
        return out
    }

    static func endRecord(count: Int, directorySize: Int, directoryOffset: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLE32(0x0605_4B50)
        out.appendLE16(0)
        out.appendLE16(0)
        out.appendLE16(UInt16(count))
        out.appendLE16(UInt16(count))
        out.appendLE32(UInt32(directorySize))
        out.appendLE32(UInt32(directoryOffset))
        out.appendLE16(0)
        return out
    }

    /// MS-DOS time and date fields, in UTC (the format has no zone; 1980 is its first year).
    static func dosDateTime(_ date: Date) -> (UInt16, UInt16) {
        var seconds = time_t(max(date.timeIntervalSince1970, 315_532_800))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let time = UInt16(parts.tm_hour) << 11 | UInt16(parts.tm_min) << 5 | UInt16(parts.tm_sec / 2)
        let day = UInt16(max(0, min(127, Int(parts.tm_year) + 1900 - 1980))) << 9 | UInt16(parts.tm_mon + 1) << 5 | UInt16(parts.tm_mday)
        return (time, day)
    }

    /// An archive of stored entries built in memory (small files: generated DOCX samples).
    static func archive(_ entries: [(name: String, bytes: [UInt8])], modified: Date) -> [UInt8] {
        var out: [UInt8] = []
        var directory: [UInt8] = []
        for entry in entries {
            let crc = CRC32.checksum(entry.bytes)
            directory += centralHeader(name: entry.name, crc: crc, size: entry.bytes.count, modified: modified, offset: out.count)
            out += localHeader(name: entry.name, crc: crc, size: entry.bytes.count, modified: modified)
            out += entry.bytes
        }
        let directoryOffset = out.count
        out += directory
        out += endRecord(count: entries.count, directorySize: directory.count, directoryOffset: directoryOffset)
        return out
    }
}

extension Array where Element == UInt8 {
    mutating func appendLE16(_ value: UInt16) {
        append(UInt8(value & 0xFF))
        append(UInt8(value >> 8))
    }

    mutating func appendLE32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }
}
