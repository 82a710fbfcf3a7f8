#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

extension FileBlobStore {
    public func put<S: AsyncSequence & Sendable>(_ body: S, limit: Int64) async throws -> BlobInfo
    where S.Element == [UInt8] {
        let ingest: Ingest
        do {
            ingest = try Ingest(
                directory: temporaryDirectory, name: randomName(), compress: configuration.compress,
                level: configuration.level)
        } catch {
            throw reported(BlobError.unavailable("cannot create a temporary file", error))
        }
        do {
            // Small chunks (an HTTP body arrives in pieces of a few KiB) are gathered into
            // 256 KiB batches: fewer write calls, and batches big enough to hash in parallel.
            var batch = [UInt8]()
            var received: Int64 = 0
            for try await chunk in body {
                received += Int64(chunk.count)
                if received > limit { throw BlobError.tooLarge(limit) }
                if batch.isEmpty && chunk.count >= Ingest.batchSize {
                    try ingest.feed(chunk)
                    continue
                }
                if batch.capacity < Ingest.batchSize { batch.reserveCapacity(Ingest.batchSize + chunk.count) }
                batch.append(contentsOf: chunk)
                if batch.count >= Ingest.batchSize {
                    try ingest.feed(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { try ingest.feed(batch) }
            try ingest.finish()
            if ingest.compressed && !(ingest.storedSize * 10 <= ingest.total * 9) {
                try ingest.decompressInPlace(name: randomName())
            }
            return try finalize(ingest)
        } catch {
            ingest.discard()
            throw reported(Self.mapped(error))
        }
    }

    /// Tells the storage monitor (when one listens) of a put that failed for lack of space.
    func reported(_ error: any Error) -> any Error {
        if let blob = error as? BlobError, blob.code == .storageFull { storageFullHook.withLock { $0 }?() }
        return error
    }

    /// Native errors become `.unavailable`; a body's own errors pass through unchanged.
    static func mapped(_ error: any Error) -> any Error {
        switch error {
        case is POSIXFailure, is ZstdFailure: BlobError.unavailable("blob storage failed", error)
        default: error
        }
    }

    /// Moves the finished temporary file into place (or deduplicates), under the store lock.
    private func finalize(_ ingest: Ingest) throws -> BlobInfo {
        let id = BlobID(digest: ingest.sha256)
        let meta = Meta(size: ingest.total, md5: Hex.encode(ingest.md5), contentType: ingest.contentType)
        // Outside the lock: is an existing copy sound? A corrupted one is replaced by this upload.
        let existingIsSound = try existingCopyIsSound(id)
        let directory = directory(id)
        let target = ingest.compressed ? compressedPath(id) : plainPath(id)
        let other = ingest.compressed ? plainPath(id) : compressedPath(id)
        let plain = plainPath(id)
        let compressed = compressedPath(id)
        return try exclusively {
            for path in [plain, compressed] {
                guard existingIsSound, let found = try POSIX.stat(path) else { continue }
                // Deduplicated: keep the stored copy, restart its grace period.
                try POSIX.touch(path)
                ingest.discard()
                if readMeta(id) != meta { try? writeMeta(id, meta) }
                counters.withLock { $0.deduplicated += 1 }
                let touched = try POSIX.stat(path) ?? found
                return BlobInfo(
                    id: id, size: meta.size, md5Hex: meta.md5, contentType: meta.contentType,
                    storedSize: Int64(touched.st_size), compressed: path == compressed,
                    modified: POSIX.date(touched.st_mtim))
            }
            let parent = String(directory[..<directory.lastIndex(of: "/")!])
            if try POSIX.mkdir(parent) { try POSIX.fsyncDirectory(root) }
            if try POSIX.mkdir(directory) { try POSIX.fsyncDirectory(parent) }
            try writeMeta(id, meta)
            try POSIX.rename(ingest.path, target)
            ingest.renamed = true
            do {
                try POSIX.unlink(other)  // a corrupted copy in the other form, if any: never both
                try POSIX.fsyncDirectory(directory)
                try appendToJournal(id)
            } catch {
                // Not in the journal (the disk filled up): take the file back out, or a retry
                // would deduplicate against it and the replica would never learn of the blob.
                _ = try? POSIX.unlink(target)
                _ = try? POSIX.unlink(metaPath(id))
                throw error
            }
            forget(id)
            counters.withLock {
                $0.stored += 1
                $0.storedBytes += meta.size
            }
            let placed = try POSIX.stat(target)
            return BlobInfo(
                id: id, size: meta.size, md5Hex: meta.md5, contentType: meta.contentType,
                storedSize: ingest.storedSize, compressed: ingest.compressed,
                modified: placed.map { POSIX.date($0.st_mtim) } ?? Date())
        }
    }

    /// True when no copy exists or the existing one verifies; false when it is corrupted.
    private func existingCopyIsSound(_ id: BlobID) throws -> Bool {
        do {
            guard let opened = try openBlob(id) else { return true }
            _ = try verifiedInfo(id, opened, force: false)
            return true
        } catch let error as BlobError where error.code == .corrupted {
            logger.error("replacing a corrupted blob with a fresh upload", metadata: ["blob": "\(id.hex)"])
            return false
        }
    }

    /// Appends `<hex>\n` to the journal and fsyncs it (the replicator tails this file).
    private func appendToJournal(_ id: BlobID) throws {
        let fd = try POSIX.open(journalPath, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        defer { close(fd) }
        try POSIX.writeAll(fd, Array((id.hex + "\n").utf8))
        try POSIX.fsync(fd)
    }
}

/// Hands non-Sendable state to the two lanes of `concurrentPerform`, which touch disjoint parts.
private final class UncheckedBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// One upload in progress: hashes (SHA-256 and MD5) every chunk once while it is in cache,
/// sniffs the first 64 KiB, then writes raw or through zstd into a temporary file.
final class Ingest {
    let directory: String
    private(set) var path: String
    private var fd: Int32
    private let compress: Bool
    private let level: Int32
    private let sha = Digest(.sha256)
    private let md5Digest = Digest(.md5)
    private var pending: [UInt8] = []
    private var decided = false
    private var compressor: ZstdCompressor?
    private(set) var total: Int64 = 0
    private(set) var storedSize: Int64 = 0
    private(set) var contentType = ContentSniffer.binary
    private(set) var sha256: [UInt8] = []
    private(set) var md5: [UInt8] = []
    var compressed: Bool { compressor != nil }
    var renamed = false

    init(directory: String, name: String, compress: Bool, level: Int32) throws {
        self.directory = directory
        self.compress = compress
        self.level = level
        path = directory + "/" + name + ".part"
        fd = try POSIX.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Chunks at least this big are hashed on two threads (MD5 is the slow one).
    static let batchSize = 256 * 1024

    func feed(_ chunk: [UInt8]) throws {
        guard !chunk.isEmpty else { return }
        total += Int64(chunk.count)
        try chunk.withUnsafeBytes { bytes in
            if decided && bytes.count >= Self.batchSize / 2 {
                try hashAndWriteInParallel(bytes)
            } else {
                sha.update(bytes)
                md5Digest.update(bytes)
                if decided { try write(bytes) }
            }
        }
        if !decided {
            pending.append(contentsOf: chunk)
            if pending.count >= ContentSniffer.prefixLength { try decide() }
        }
    }

    /// MD5 on a second thread while this one does SHA-256 and the write: one pass over the
    /// chunk each, while it is still in cache, and the upload runs at about the speed of MD5.
    private func hashAndWriteInParallel(_ bytes: UnsafeRawBufferPointer) throws {
        let work = UncheckedBox((self, bytes))
        let failure = UncheckedBox<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: 2) { lane in
            let (ingest, bytes) = work.value
            if lane == 0 {
                ingest.md5Digest.update(bytes)
            } else {
                ingest.sha.update(bytes)
                do { try ingest.write(bytes) } catch { failure.value = error }
            }
        }
        if let error = failure.value { throw error }
    }

    /// Sniffs the buffered prefix, picks raw or zstd, and writes what was buffered.
    private func decide() throws {
        decided = true
        contentType = ContentSniffer.contentType(prefix: Array(pending.prefix(ContentSniffer.prefixLength)))
        if compress && ContentSniffer.isCompressible(contentType) { compressor = ZstdCompressor(level: level) }
        let buffered = pending
        pending = []
        try buffered.withUnsafeBytes { try write($0) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        if let compressor {
            try compressor.compress(bytes, end: false) { output in
                try POSIX.writeAll(fd, output)
                storedSize += Int64(output.count)
            }
        } else {
            try POSIX.writeAll(fd, bytes)
            storedSize += Int64(bytes.count)
        }
    }

    /// Ends the stream: flushes the zstd frame, fsyncs and closes the file.
    func finish() throws {
        if !decided { try decide() }
        if let compressor {
            try compressor.compress(UnsafeRawBufferPointer(start: nil, count: 0), end: true) { output in
                try POSIX.writeAll(fd, output)
                storedSize += Int64(output.count)
            }
        }
        sha256 = sha.finish()
        md5 = md5Digest.finish()
        try POSIX.fsync(fd)
        close(fd)
        fd = -1
    }

    /// The compressed form did not save 10%: rewrite the temporary file raw.
    func decompressInPlace(name: String) throws {
        let rawPath = directory + "/" + name + ".part"
        let source = FileDescriptor(try POSIX.open(path, O_RDONLY))
        let destination = try POSIX.open(rawPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        defer { close(destination) }
        do {
            let decoder = ZstdFileDecoder(fd: source.fd)
            var buffer = [UInt8](repeating: 0, count: BlobReader.chunkSize)
            var written: Int64 = 0
            while true {
                let count = try buffer.withUnsafeMutableBytes { try decoder.read(into: $0) }
                if count == 0 { break }
                try buffer.withUnsafeBytes { try POSIX.writeAll(destination, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                written += Int64(count)
            }
            try POSIX.fsync(destination)
            guard written == total else { throw ZstdFailure(message: "decompressed size differs from the upload") }
        } catch {
            _ = try? POSIX.unlink(rawPath)
            throw error
        }
        _ = try? POSIX.unlink(path)
        path = rawPath
        compressor = nil
        storedSize = total
    }

    /// Removes the temporary file (after a failure or a deduplication).
    func discard() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !renamed { _ = try? POSIX.unlink(path) }
    }
}
