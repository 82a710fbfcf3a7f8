#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The persisted form of an index: one versioned little-endian binary file, read in one go.
///
/// Layout: an 88-byte header (magic `ATSVECIX`, version, kind, dimensions, slots, live count,
/// M, efConstruction, efSearch, adaptive threshold, seed, entry point, top level, generator
/// state, byte length of the id table, length of the upper-layer links); the id table (per
/// slot a u32 length, 0xFFFFFFFF for a deleted slot, then UTF-8); the vectors (slots x
/// dimensions float32); for HNSW, the slots' levels (u8), the layer-0 link block (slots x
/// (2M + 1) int32: a count, then the links) and the upper-layer links (for each slot above
/// layer 0, level x (M + 1) int32); then a checksum over all of it and the end marker
/// `ATSVEND.`. Loading checks the checksum and every link's range, so a corrupt or truncated
/// file is an error, never a crash.
enum VectorFile {
    static let magic: [UInt8] = Array("ATSVECIX".utf8)
    static let endMarker: [UInt8] = Array("ATSVEND.".utf8)
    static let version: UInt32 = 1
    static let headerSize = 88
    static let deletedLength: UInt32 = 0xFFFF_FFFF

    enum Kind: UInt32 {
        case exact = 0
        case hnsw = 1
    }

    struct Graph {
        var levels: [UInt8]
        /// slots x (2M + 1): a count then the links.
        var level0: RowBuffer<Int32>
        /// For each slot above layer 0, in slot order: level x (M + 1) (a count, then the links).
        var upper: RowBuffer<Int32>
        var entryPoint: Int32
        var maxLevel: Int32
        var rngState: UInt64
    }

    struct Contents {
        var kind: Kind
        var dimensions: Int
        /// `AdaptiveVectorIndex`'s threshold (0 when written by a plain index).
        var threshold: Int
        var parameters: HNSWIndex.Parameters
        /// Per slot; nil is a deleted slot (HNSW keeps them in the graph).
        var ids: [String?]
        var rows: RowBuffer<Float>
        var graph: Graph?
    }

    // MARK: Writing

