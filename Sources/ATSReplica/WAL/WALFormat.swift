import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The 32-byte header of a SQLite `-wal` file (https://sqlite.org/fileformat2.html#walformat).
/// Every integer is big-endian; the magic's low bit says in which byte order the checksums
/// read their 32-bit words (0x377f0682: little-endian, 0x377f0683: big-endian).
struct WALHeader: Sendable, Equatable {
    static let size = 32
    static let frameHeaderSize = 24

    var bigEndianChecksum: Bool
    var version: UInt32
    var pageSize: Int
    var checkpointSequence: UInt32
    var salt1: UInt32
    var salt2: UInt32
    var checksum1: UInt32
    var checksum2: UInt32

    /// Parses and validates (magic, version, page size, header checksum); nil when invalid,
    /// which SQLite reads as an empty WAL.
    static func parse(_ bytes: [UInt8]) -> WALHeader? {
        guard bytes.count >= size else { return nil }
        let magic = bytes.readBE32(0)
        guard magic & 0xFFFF_FFFE == 0x377F_0682 else { return nil }
        let bigEndian = magic & 1 == 1
        let version = bytes.readBE32(4)
        guard version == 3_007_000 else { return nil }
        let pageSize = Int(bytes.readBE32(8))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else { return nil }
        var sum = (UInt32(0), UInt32(0))
        bytes.withUnsafeBytes {
            WALChecksum.update(UnsafeRawBufferPointer(rebasing: $0[0..<24]), bigEndian: bigEndian, &sum)
        }
        guard sum.0 == bytes.readBE32(24), sum.1 == bytes.readBE32(28) else { return nil }
        return WALHeader(
            bigEndianChecksum: bigEndian, version: version, pageSize: pageSize, checkpointSequence: bytes.readBE32(12),
            salt1: bytes.readBE32(16), salt2: bytes.readBE32(20), checksum1: sum.0, checksum2: sum.1)
    }
}

extension WALHeader {
    /// A WAL with no frames: a valid header with random salts, then 8 zero bytes. SQLite reads
    /// it as empty, but its recovery (which ignores a file of 32 bytes or less) takes the new
    /// salts into the WAL index header, so every connection sees that header change.
    static func emptyWAL(pageSize: Int) -> [UInt8] {
        empty(pageSize: pageSize) + [UInt8](repeating: 0, count: 8)
    }

    /// A valid header with random salts and no frames.
    static func empty(pageSize: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBE(UInt32(0x377F_0682))
        bytes.appendBE(UInt32(3_007_000))
        bytes.appendBE(UInt32(pageSize))
        bytes.appendBE(UInt32(0))
        bytes.appendBE(UInt32.random(in: 0...UInt32.max))
        bytes.appendBE(UInt32.random(in: 0...UInt32.max))
        var sum = (UInt32(0), UInt32(0))
        bytes.withUnsafeBytes { WALChecksum.update($0, bigEndian: false, &sum) }
        bytes.appendBE(sum.0)
        bytes.appendBE(sum.1)
        return bytes
    }
}

/// SQLite's WAL checksum: over 32-bit words taken in pairs, s0 += x0 + s1; s1 += x1 + s0.
enum WALChecksum {
    static func update(_ bytes: UnsafeRawBufferPointer, bigEndian: Bool, _ sum: inout (UInt32, UInt32)) {
        precondition(bytes.count % 8 == 0)
        var s0 = sum.0
        var s1 = sum.1
        let words = bytes.count / 4
        var i = 0
        if bigEndian {
            while i < words {
                let x0 = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                let x1 = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i * 4 + 4, as: UInt32.self))
                s0 = s0 &+ x0 &+ s1
                s1 = s1 &+ x1 &+ s0
                i += 2
            }
        } else {
            while i < words {
                let x0 = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                let x1 = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4 + 4, as: UInt32.self))
                s0 = s0 &+ x0 &+ s1
                s1 = s1 &+ x1 &+ s0
                i += 2
            }
        }
        sum = (s0, s1)
    }
}

