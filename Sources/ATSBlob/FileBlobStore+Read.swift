#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

extension FileBlobStore {
    /// An open blob file and which form it is in.
    struct Opened {
        let file: FileDescriptor
        let path: String
        let compressed: Bool
        let stat: stat
    }

    /// Opens the blob's file (raw first, then `.zst`); nil when neither exists.
    func openBlob(_ id: BlobID) throws -> Opened? {
        do {
            let plain = plainPath(id)
            if let fd = try POSIX.openIfExists(plain) {
                let file = FileDescriptor(fd)
                return Opened(file: file, path: plain, compressed: false, stat: try POSIX.fstat(fd))
            }
            let compressed = compressedPath(id)
            if let fd = try POSIX.openIfExists(compressed) {
                let file = FileDescriptor(fd)
                return Opened(file: file, path: compressed, compressed: true, stat: try POSIX.fstat(fd))
            }
            return nil
        } catch {
            throw BlobError.unavailable("opening blob \(id.hex) failed", error)
        }
    }

    public func info(_ id: BlobID) async throws -> BlobInfo? {
        guard let opened = try openBlob(id) else { return nil }
        let identity = FileIdentity(opened.stat)
        if let cached = cachedInfo(id, identity) { return cached }
        if let meta = readMeta(id) {
            return BlobInfo(
                id: id, size: meta.size, md5Hex: meta.md5, contentType: meta.contentType,
                storedSize: Int64(opened.stat.st_size), compressed: opened.compressed,
                modified: POSIX.date(opened.stat.st_mtim))
        }
        // No sidecar (a copy from elsewhere, a crash): rebuild it, verifying on the way.
        return try verifiedInfo(id, opened, force: false)
    }

    public func read(_ id: BlobID, range: ClosedRange<Int64>?) async throws -> BlobReader {
        guard let opened = try openBlob(id) else { throw BlobError.notFound(id) }
        counters.withLock { $0.reads += 1 }
        let info = try verifiedInfo(id, opened, force: false)
        var served: ClosedRange<Int64>?
        if let range {
            guard range.lowerBound >= 0, range.lowerBound < info.size else {
                throw BlobError(.invalidRange, "range starts at \(range.lowerBound) of a \(info.size)-byte blob")
            }
            served = range.lowerBound...min(range.upperBound, info.size - 1)
        }
        let source: BlobReader.Source =
            opened.compressed ? .zstd(opened.file) : .plain(opened.file, path: opened.path)
        return BlobReader(info: info, range: served, source: source)
    }

    public func verify(_ id: BlobID) async throws -> Bool {
        guard let opened = try openBlob(id) else { throw BlobError.notFound(id) }
        do {
            _ = try verifiedInfo(id, opened, force: true)
            return true
        } catch let error as BlobError where error.code == .corrupted {
            return false
        }
    }

    /// The blob's info after checking its content hashes to `id`, unless the cache already
    /// verified this exact file version (and `force` is false). Rebuilds a missing sidecar.
    func verifiedInfo(_ id: BlobID, _ opened: Opened, force: Bool) throws -> BlobInfo {
        let identity = FileIdentity(opened.stat)
        if !force, let cached = cachedInfo(id, identity) { return cached }
        let meta = readMeta(id)
        let scan: Scan
        scans.add(1, ordering: .relaxed)
        do {
            scan = try Scan.run(fd: opened.file.fd, compressed: opened.compressed, withMD5: meta == nil)
        } catch let failure as ZstdFailure {
            forget(id)
            counters.withLock { $0.corrupted += 1 }
            logger.error("blob failed to decompress", metadata: ["blob": "\(id.hex)", "error": "\(failure)"])
            throw BlobError(.corrupted, "blob \(id.hex) is corrupted (\(failure))")
        } catch {
            throw BlobError.unavailable("reading blob \(id.hex) failed", error)
        }
        guard Hex.encode(scan.sha256) == id.hex, meta == nil || meta!.size == scan.size else {
            forget(id)
            counters.withLock { $0.corrupted += 1 }
            logger.error("blob content does not match its id", metadata: ["blob": "\(id.hex)"])
            throw BlobError(.corrupted, "blob \(id.hex) is corrupted (its content no longer hashes to its id)")
        }
        var current = meta
        if current == nil {
            current = Meta(
                size: scan.size, md5: Hex.encode(scan.md5 ?? []), contentType: ContentSniffer.contentType(prefix: scan.prefix))
            try? writeMeta(id, current!)
        }
        let info = BlobInfo(
            id: id, size: scan.size, md5Hex: current!.md5, contentType: current!.contentType,
            storedSize: Int64(opened.stat.st_size), compressed: opened.compressed,
            modified: POSIX.date(opened.stat.st_mtim))
        remember(id, identity, info)
        return info
    }
}

/// One pass over a stored blob: SHA-256 of the logical content, its size, and (when asked)
/// MD5 and the sniffing prefix.
struct Scan {
    var sha256: [UInt8]
    var md5: [UInt8]?
    var size: Int64
    var prefix: [UInt8]

    static func run(fd: Int32, compressed: Bool, withMD5: Bool) throws -> Scan {
        let sha = Digest(.sha256)
        let md5 = withMD5 ? Digest(.md5) : nil
        var prefix: [UInt8] = []
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: BlobReader.chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        let decoder = compressed ? ZstdFileDecoder(fd: fd) : nil
        while true {
            let count = try decoder?.read(into: buffer) ?? POSIX.pread(fd, buffer, at: size)
            if count == 0 { break }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            sha.update(bytes)
            md5?.update(bytes)
            if withMD5 && prefix.count < ContentSniffer.prefixLength {
                prefix.append(contentsOf: bytes.prefix(ContentSniffer.prefixLength - prefix.count))
            }
            size += Int64(count)
        }
        return Scan(sha256: sha.finish(), md5: md5?.finish(), size: size, prefix: prefix)
    }
}
