import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The header every snapshot and segment object starts with, so an object can be verified and
/// placed (generation, transactions, times) without trusting its key.
///
/// ```
/// offset size
///  0     8   magic "ATSRPL01"
///  8     4   kind (1 snapshot, 2 segment), big-endian like every integer here
/// 12     4   database page size
/// 16     8   first transaction (a snapshot: the transaction it holds the state after)
/// 24     8   last transaction (a snapshot: the same)
/// 32     8   payload size uncompressed
/// 40     8   payload size stored (one zstd frame with content checksum)
/// 48     4   entries in the time table
/// 52     4   frames (segment) or pages (snapshot)
/// 56    32   generation, ASCII, zero padded
/// 88     8   zero
/// 96    32   SHA-256 of bytes [128, end) followed by bytes [0, 96)
/// 128  8×n   time table: observed commit time of each transaction first...last (a snapshot: one
///            entry, the time of its state), IEEE double seconds since 1970
/// ...        payload
/// ```
/// A segment's payload, uncompressed: `u32 n`, n blob file names (`u16 length` + UTF-8,
/// `ab/cd/<hex>[.zst]`, copied before this segment), then frames `u32 page number`,
/// `u32 database size in pages after commit (0 unless the frame ends a transaction)`, page.
/// A snapshot's payload is the database file.
struct ReplicaObjectHeader: Sendable, Equatable {
    enum Kind: UInt32, Sendable {
        case snapshot = 1
        case segment = 2
    }

    static let magic: [UInt8] = Array("ATSRPL01".utf8)
    static let fixedSize = 128

    var kind: Kind
    var pageSize: Int
    var firstTxn: Int64
    var lastTxn: Int64
    var uncompressedSize: Int64
    var storedSize: Int64
    var tableCount: Int
    var frameCount: Int
    var generation: String
    var checksum: [UInt8] = []

    /// Bytes of header + time table + payload.
    var objectSize: Int64 { Int64(Self.fixedSize) + Int64(tableCount) * 8 + storedSize }
    var payloadOffset: Int64 { Int64(Self.fixedSize) + Int64(tableCount) * 8 }

    /// The first 96 bytes (everything but the checksum).
    func encodedFields() -> [UInt8] {
        var out = Self.magic
        out.appendBE(kind.rawValue)
        out.appendBE(UInt32(pageSize))
        out.appendBE(UInt64(bitPattern: firstTxn))
        out.appendBE(UInt64(bitPattern: lastTxn))
        out.appendBE(UInt64(bitPattern: uncompressedSize))
        out.appendBE(UInt64(bitPattern: storedSize))
        out.appendBE(UInt32(tableCount))
        out.appendBE(UInt32(frameCount))
        var name = Array(generation.utf8.prefix(32))
        name += [UInt8](repeating: 0, count: 32 - name.count)
        out += name
        out += [UInt8](repeating: 0, count: 8)
        return out
    }

    func encoded() -> [UInt8] {
        var out = encodedFields()
        out += checksum.count == 32 ? checksum : [UInt8](repeating: 0, count: 32)
        return out
    }