/// A position in one WAL: the salts and page size of its header, how many frames were taken
/// (always at a commit boundary) and the cumulative checksum there, which continues the chain.
struct WALCursor: Sendable, Equatable, Codable {
    var salt1: UInt32
    var salt2: UInt32
    var pageSize: Int
    var bigEndianChecksum: Bool
    /// Frames consumed; the next frame read is `frame + 1` (1-based, as SQLite counts them).
    var frame: Int
    var checksum1: UInt32
    var checksum2: UInt32

    /// Frame 0 of the WAL with `header`.
    init(header: WALHeader) {
        salt1 = header.salt1
        salt2 = header.salt2
        pageSize = header.pageSize
        bigEndianChecksum = header.bigEndianChecksum
        frame = 0
        checksum1 = header.checksum1
        checksum2 = header.checksum2
    }

    func sameWAL(_ header: WALHeader) -> Bool {
        header.salt1 == salt1 && header.salt2 == salt2
    }

    static func frameOffset(_ frame: Int, pageSize: Int) -> Int64 {
        Int64(WALHeader.size) + Int64(frame - 1) * Int64(WALHeader.frameHeaderSize + pageSize)
    }
}

/// One committed transaction read from the WAL. `records` holds its frames as a segment stores
/// them: `u32 page number`, `u32 database size after commit (0 but on the last frame)`, page.
struct WALTransaction: Sendable {
    var records: [UInt8]
    var frameCount: Int
    /// Database size in pages after this transaction.
    var databasePages: UInt32
    /// When the replicator first saw it committed.
    var observed: Date
    /// The WAL position right after it.
    var end: WALCursor
}

/// Reads a `-wal` file with plain file descriptors. Safe in-process: SQLite takes no POSIX
/// lock on the `-wal` file itself (its locks live on the database and `-shm` files), so opening
/// and closing it cannot drop a lock SQLite holds.
struct WALFile: ~Copyable {
    let path: String
    let fd: Int32

    /// Nil when there is no WAL file.
    init?(path: String) throws {
        self.path = path
        do {
            fd = try LocalFile.open(path, O_RDONLY)
        } catch let failure as POSIXFailure where failure.isNotFound {
            return nil
        }
    }

    deinit { close(fd) }

    func size() throws -> Int64 { try LocalFile.size(fd, path) }

    /// The header, or nil when the file is shorter than a header or its header is invalid.
    func header() throws -> WALHeader? {
        let bytes = try LocalFile.pread(fd, path, count: WALHeader.size, offset: 0)
        return WALHeader.parse(bytes)
    }