    static func write(_ contents: Contents, to path: String) throws {
        let slots = contents.ids.count
        var idBytes: [UInt8] = []
        idBytes.reserveCapacity(slots * 24)
        var live = 0
        for id in contents.ids {
            if let id {
                live += 1
                appendU32(&idBytes, UInt32(id.utf8.count))
                idBytes.append(contentsOf: id.utf8)
            } else {
                appendU32(&idBytes, deletedLength)
            }
        }
        let upperCount = contents.graph?.upper.count ?? 0
        var header: [UInt8] = magic
        header.reserveCapacity(headerSize)
        appendU32(&header, version)
        appendU32(&header, contents.kind.rawValue)
        appendU32(&header, UInt32(contents.dimensions))
        appendU32(&header, UInt32(slots))
        appendU32(&header, UInt32(live))
        appendU32(&header, UInt32(contents.parameters.m))
        appendU32(&header, UInt32(contents.parameters.efConstruction))
        appendU32(&header, UInt32(contents.parameters.efSearch))
        appendU64(&header, UInt64(contents.threshold))
        appendU64(&header, contents.parameters.seed)
        appendU32(&header, UInt32(bitPattern: contents.graph?.entryPoint ?? -1))
        appendU32(&header, UInt32(bitPattern: contents.graph?.maxLevel ?? -1))
        appendU64(&header, contents.graph?.rngState ?? 0)
        appendU64(&header, UInt64(idBytes.count))
        appendU64(&header, UInt64(upperCount))
        assert(header.count == headerSize)

        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw ioError("cannot create \(temporary)") }
        var checksum = Checksum()
        do {
            func section(_ bytes: UnsafeRawBufferPointer) throws {
                checksum.update(bytes)
                try writeAll(descriptor, bytes, path: temporary)
            }
            try header.withUnsafeBytes(section)
            try idBytes.withUnsafeBytes(section)
            try section(UnsafeRawBufferPointer(start: contents.rows.pointer, count: slots * contents.dimensions * 4))
            if let graph = contents.graph {
                try graph.levels.withUnsafeBytes(section)
                try section(UnsafeRawBufferPointer(start: graph.level0.pointer, count: graph.level0.count * 4))
                try section(UnsafeRawBufferPointer(start: graph.upper.pointer, count: graph.upper.count * 4))
            }
            var trailer: [UInt8] = []
            appendU64(&trailer, checksum.value)
            trailer.append(contentsOf: endMarker)
            try trailer.withUnsafeBytes { try writeAll(descriptor, $0, path: temporary) }
            guard fsync(descriptor) == 0 else { throw ioError("cannot sync \(temporary)") }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ioError("cannot rename \(temporary) to \(path)")
        }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard var base = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = Glibc_write(descriptor, base, min(left, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot write \(path)")
            }
            left -= written
            base += written
        }
    }

    // MARK: Reading

    static func read(from path: String) throws -> Contents {
        let bytes = try readFile(path)
        return try bytes.withUnsafeBytes { try parse($0) }
    }

    static func parse(_ file: UnsafeRawBufferPointer) throws -> Contents {
        var reader = Reader(bytes: file)
        guard file.count >= headerSize + 16 else { throw corrupt("file too short (\(file.count) bytes)") }
        guard Array(file[0..<8]) == magic else {
            throw VectorIndexError(.unsupportedFormat, "not a vector index file")
        }
        reader.offset = 8
        let version = try reader.u32()
        guard version == Self.version else {
            throw VectorIndexError(.unsupportedFormat, "vector index file version \(version), this build reads \(Self.version)")
        }
        guard let kind = Kind(rawValue: try reader.u32()) else {
            throw VectorIndexError(.unsupportedFormat, "unknown index kind")
        }
        let dimensions = Int(try reader.u32())
        let slots = Int(try reader.u32())
        let live = Int(try reader.u32())
        let m = Int(try reader.u32())
        let efConstruction = Int(try reader.u32())
        let efSearch = Int(try reader.u32())
        let threshold = try reader.u64()
        let seed = try reader.u64()
        let entryPoint = Int32(bitPattern: try reader.u32())
        let maxLevel = Int32(bitPattern: try reader.u32())
        let rngState = try reader.u64()
        let idByteCount = try reader.u64()
        let upperCount = try reader.u64()
        guard dimensions > 0, dimensions <= 65536, live <= slots, threshold <= UInt64(Int32.max),
            m >= 2, m <= 1024, efConstruction >= 1, efSearch >= 1
        else { throw corrupt("header values out of range") }

        // Every section's size, checked against the file before anything is allocated.
        let rowBytes = slots.multipliedReportingOverflow(by: dimensions * 4)
        let linkStride = 2 * m + 1
        let graphBytes = kind == .hnsw ? slots + slots * linkStride * 4 : 0
        guard !rowBytes.overflow, idByteCount <= UInt64(file.count), upperCount <= UInt64(file.count) else {
            throw corrupt("section sizes out of range")
        }
        let expected = headerSize + Int(idByteCount) + rowBytes.partialValue + graphBytes
            + (kind == .hnsw ? Int(upperCount) * 4 : 0) + 16
        guard expected == file.count else {
            throw corrupt("file is \(file.count) bytes, its header describes \(expected)")
        }
        var checksum = Checksum()
        checksum.update(UnsafeRawBufferPointer(rebasing: file[0..<headerSize]))

        // Ids.
        let idStart = reader.offset
        var ids: [String?] = []
        ids.reserveCapacity(slots)
        var seen = Set<String>(minimumCapacity: live)
        let idEnd = idStart + Int(idByteCount)
        for _ in 0..<slots {
            let length = try reader.u32(limit: idEnd)
            if length == deletedLength {
                ids.append(nil)
                continue
            }
            let raw = try reader.bytes(Int(length), limit: idEnd)
            let id = String(decoding: raw, as: UTF8.self)
            guard seen.insert(id).inserted else { throw corrupt("duplicate id in the id table") }
            ids.append(id)
        }
        guard reader.offset == idEnd, seen.count == live else { throw corrupt("id table does not match the header") }
        checksum.update(UnsafeRawBufferPointer(rebasing: file[idStart..<idEnd]))

        // Vectors.
        let rows = RowBuffer<Float>(capacity: max(1, slots * dimensions))
        let rowRaw = try reader.bytes(rowBytes.partialValue)
        checksum.update(rowRaw)
        if let base = rowRaw.baseAddress, !rowRaw.isEmpty {
            UnsafeMutableRawPointer(rows.pointer).copyMemory(from: base, byteCount: rowRaw.count)
        }
        rows.setCount(slots * dimensions)

        var graph: Graph?
        if kind == .hnsw {
            let levelRaw = try reader.bytes(slots)
            checksum.update(levelRaw)
            let levels = Array(levelRaw.bindMemory(to: UInt8.self))
            let level0Raw = try reader.bytes(slots * linkStride * 4)
            checksum.update(level0Raw)
            let level0 = RowBuffer<Int32>(capacity: max(1, slots * linkStride))
            if let base = level0Raw.baseAddress, !level0Raw.isEmpty {
                UnsafeMutableRawPointer(level0.pointer).copyMemory(from: base, byteCount: level0Raw.count)
            }
            level0.setCount(slots * linkStride)
            let upperRaw = try reader.bytes(Int(upperCount) * 4)
            checksum.update(upperRaw)
            let upper = RowBuffer<Int32>(capacity: max(1, Int(upperCount)))
            if let base = upperRaw.baseAddress, !upperRaw.isEmpty {
                UnsafeMutableRawPointer(upper.pointer).copyMemory(from: base, byteCount: upperRaw.count)
            }
            upper.setCount(Int(upperCount))
            // Structure checks: levels, counts, link ranges, entry point.
            let upperStride = m + 1
            var cursor = 0
            for slot in 0..<slots {
                let level = Int(levels[slot])
                guard level <= 64 else { throw corrupt("level out of range") }
                guard level > 0 else { continue }
                guard cursor + level * upperStride <= upper.count else { throw corrupt("upper links do not match the levels") }
                for _ in 0..<level {
                    try checkLinks(upper.pointer + cursor, max: m, slots: slots)
                    cursor += upperStride
                }
            }
            guard cursor == upper.count else { throw corrupt("upper links do not match the levels") }
            for slot in 0..<slots {
                try checkLinks(level0.pointer + slot * linkStride, max: 2 * m, slots: slots)
            }
            if slots == 0 || live == 0 {
                guard entryPoint == -1 else { throw corrupt("entry point in an empty graph") }
            } else {
                guard entryPoint >= 0, Int(entryPoint) < slots, Int(levels[Int(entryPoint)]) == Int(maxLevel) else {
                    throw corrupt("entry point out of range")
                }
            }
            graph = Graph(levels: levels, level0: level0, upper: upper, entryPoint: entryPoint, maxLevel: maxLevel, rngState: rngState)
        }
        let stored = try reader.u64()
        guard stored == checksum.value else { throw corrupt("checksum mismatch") }
        guard Array(try reader.bytes(8).bindMemory(to: UInt8.self)) == endMarker else { throw corrupt("missing end marker") }
        return Contents(
            kind: kind, dimensions: dimensions, threshold: Int(threshold),
            parameters: .init(m: m, efConstruction: efConstruction, efSearch: efSearch, seed: seed),
            ids: ids, rows: rows, graph: graph)
    }

    private static func checkLinks(_ links: UnsafePointer<Int32>, max: Int, slots: Int) throws {
        let count = Int(links[0])
        guard count >= 0, count <= max else { throw corrupt("link count out of range") }
        for index in 0..<count {
            let link = links[1 + index]
            guard link >= 0, Int(link) < slots else { throw corrupt("link out of range") }
        }
    }

    /// The whole file in one read (plus retries for short reads).
    static func readFile(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ioError("cannot open \(path)") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw ioError("cannot stat \(path)") }
        let size = Int(info.st_size)
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            guard let base = buffer.baseAddress else {
                initialized = 0
                return
            }
            var done = 0
            while done < size {
                let got = Glibc_read(descriptor, base + done, size - done)
                if got < 0, errno == EINTR { continue }
                if got <= 0 { break }
                done += got
            }
            if done < size {
                failed = true
                // Zero what was not read, so the array is fully initialized either way.
                (base + done).initialize(repeating: 0, count: size - done)
            }
            initialized = size
        }
        if failed { throw ioError("short read on \(path)") }
        return bytes
    }

    // MARK: Helpers

    private static func appendU32(_ bytes: inout [UInt8], _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func appendU64(_ bytes: inout [UInt8], _ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func corrupt(_ message: String) -> VectorIndexError { VectorIndexError(.corrupt, message) }

    static func ioError(_ message: String) -> VectorIndexError {
        VectorIndexError(.io, message + ": " + String(cString: strerror(errno)))
    }

    /// A bounds-checked cursor over the file's bytes.
    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func u32(limit: Int? = nil) throws -> UInt32 {
            let raw = try self.bytes(4, limit: limit)
            return UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self))
        }

        mutating func u64() throws -> UInt64 {
            let raw = try bytes(8)
            return UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        }

        mutating func bytes(_ count: Int, limit: Int? = nil) throws -> UnsafeRawBufferPointer {
            let end = limit ?? bytes.count
            guard count >= 0, offset <= end, count <= end - offset else { throw VectorFile.corrupt("truncated file") }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        }
    }

    /// A fast 64-bit checksum over 8-byte words (multiply-rotate), chained across sections.
    struct Checksum {
        private(set) var value: UInt64 = 0x243F_6A88_85A3_08D3

        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            var hash = value ^ UInt64(bytes.count)
            var offset = 0
            let count = bytes.count
            while offset + 32 <= count {
                // Four lanes folded in turn keep the multiplier's latency off the critical path.
                let a = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                let b = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)
                let c = bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self)
                let d = bytes.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self)
                let mixed = (a &* 0x9E37_79B9_7F4A_7C15) ^ (b &* 0xC2B2_AE3D_27D4_EB4F).rotatedLeft(17)
                    ^ (c &* 0x1656_67B1_9E37_79F9).rotatedLeft(31) ^ (d &* 0x85EB_CA77_C2B2_AE63).rotatedLeft(47)
                hash = (hash ^ mixed).rotatedLeft(27) &* 0x0000_0100_0000_01B3 &+ 0x52DC_E729
                offset += 32
            }
            while offset < count {
                hash = (hash ^ UInt64(bytes[offset])) &* 0x0000_0100_0000_01B3
                offset += 1
            }
            value = hash ^ (hash >> 29)
        }
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(_ by: UInt64) -> UInt64 { (self << by) | (self >> (64 - by)) }
}

#if canImport(Glibc)
private func Glibc_write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Glibc.write(fd, buffer, count) }
private func Glibc_read(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int { Glibc.read(fd, buffer, count) }
#elseif canImport(Darwin)
private func Glibc_write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Darwin.write(fd, buffer, count) }
private func Glibc_read(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int { Darwin.read(fd, buffer, count) }
#endif
