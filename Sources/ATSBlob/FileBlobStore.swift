#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import Logging
import Synchronization

/// The embedded blob store: content-addressed files under one root folder.
///
/// Layout (a contract with the replica tier, which copies these files):
/// - `root/ab/cd/<hex>` (raw) or `root/ab/cd/<hex>.zst` (one zstd frame with a content
///   checksum), never both; `root/ab/cd/<hex>.meta` a JSON sidecar (size, md5, contentType)
///   that can always be recomputed from the content;
/// - `root/tmp/` uploads in flight (`*.part`), removed by `sweepTemporaries` when stale;
/// - `root/journal` one `<hex>\n` line appended (O_APPEND, fsync) for every new blob after
///   it is renamed into place and before `put` returns;
/// - `root/.lock` the `flock` that makes put's finalize and `delete(_:ifUnmodifiedSince:)`
///   mutually exclusive across processes (an in-process mutex does it between tasks).
///
/// Writes go to a temporary file (fsync), are renamed into place, and the folder is fsynced.
/// Compression: only for compressible sniffed types (`ContentSniffer.isCompressible`), and the
/// compressed form is kept only when it is at least 10% smaller.
///
/// Verification cache: `read` hashes the stored content before serving it, then remembers
/// "verified" in memory keyed by the file's (device, inode, size, mtime, ctime). Any write,
/// touch, rename-over or chmod changes mtime or ctime, so a changed file is hashed again; an
/// unchanged hot file is not re-hashed on every request. Bit rot below the file system (which
/// changes none of these) is the scrubber's job: `verify(_:)` always re-hashes. The cache is
/// bounded (`Configuration.verifiedCacheEntries`) and lives only as long as the process.
public final class FileBlobStore: BlobStore {
    /// Where and how blobs are kept.
    public struct Configuration: Sendable {
        /// The blob root (`DATA/blobs`).
        public var root: String
        /// Compress compressible types at rest with zstd.
        public var compress: Bool
        /// zstd level (1...19); 3 is zstd's default and fast.
        public var level: Int32
        /// How many verified files the in-memory cache remembers.
        public var verifiedCacheEntries: Int
        /// A file changed less than this long ago is hashed again on every read: file times
        /// tick coarsely (a few ms), so a change right after a verification could otherwise
        /// leave (size, mtime, ctime) unchanged.
        public var verifiedCacheMinimumAge: TimeInterval

        public init(
            root: String, compress: Bool = true, level: Int32 = 3, verifiedCacheEntries: Int = 100_000,
            verifiedCacheMinimumAge: TimeInterval = 1
        ) {
            self.root = root
            self.compress = compress
            self.level = level
            self.verifiedCacheEntries = verifiedCacheEntries
            self.verifiedCacheMinimumAge = verifiedCacheMinimumAge
        }
    }

    public let configuration: Configuration
    let logger: Logger
    let root: String
    let temporaryDirectory: String
    let journalPath: String
    private let lockFile: FileDescriptor
    private let finalizeLock = Mutex<Void>(())
    private let verified = Mutex<[BlobID: Verified]>([:])
    /// Full content hashes done so far (tests check the verification cache with it).
    let scans = Atomic<Int>(0)
    let counters = Mutex(BlobFigures())
    /// Told of every put that failed for lack of space (the server's storage monitor).
    let storageFullHook = Mutex<(@Sendable () -> Void)?>(nil)

    /// Calls `hook` after each put that failed because the disk or quota is full.
    public func onStorageFull(_ hook: @escaping @Sendable () -> Void) {
        storageFullHook.withLock { $0 = hook }
    }

    public var figures: BlobFigures {
        var figures = counters.withLock { $0 }
        figures.verifications = scans.load(ordering: .relaxed)
        return figures
    }

    struct Verified: Sendable {
        let identity: FileIdentity
        let info: BlobInfo
    }

    /// Opens (creating when needed) the store at `configuration.root`.
    public init(configuration: Configuration, logger: Logger = Logger(label: "ats.blob")) throws {
        self.configuration = configuration
        self.logger = logger
        var root = configuration.root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        temporaryDirectory = root + "/tmp"
        journalPath = root + "/journal"
        do {
            try POSIX.makeDirectories(root)
            try POSIX.mkdir(temporaryDirectory)
            lockFile = FileDescriptor(try POSIX.open(root + "/.lock", O_RDWR | O_CREAT))
        } catch {
            throw BlobError.unavailable("cannot open the blob store", error)
        }
    }

    // MARK: Paths

    func plainPath(_ id: BlobID) -> String { root + "/" + id.relativePath }
    func compressedPath(_ id: BlobID) -> String { plainPath(id) + ".zst" }
    func metaPath(_ id: BlobID) -> String { plainPath(id) + ".meta" }
    func directory(_ id: BlobID) -> String {
        let hex = Array(id.hex.utf8)
        return root + "/" + String(decoding: hex[0..<2], as: UTF8.self) + "/" + String(decoding: hex[2..<4], as: UTF8.self)
    }

    /// The file holding the blob right now (`.zst` when compressed), or nil; for tools and the replica.
    public func storedPath(_ id: BlobID) -> String? {
        if (try? POSIX.stat(plainPath(id))) ?? nil != nil { return plainPath(id) }
        if (try? POSIX.stat(compressedPath(id))) ?? nil != nil { return compressedPath(id) }
        return nil
    }

