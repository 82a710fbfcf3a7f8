import GRDB
import GRDBSQLite

#if canImport(Glibc)
import Glibc
#endif

/// The live database file, reached through the `sqlite3_file` SQLite itself opened
/// (`SQLITE_FCNTL_FILE_POINTER`). The replica never opens the live file with a descriptor of
/// its own: closing any descriptor on a file drops every POSIX lock the process holds on it,
/// SQLite's included, and another process could then checkpoint and delete the WAL under us.
/// Valid only inside the GRDB access closure that produced `db`.
struct SQLiteFileHandle {
    let file: UnsafeMutablePointer<sqlite3_file>

    struct Failure: Error, CustomStringConvertible {
        let operation: String
        let code: Int32
        var description: String { "sqlite file \(operation) failed (\(code))" }
    }

    init(_ db: Database) throws {
        var pointer: UnsafeMutableRawPointer?
        let rc = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_FILE_POINTER, &pointer)
        guard rc == SQLITE_OK, let pointer else { throw Failure(operation: "pointer", code: rc) }
        file = pointer.assumingMemoryBound(to: sqlite3_file.self)
        guard file.pointee.pMethods != nil else { throw Failure(operation: "open", code: SQLITE_CANTOPEN) }
    }

    /// SQLITE_IOERR_SHORT_READ (a C macro Swift does not import).
    static let shortRead: Int32 = SQLITE_IOERR | (2 << 8)

    var methods: sqlite3_io_methods { file.pointee.pMethods.pointee }

    func size() throws -> Int64 {
        var size: sqlite3_int64 = 0
        let rc = methods.xFileSize(file, &size)
        guard rc == SQLITE_OK else { throw Failure(operation: "size", code: rc) }
        return Int64(size)
    }

    /// Reads `buffer.count` bytes at `offset`; past the end reads as zeros (SQLite's short read).
    func read(into buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws {
        let rc = methods.xRead(file, buffer.baseAddress, Int32(buffer.count), sqlite3_int64(offset))
        guard rc == SQLITE_OK || rc == Self.shortRead else { throw Failure(operation: "read", code: rc) }
    }

    func write(_ bytes: UnsafeRawBufferPointer, offset: Int64) throws {
        let rc = methods.xWrite(file, bytes.baseAddress, Int32(bytes.count), sqlite3_int64(offset))
        guard rc == SQLITE_OK else { throw Failure(operation: "write", code: rc) }
    }

    func truncate(_ size: Int64) throws {
        let rc = methods.xTruncate(file, sqlite3_int64(size))
        guard rc == SQLITE_OK else { throw Failure(operation: "truncate", code: rc) }
    }

    func sync() throws {
        let rc = methods.xSync(file, SQLITE_SYNC_NORMAL)
        guard rc == SQLITE_OK else { throw Failure(operation: "sync", code: rc) }
    }

    /// Runs `body` holding the WAL index's write lock and every read-mark lock exclusively, so no
    /// connection of any process reads or writes meanwhile; throws `.unavailable` at once if one
    /// is busy (SQLite's shm locks do not wait).
    func withWALIndexExclusive<T>(_ body: () throws -> T) throws -> T {
        guard methods.iVersion >= 2, let shmLock = methods.xShmLock else {
            throw Failure(operation: "shm", code: SQLITE_MISUSE)
        }
        // SQLite's wal-index locks: 0 write, 1 checkpoint, 2 recover, 3...7 the five read marks.
        let exclusive = SQLITE_SHM_LOCK | SQLITE_SHM_EXCLUSIVE
        let release = SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE
        guard shmLock(file, 0, 1, exclusive) == SQLITE_OK else {
            throw ReplicaError(.unavailable, "the database is being written (WAL write lock busy)")
        }
        defer { _ = shmLock(file, 0, 1, release) }
        guard shmLock(file, 3, 5, exclusive) == SQLITE_OK else {
            throw ReplicaError(.unavailable, "the database is being read by another process")
        }
        defer { _ = shmLock(file, 3, 5, release) }
        return try body()
    }

    /// Invalidates the WAL index header (both copies; call inside `withWALIndexExclusive`), so
    /// the next access rebuilds it from the WAL file, SQLite's crash recovery. After the database
    /// file was rewritten behind SQLite's back, the index still holds the old database size in
    /// pages (`nPage`, which readers trust over the file size); recovery resets it and, with a
    /// WAL of fresh salts, yields a header no connection has cached, so every connection drops
    /// its page cache. The layout is SQLite's documented wal-index format
    /// (https://sqlite.org/walformat.html): two 48-byte header copies at offset 0; `isInit == 0`
    /// marks them invalid.
    func invalidateWALIndex() throws {
        guard methods.iVersion >= 2, let shmMap = methods.xShmMap else {
            throw Failure(operation: "shm", code: SQLITE_MISUSE)
        }
        var region: UnsafeMutableRawPointer?
        let rc = shmMap(file, 0, 32768, 0, &region)
        guard rc == SQLITE_OK, let region else { throw Failure(operation: "shm map", code: rc) }
        region.initializeMemory(as: UInt8.self, repeating: 0, count: 96)
    }

    /// Copies the whole file into a new local file at `path`; returns the bytes copied.
    func copy(to path: String) throws -> Int64 {
        let total = try size()
        let output = try LocalFile.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < total {
            let count = Int(min(Int64(buffer.count), total - offset))
            try buffer.withUnsafeMutableBytes {
                try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]), offset: offset)
            }
            try buffer.withUnsafeBytes {
                try LocalFile.writeFully(output, path, UnsafeRawBufferPointer(rebasing: $0[0..<count]))
            }
            offset += Int64(count)
        }
        return total
    }
}

