/// Reads a ZIP archive held in memory: the central directory at init, one entry at a time on demand.
///
/// Every limit is checked against the directory before anything is inflated (entry count, total declared
/// size, per-entry ratio), and inflation stops at the entry's declared size, so an archive that lies about
/// its sizes cannot expand further than an honest one. ZIP64, multi-disk and encrypted entries are refused.
public struct ZipReader: Sendable {
    /// One central directory record.
    public struct Entry: Sendable, Hashable {
        /// The path inside the archive, as stored (UTF-8, or CP437 read as Latin-1).
        public let name: String
        /// 0 stored, 8 deflate; others are refused on read.
        public let method: UInt16
        /// The general-purpose flags (bit 0: encrypted, bit 11: UTF-8 name).
        public let flags: UInt16
        /// The CRC-32 the directory declares, checked after reading.
        public let crc32: UInt32
        /// The size the directory declares for the stored bytes.
        public let compressedSize: Int
        /// The size the directory declares once inflated: reading never produces more.
        public let uncompressedSize: Int
        let localHeaderOffset: Int

        /// Whether the entry is encrypted (traditional PKWARE or strong encryption).
        public var isEncrypted: Bool { flags & 1 != 0 }
    }

    /// The entries' names, in directory order.
    public let entryNames: [String]
    /// The entries by name (the first one wins when a name repeats).
    public let entries: [String: Entry]
    private let bytes: [UInt8]
    private let limits: ExtractionLimits