    /// Reads committed transactions after `cursor`, validating each frame's salts and cumulative
    /// checksum, stopping at the first invalid frame or the end; frames after the last valid
    /// commit frame are left for a later read. Stops after a commit once `maxBytes` were read.
    func readTransactions(after cursor: inout WALCursor, now: Date, maxBytes: Int = .max) throws -> [WALTransaction] {
        let pageSize = cursor.pageSize
        let frameSize = WALHeader.frameHeaderSize + pageSize
        let fileSize = try size()
        var transactions: [WALTransaction] = []
        var current: [UInt8] = []
        var currentFrames = 0
        var sum = (cursor.checksum1, cursor.checksum2)
        var frame = cursor.frame
        var total = 0
        let batch = max(1, (4 << 20) / frameSize)
        var buffer = [UInt8](repeating: 0, count: batch * frameSize)
        scan: while true {
            let offset = WALCursor.frameOffset(frame + 1, pageSize: pageSize)
            if offset + Int64(frameSize) > fileSize { break }
            let want = Int(min(Int64(buffer.count), (fileSize - offset) / Int64(frameSize) * Int64(frameSize)))
            let got = try buffer.withUnsafeMutableBytes {
                try LocalFile.preadFully(
                    fd, path, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), offset: offset)
            }
            let frames = got / frameSize
            if frames == 0 { break }
            for index in 0..<frames {
                let base = index * frameSize
                let valid: Bool = buffer.withUnsafeBytes { raw in
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[base..<(base + frameSize)])
                    let salt1 = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                    let salt2 = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                    let pgno = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
                    guard salt1 == cursor.salt1, salt2 == cursor.salt2, pgno != 0 else { return false }
                    var next = sum
                    WALChecksum.update(
                        UnsafeRawBufferPointer(rebasing: bytes[0..<8]), bigEndian: cursor.bigEndianChecksum, &next)
                    WALChecksum.update(
                        UnsafeRawBufferPointer(rebasing: bytes[WALHeader.frameHeaderSize...]),
                        bigEndian: cursor.bigEndianChecksum,
                        &next)
                    guard next.0 == UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self)),
                        next.1 == UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
                    else { return false }
                    sum = next
                    return true
                }
                if !valid { break scan }
                frame += 1
                currentFrames += 1
                current.append(contentsOf: buffer[base..<(base + 8)])
                current.append(contentsOf: buffer[(base + WALHeader.frameHeaderSize)..<(base + frameSize)])
                let commit = buffer.readBE32(base + 4)
                if commit != 0 {
                    cursor.frame = frame
                    cursor.checksum1 = sum.0
                    cursor.checksum2 = sum.1
                    transactions.append(
                        WALTransaction(
                            records: current, frameCount: currentFrames, databasePages: commit, observed: now,
                            end: cursor))
                    total += current.count
                    current = []
                    currentFrames = 0
                    if total >= maxBytes { break scan }
                }
            }
            if frames < batch { break }
        }
        return transactions
    }

    /// Calls `body` with every frame 1...`cursor.frame` (page number, database size if commit,
    /// page), after checking they still chain to the cursor's checksum; throws if the WAL changed.
    func forEachFrame(upTo cursor: WALCursor, _ body: (UInt32, UInt32, UnsafeRawBufferPointer) throws -> Void) throws {
        guard cursor.frame > 0 else { return }
        guard let header = try header(), cursor.sameWAL(header), header.pageSize == cursor.pageSize else {
            throw WALChanged()
        }
        let pageSize = cursor.pageSize
        let frameSize = WALHeader.frameHeaderSize + pageSize
        var sum = (header.checksum1, header.checksum2)
        let batch = max(1, (4 << 20) / frameSize)
        var buffer = [UInt8](repeating: 0, count: batch * frameSize)
        var frame = 0
        while frame < cursor.frame {
            let count = min(batch, cursor.frame - frame)
            let want = count * frameSize
            let got = try buffer.withUnsafeMutableBytes {
                try LocalFile.preadFully(
                    fd, path, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]),
                    offset: WALCursor.frameOffset(frame + 1, pageSize: pageSize))
            }
            guard got == want else { throw WALChanged() }
            try buffer.withUnsafeBytes { raw in
                for index in 0..<count {
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[(index * frameSize)..<((index + 1) * frameSize)])
                    let salt1 = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                    let salt2 = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                    guard salt1 == cursor.salt1, salt2 == cursor.salt2 else { throw WALChanged() }
                    WALChecksum.update(
                        UnsafeRawBufferPointer(rebasing: bytes[0..<8]), bigEndian: cursor.bigEndianChecksum, &sum)
                    WALChecksum.update(
                        UnsafeRawBufferPointer(rebasing: bytes[WALHeader.frameHeaderSize...]),
                        bigEndian: cursor.bigEndianChecksum,
                        &sum)
                    guard sum.0 == UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self)),
                        sum.1 == UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
                    else { throw WALChanged() }
                    let pgno = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
                    let commit = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                    try body(pgno, commit, UnsafeRawBufferPointer(rebasing: bytes[WALHeader.frameHeaderSize...]))
                }
            }
            frame += count
        }
        guard sum.0 == cursor.checksum1, sum.1 == cursor.checksum2 else { throw WALChanged() }
    }

    /// The cumulative checksum stored in frame `frame`'s header (nil past the end).
    func storedChecksum(frame: Int, pageSize: Int) throws -> (UInt32, UInt32, UInt32, UInt32)? {
        let bytes = try LocalFile.pread(
            fd, path, count: WALHeader.frameHeaderSize, offset: WALCursor.frameOffset(frame, pageSize: pageSize))
        guard bytes.count == WALHeader.frameHeaderSize else { return nil }
        return (bytes.readBE32(8), bytes.readBE32(12), bytes.readBE32(16), bytes.readBE32(20))
    }
}

/// The WAL no longer holds the frames a cursor points to (it was restarted or replaced).
struct WALChanged: Error, CustomStringConvertible {
    var description: String { "the WAL changed under the reader" }
}