    // MARK: Locking

    /// Runs `body` holding the in-process mutex and `flock(root/.lock)`.
    func exclusively<T: Sendable>(_ body: () throws -> T) throws -> T {
        try finalizeLock.withLock { _ in
            while flock(lockFile.fd, LOCK_EX) != 0 {
                if errno == EINTR { continue }
                throw BlobError(.unavailable, "flock failed: errno \(errno)")
            }
            defer { flock(lockFile.fd, LOCK_UN) }
            return try body()
        }
    }

    // MARK: Verification cache

    func cachedInfo(_ id: BlobID, _ identity: FileIdentity) -> BlobInfo? {
        verified.withLock { entries in
            guard let entry = entries[id], entry.identity == identity else { return nil }
            return entry.info
        }
    }

    func remember(_ id: BlobID, _ identity: FileIdentity, _ info: BlobInfo) {
        // Racy-file rule: a file changed within the margin may change again in the same tick.
        let changed = TimeInterval(identity.ctimeSeconds) + TimeInterval(identity.ctimeNanoseconds) / 1e9
        guard Date().timeIntervalSince1970 - changed >= configuration.verifiedCacheMinimumAge else { return }
        let limit = max(1, configuration.verifiedCacheEntries)
        verified.withLock { entries in
            if entries[id] == nil && entries.count >= limit, let victim = entries.keys.randomElement() {
                entries[victim] = nil
            }
            entries[id] = Verified(identity: identity, info: info)
        }
    }

    func forget(_ id: BlobID) {
        _ = verified.withLock { $0.removeValue(forKey: id) }
    }

    // MARK: Delete, list, sweep

    public func delete(_ id: BlobID) async throws {
        try exclusively {
            try unlinkAll(id)
        }
    }

    public func delete(_ id: BlobID, ifUnmodifiedSince cutoff: Date) async throws -> Bool {
        try exclusively {
            let found: stat?
            do {
                found = try POSIX.stat(plainPath(id)) ?? POSIX.stat(compressedPath(id))
            } catch {
                throw BlobError.unavailable("stat failed", error)
            }
            guard let found else { return false }
            if POSIX.date(found.st_mtim) > cutoff { return false }
            try unlinkAll(id)
            return true
        }
    }

    /// Call holding the lock.
    private func unlinkAll(_ id: BlobID) throws {
        forget(id)
        do {
            var removed = try POSIX.unlink(plainPath(id))
            removed = try POSIX.unlink(compressedPath(id)) || removed
            try POSIX.unlink(metaPath(id))
            if removed {
                try POSIX.fsyncDirectory(directory(id))
                counters.withLock { $0.deleted += 1 }
            }
        } catch {
            throw BlobError.unavailable("deleting blob \(id.hex) failed", error)
        }
    }

    public func list() async throws -> [BlobID] {
        var ids = Set<BlobID>()
        for first in POSIX.list(root) where first.utf8.count == 2 && Hex.isLowercase(first, count: 2) {
            for second in POSIX.list(root + "/" + first) where second.utf8.count == 2 && Hex.isLowercase(second, count: 2) {
                for name in POSIX.list(root + "/" + first + "/" + second) {
                    let hex = name.hasSuffix(".zst") ? String(name.dropLast(4)) : name
                    guard let id = BlobID(hex: hex), hex.hasPrefix(first + second) else { continue }
                    ids.insert(id)
                }
            }
        }
        return Array(ids)
    }

    /// Removes temporary upload files not written to since `cutoff` (abandoned uploads); an
    /// upload in flight writes continuously, so give it a generous grace period. Returns how many.
    @discardableResult
    public func sweepTemporaries(olderThan cutoff: Date) async throws -> Int {
        var removed = 0
        for name in POSIX.list(temporaryDirectory) {
            let path = temporaryDirectory + "/" + name
            guard let info = try? POSIX.stat(path), POSIX.date(info.st_mtim) < cutoff else { continue }
            if (try? POSIX.unlink(path)) == true { removed += 1 }
        }
        return removed
    }

    // MARK: Metadata sidecar

    struct Meta: Codable, Equatable {
        var size: Int64
        var md5: String
        var contentType: String
    }

    func readMeta(_ id: BlobID) -> Meta? {
        guard let fd = try? POSIX.openIfExists(metaPath(id)) else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = (try? buffer.withUnsafeMutableBytes { try POSIX.pread(fd, $0, at: 0) }) ?? 0
        guard count > 0, count < buffer.count,
            let meta = try? JSONDecoder().decode(Meta.self, from: Data(buffer[0..<count])),
            Hex.isLowercase(meta.md5, count: 32), meta.size >= 0
        else { return nil }
        return meta
    }

    /// Writes the sidecar through a temporary file and a rename (no fsync: it can be rebuilt).
    func writeMeta(_ id: BlobID, _ meta: Meta) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = Array(try encoder.encode(meta))
        let temporary = temporaryDirectory + "/" + randomName() + ".meta"
        let fd = try POSIX.open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        do {
            try POSIX.writeAll(fd, bytes)
            close(fd)
            try POSIX.rename(temporary, metaPath(id))
        } catch {
            close(fd)
            _ = try? POSIX.unlink(temporary)
            throw error
        }
    }

    func randomName() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

extension POSIX {
    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws(POSIXFailure) {
        if (try stat(path)) != nil { return }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]))
        }
        try mkdir(path)
    }
}