    /// Parses the central directory and checks the archive against the limits.
    public init(bytes: [UInt8], limits: ExtractionLimits = .init()) throws(DocumentError) {
        self.bytes = bytes
        self.limits = limits
        guard bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B else {
            throw DocumentError(.malformed, "The file is not a ZIP archive.")
        }
        guard let end = Self.findEndOfCentralDirectory(bytes) else {
            throw DocumentError(.malformed, "The ZIP archive is truncated or damaged: its directory is missing.")
        }
        let disk = bytes.le16(end + 4), directoryDisk = bytes.le16(end + 6)
        let count = Int(bytes.le16(end + 10))
        let directorySize = Int(bytes.le32(end + 12)), directoryOffset = Int(bytes.le32(end + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            throw DocumentError(.unsupported, "ZIP64 archives are not supported.")
        }
        guard disk == 0, directoryDisk == 0 else {
            throw DocumentError(.unsupported, "Multi-part ZIP archives are not supported.")
        }
        guard count <= limits.maxEntries else {
            throw DocumentError(.zipBomb, "The archive holds more than \(limits.maxEntries) files.")
        }
        guard directoryOffset + directorySize <= end else {
            throw DocumentError(.malformed, "The ZIP archive is truncated or damaged: its directory points outside the file.")
        }
        var names: [String] = []
        var entries: [String: Entry] = [:]
        var offset = directoryOffset
        var declaredTotal = 0
        for _ in 0..<count {
            guard offset + 46 <= end, bytes.le32(offset) == 0x0201_4B50 else {
                throw DocumentError(.malformed, "The ZIP archive's directory is damaged.")
            }
            let nameLength = Int(bytes.le16(offset + 28))
            let extraLength = Int(bytes.le16(offset + 30))
            let commentLength = Int(bytes.le16(offset + 32))
            guard offset + 46 + nameLength <= end else {
                throw DocumentError(.malformed, "The ZIP archive's directory is damaged.")
            }
            let flags = bytes.le16(offset + 8)
            let nameBytes = bytes[(offset + 46)..<(offset + 46 + nameLength)]
            let name = flags & 0x800 != 0 || nameBytes.allSatisfy({ $0 < 0x80 })
                ? String(decoding: nameBytes, as: UTF8.self)
                : String(nameBytes.map { Character(Unicode.Scalar($0)) })
            let entry = Entry(
                name: name,
                method: bytes.le16(offset + 10),
                flags: flags,
                crc32: bytes.le32(offset + 16),
                compressedSize: Int(bytes.le32(offset + 20)),
                uncompressedSize: Int(bytes.le32(offset + 24)),
                localHeaderOffset: Int(bytes.le32(offset + 42))
            )
            if entry.compressedSize == 0xFFFF_FFFF || entry.uncompressedSize == 0xFFFF_FFFF
                || entry.localHeaderOffset == 0xFFFF_FFFF
            {
                throw DocumentError(.unsupported, "ZIP64 archives are not supported.")
            }
            declaredTotal += entry.uncompressedSize
            guard declaredTotal <= limits.maxUncompressedBytes else {
                throw DocumentError(.zipBomb, "The archive would expand to more than \(Self.megabytes(limits.maxUncompressedBytes)).")
            }
            if entry.uncompressedSize > 1 << 20,
                entry.uncompressedSize / max(entry.compressedSize, 1) > limits.maxRatio
            {
                throw DocumentError(.zipBomb, "The archive is compressed suspiciously well (more than \(limits.maxRatio) to 1).")
            }
            if entries[name] == nil {
                entries[name] = entry
                names.append(name)
            }
            offset += 46 + nameLength + extraLength + commentLength
        }
        self.entryNames = names
        self.entries = entries
    }

    /// Whether the archive holds an entry with this exact name.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The uncompressed bytes of one entry, CRC-checked.
    public func read(_ name: String) throws(DocumentError) -> [UInt8] {
        guard let entry = entries[name] else {
            throw DocumentError(.malformed, "The archive has no part named “\(name)”.")
        }
        guard !entry.isEncrypted else {
            throw DocumentError(.encrypted, "The archive is password-protected.")
        }
        let offset = entry.localHeaderOffset
        guard offset + 30 <= bytes.count, bytes.le32(offset) == 0x0403_4B50 else {
            throw DocumentError(.malformed, "The ZIP archive is damaged: a file's header is missing.")
        }
        let start = offset + 30 + Int(bytes.le16(offset + 26)) + Int(bytes.le16(offset + 28))
        guard start + entry.compressedSize <= bytes.count else {
            throw DocumentError(.malformed, "The ZIP archive is truncated: a file inside it is incomplete.")
        }
        let data = bytes[start..<(start + entry.compressedSize)]
        let output: [UInt8]
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw DocumentError(.malformed, "The ZIP archive is damaged: a stored file's sizes disagree.")
            }
            output = Array(data)
        case 8:
            do {
                output = try Inflate.decode(data, limit: entry.uncompressedSize, expectedSize: entry.uncompressedSize)
            } catch .limitExceeded {
                throw DocumentError(.zipBomb, "A file in the archive expands beyond its declared size.")
            } catch {
                throw DocumentError(.malformed, "The ZIP archive is damaged: a file inside it cannot be decompressed.")
            }
            guard output.count == entry.uncompressedSize else {
                throw DocumentError(.malformed, "The ZIP archive is damaged: a file inside it has the wrong size.")
            }
        default:
            throw DocumentError(.unsupported, "The archive uses a compression method we do not read (\(entry.method)).")
        }
        guard CRC32.checksum(output) == entry.crc32 else {
            throw DocumentError(.malformed, "The ZIP archive is damaged: a file inside it fails its checksum.")
        }
        return output
    }

    private static func findEndOfCentralDirectory(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 22 else { return nil }
        var position = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        while position >= lowest {
            if bytes[position] == 0x50, bytes[position + 1] == 0x4B, bytes[position + 2] == 0x05, bytes[position + 3] == 0x06 {
                return position
            }
            position -= 1
        }
        return nil
    }

    static func megabytes(_ count: Int) -> String { "\(count >> 20) MiB" }
}

extension Array where Element == UInt8 {
    @inline(__always) func le16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }

    @inline(__always) func le32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16 | UInt32(self[offset + 3]) << 24
    }
}