/// Facts read from a database file's 100-byte header.
struct DatabaseHeader {
    var pageSize: Int
    /// The in-header size in pages, when valid (change counter == version-valid-for).
    var pages: Int?

    static func parse(_ bytes: [UInt8]) -> DatabaseHeader? {
        guard bytes.count >= 100, Array(bytes[0..<16]) == Array("SQLite format 3\0".utf8) else { return nil }
        let raw = Int(bytes.readBE16(16))
        let pageSize = raw == 1 ? 65536 : raw
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else { return nil }
        let counter = bytes.readBE32(24)
        let validFor = bytes.readBE32(92)
        let pages = Int(bytes.readBE32(28))
        return DatabaseHeader(pageSize: pageSize, pages: counter == validFor && pages > 0 ? pages : nil)
    }
}

/// Builds a database image in a local file: frames applied as SQLite's checkpoint would.
struct DatabaseImage: ~Copyable {
    let path: String
    let fd: Int32
    let pageSize: Int

    init(path: String, pageSize: Int) throws {
        self.path = path
        self.pageSize = pageSize
        fd = try LocalFile.open(path, O_RDWR | O_CREAT, 0o644)
    }

    deinit { close(fd) }

    func write(page pgno: UInt32, _ bytes: UnsafeRawBufferPointer) throws {
        try LocalFile.pwriteFully(fd, path, bytes, offset: Int64(pgno - 1) * Int64(pageSize))
    }

    func truncate(pages: UInt32) throws {
        guard ftruncate(fd, off_t(Int64(pages) * Int64(pageSize))) == 0 else { throw POSIXFailure("truncate", path) }
    }

    func size() throws -> Int64 { try LocalFile.size(fd, path) }

    func sync() throws { try LocalFile.fsync(fd, path) }

    /// Applies segment records (`u32 pgno`, `u32 commit size`, page) in order; returns the
    /// number of commits applied. At each commit the file is cut to the committed size.
    @discardableResult
    func apply(records: UnsafeRawBufferPointer) throws -> Int {
        let recordSize = 8 + pageSize
        guard records.count % recordSize == 0 else { throw POSIXFailure("apply", path, EINVAL) }
        var commits = 0
        var offset = 0
        while offset < records.count {
            let pgno = UInt32(bigEndian: records.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let commit = UInt32(bigEndian: records.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            try write(page: pgno, UnsafeRawBufferPointer(rebasing: records[(offset + 8)..<(offset + recordSize)]))
            if commit != 0 {
                try truncate(pages: commit)
                commits += 1
            }
            offset += recordSize
        }
        return commits
    }
}