    /// Parses the fixed header; nil when it is not one of ours.
    static func parse(_ bytes: [UInt8]) -> ReplicaObjectHeader? {
        guard bytes.count >= fixedSize, Array(bytes[0..<8]) == magic else { return nil }
        guard let kind = Kind(rawValue: bytes.readBE32(8)) else { return nil }
        let pageSize = Int(bytes.readBE32(12))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else { return nil }
        let nameBytes = bytes[56..<88].prefix { $0 != 0 }
        guard let generation = String(validating: nameBytes, as: UTF8.self) else { return nil }
        let header = ReplicaObjectHeader(
            kind: kind, pageSize: pageSize,
            firstTxn: Int64(bitPattern: bytes.readBE64(16)), lastTxn: Int64(bitPattern: bytes.readBE64(24)),
            uncompressedSize: Int64(bitPattern: bytes.readBE64(32)), storedSize: Int64(bitPattern: bytes.readBE64(40)),
            tableCount: Int(bytes.readBE32(48)), frameCount: Int(bytes.readBE32(52)), generation: generation,
            checksum: Array(bytes[96..<128]))
        guard header.firstTxn >= 0, header.lastTxn >= header.firstTxn, header.uncompressedSize >= 0,
            header.storedSize >= 0, header.tableCount <= 10_000_000
        else { return nil }
        switch kind {
        case .snapshot: guard header.tableCount == 1, header.firstTxn == header.lastTxn else { return nil }
        case .segment: guard Int64(header.tableCount) == header.lastTxn - header.firstTxn + 1 else { return nil }
        }
        return header
    }
}

/// A parsed, verified object held in memory (segments; snapshots stream instead).
struct ReplicaObjectContent {
    var header: ReplicaObjectHeader
    var times: [Date]
    var payload: [UInt8]
}

enum ReplicaObjectCodec {
    /// Builds a whole object in memory.
    static func encode(
        kind: ReplicaObjectHeader.Kind, generation: String, pageSize: Int, firstTxn: Int64, lastTxn: Int64,
        times: [Date], frameCount: Int, payload: [UInt8]
    ) throws -> [UInt8] {
        let stored = try Zstd.compress(payload)
        var header = ReplicaObjectHeader(
            kind: kind, pageSize: pageSize, firstTxn: firstTxn, lastTxn: lastTxn,
            uncompressedSize: Int64(payload.count), storedSize: Int64(stored.count), tableCount: times.count,
            frameCount: frameCount, generation: generation)
        let table = encodeTimes(times)
        var hasher = SHA256Hasher()
        hasher.update(table)
        hasher.update(stored)
        hasher.update(header.encodedFields())
        header.checksum = hasher.finish()
        var out = header.encoded()
        out.reserveCapacity(out.count + table.count + stored.count)
        out += table
        out += stored
        return out
    }

    static func encodeTimes(_ times: [Date]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(times.count * 8)
        for time in times { out.appendBE(time.timeIntervalSince1970.bitPattern) }
        return out
    }

    static func decodeTimes(_ bytes: ArraySlice<UInt8>, count: Int) -> [Date] {
        var times: [Date] = []
        times.reserveCapacity(count)
        var offset = bytes.startIndex
        for _ in 0..<count {
            times.append(Date(timeIntervalSince1970: Double(bitPattern: bytes.readBE64(offset))))
            offset += 8
        }
        return times
    }

    /// Verifies and decodes a whole object; any flipped byte throws `.corrupted` naming `key`.
    static func decode(_ bytes: [UInt8], key: String, expectedKind: ReplicaObjectHeader.Kind) throws
        -> ReplicaObjectContent
    {
        guard let header = ReplicaObjectHeader.parse(bytes), header.kind == expectedKind else {
            throw ReplicaError(.corrupted, "not a valid replica \(expectedKind) header", key: key)
        }
        guard Int64(bytes.count) == header.objectSize else {
            throw ReplicaError(
                .corrupted, "object is \(bytes.count) bytes, its header says \(header.objectSize)", key: key)
        }
        var hasher = SHA256Hasher()
        hasher.update(bytes[ReplicaObjectHeader.fixedSize...])
        hasher.update(bytes[0..<96])
        guard hasher.finish() == header.checksum else {
            throw ReplicaError(.corrupted, "checksum mismatch (the object was altered)", key: key)
        }
        let tableEnd = Int(header.payloadOffset)
        let times = decodeTimes(bytes[ReplicaObjectHeader.fixedSize..<tableEnd], count: header.tableCount)
        let payload: [UInt8]
        do {
            payload = try bytes.withUnsafeBytes {
                try Zstd.decompress(
                    UnsafeRawBufferPointer(rebasing: $0[tableEnd...]), limit: Int(header.uncompressedSize))
            }
        } catch {
            throw ReplicaError(.corrupted, "payload does not decompress: \(error)", key: key)
        }
        guard payload.count == header.uncompressedSize else {
            throw ReplicaError(
                .corrupted, "payload is \(payload.count) bytes, its header says \(header.uncompressedSize)", key: key)
        }
        return ReplicaObjectContent(header: header, times: times, payload: payload)
    }

    /// Reads just the header and time table of an object on a target (two ranged reads).
    static func readHeader(_ target: any ReplicaTarget, key: String) async throws -> (ReplicaObjectHeader, [Date]) {
        let head = try await target.get(key, range: 0..<Int64(ReplicaObjectHeader.fixedSize))
        guard let header = ReplicaObjectHeader.parse(head) else {
            throw ReplicaError(.corrupted, "not a valid replica object header", key: key)
        }
        let table = try await target.get(key, range: Int64(ReplicaObjectHeader.fixedSize)..<header.payloadOffset)
        guard table.count == header.tableCount * 8 else {
            throw ReplicaError(.corrupted, "object is truncated", key: key)
        }
        return (header, decodeTimes(table[...], count: header.tableCount))
    }
}

// MARK: Streaming objects to and from local files (snapshots)

enum ReplicaObjectFile {
    /// Compresses the file at `source` into a complete object at `destination`.
    static func writeSnapshot(
        source: String, sourceSize: Int64, destination: String, generation: String, pageSize: Int, txn: Int64,
        time: Date
    ) throws -> ReplicaObjectHeader {
        let input = try LocalFile.open(source, O_RDONLY)
        defer { close(input) }
        let output = try LocalFile.open(destination, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(output) }
        var header = ReplicaObjectHeader(
            kind: .snapshot, pageSize: pageSize, firstTxn: txn, lastTxn: txn, uncompressedSize: sourceSize,
            storedSize: 0, tableCount: 1, frameCount: Int(sourceSize / Int64(pageSize)), generation: generation)
        var hasher = SHA256Hasher()
        let table = ReplicaObjectCodec.encodeTimes([time])
        try [UInt8](repeating: 0, count: ReplicaObjectHeader.fixedSize).withUnsafeBytes {
            try LocalFile.writeFully(output, destination, $0)
        }
        try table.withUnsafeBytes { try LocalFile.writeFully(output, destination, $0) }
        hasher.update(table)
        let compressor = try Zstd.Compressor(level: 3)
        var stored: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < sourceSize {
            let want = Int(min(Int64(buffer.count), sourceSize - offset))
            let got = try buffer.withUnsafeMutableBytes {
                try LocalFile.preadFully(
                    input, source, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), offset: offset)
            }
            guard got == want else { throw POSIXFailure("read", source, EIO) }
            offset += Int64(got)
            try buffer.withUnsafeBytes { raw in
                try compressor.feed(UnsafeRawBufferPointer(rebasing: raw[0..<got]), end: offset >= sourceSize) {
                    chunk in
                    hasher.update(chunk)
                    stored += Int64(chunk.count)
                    try LocalFile.writeFully(output, destination, chunk)
                }
            }
        }
        if sourceSize == 0 {
            try compressor.feed(UnsafeRawBufferPointer(start: nil, count: 0), end: true) { chunk in
                hasher.update(chunk)
                stored += Int64(chunk.count)
                try LocalFile.writeFully(output, destination, chunk)
            }
        }
        header.storedSize = stored
        hasher.update(header.encodedFields())
        header.checksum = hasher.finish()
        try header.encoded().withUnsafeBytes { try LocalFile.pwriteFully(output, destination, $0, offset: 0) }
        try LocalFile.fsync(output, destination)
        return header
    }

    /// Verifies the snapshot object at `source` and decompresses its payload into `destination`.
    /// A flipped byte anywhere throws `.corrupted` naming `key`, and `destination` is removed.
    static func readSnapshot(source: String, key: String, destination: String) throws -> (ReplicaObjectHeader, Date) {
        let input = try LocalFile.open(source, O_RDONLY)
        defer { close(input) }
        let size = try LocalFile.size(input, source)
        let head = try LocalFile.pread(input, source, count: ReplicaObjectHeader.fixedSize, offset: 0)
        guard let header = ReplicaObjectHeader.parse(head), header.kind == .snapshot else {
            throw ReplicaError(.corrupted, "not a valid replica snapshot header", key: key)
        }
        guard size == header.objectSize else {
            throw ReplicaError(.corrupted, "object is \(size) bytes, its header says \(header.objectSize)", key: key)
        }
        let table = try LocalFile.pread(
            input, source, count: header.tableCount * 8, offset: Int64(ReplicaObjectHeader.fixedSize))
        let times = ReplicaObjectCodec.decodeTimes(table[...], count: header.tableCount)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        // Pass 1: the checksum, before a single byte is used.
        var hasher = SHA256Hasher()
        var offset = Int64(ReplicaObjectHeader.fixedSize)
        while offset < size {
            let want = Int(min(Int64(buffer.count), size - offset))
            let got = try buffer.withUnsafeMutableBytes {
                try LocalFile.preadFully(
                    input, source, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), offset: offset)
            }
            guard got == want else { throw ReplicaError(.corrupted, "object is truncated", key: key) }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            offset += Int64(got)
        }
        hasher.update(header.encodedFields())
        guard hasher.finish() == header.checksum else {
            throw ReplicaError(.corrupted, "checksum mismatch (the object was altered)", key: key)
        }
        // Pass 2: decompress.
        let output = try LocalFile.open(destination, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var ok = false
        defer {
            close(output)
            if !ok { unlink(destination) }
        }
        let decompressor = try Zstd.Decompressor()
        offset = header.payloadOffset
        var written: Int64 = 0
        do {
            while offset < size {
                let want = Int(min(Int64(buffer.count), size - offset))
                let got = try buffer.withUnsafeMutableBytes {
                    try LocalFile.preadFully(
                        input, source, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), offset: offset)
                }
                guard got == want else { throw ReplicaError(.corrupted, "object is truncated", key: key) }
                offset += Int64(got)
                try buffer.withUnsafeBytes { raw in
                    try decompressor.feed(UnsafeRawBufferPointer(rebasing: raw[0..<got])) { out in
                        written += Int64(out.count)
                        if written > header.uncompressedSize {
                            throw Zstd.Failure(message: "more output than declared")
                        }
                        try LocalFile.writeFully(output, destination, out)
                    }
                }
            }
        } catch let error as Zstd.Failure {
            throw ReplicaError(.corrupted, "payload does not decompress (\(error))", key: key)
        }
        guard decompressor.finished, written == header.uncompressedSize else {
            throw ReplicaError(
                .corrupted, "payload is \(written) bytes, its header says \(header.uncompressedSize)", key: key)
        }
        try LocalFile.fsync(output, destination)
        ok = true
        return (header, times.first ?? Date(timeIntervalSince1970: 0))
    }
}

// MARK: Big-endian helpers

extension Array where Element == UInt8 {
    mutating func appendBE(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    mutating func appendBE(_ value: UInt64) {
        appendBE(UInt32(truncatingIfNeeded: value >> 32))
        appendBE(UInt32(truncatingIfNeeded: value))
    }

    mutating func appendBE(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }
}

extension RandomAccessCollection where Element == UInt8, Index == Int {
    func readBE32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8
            | UInt32(self[offset + 3])
    }

    func readBE64(_ offset: Int) -> UInt64 {
        UInt64(readBE32(offset)) << 32 | UInt64(readBE32(offset + 4))
    }

    func readBE16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }
}
