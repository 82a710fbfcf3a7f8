import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An errno with the operation and path that failed.
struct POSIXFailure: Error, CustomStringConvertible {
    let operation: String
    let path: String
    let code: Int32

    init(_ operation: String, _ path: String, _ code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    /// Out of space, read-only file system, permission, I/O: the target is unavailable, not the key.
    var isNotFound: Bool { code == ENOENT || code == ENOTDIR }
}

/// Small POSIX file helpers. Never used on the live database file (a `close` would drop the
/// process's SQLite locks on it); that file is reached through SQLite's own handle (`DatabaseFile`).
enum LocalFile {
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw POSIXFailure("open", path)
        }
    }

    static func size(_ fd: Int32, _ path: String) throws -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw POSIXFailure("fstat", path) }
        return Int64(info.st_size)
    }

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    static func pread(_ fd: Int32, _ path: String, count: Int, offset: Int64) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = try buffer.withUnsafeMutableBytes { try preadFully(fd, path, into: $0, offset: offset) }
        if got < count { buffer.removeLast(count - got) }
        return buffer
    }

    /// Fills `buffer` from `offset`; returns how many bytes it got (less only at end of file).
    static func preadFully(_ fd: Int32, _ path: String, into buffer: UnsafeMutableRawBufferPointer, offset: Int64)
        throws -> Int
    {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure("read", path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func writeFully(_ fd: Int32, _ path: String, _ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure("write", path)
            }
            done += n
        }
    }

    static func pwriteFully(_ fd: Int32, _ path: String, _ bytes: UnsafeRawBufferPointer, offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure("write", path)
            }
            done += n
        }
    }

    static func fsync(_ fd: Int32, _ path: String) throws {
        guard Glibc.fsync(fd) == 0 else { throw POSIXFailure("fsync", path) }
    }

    /// Fsyncs a directory so a rename or unlink in it is durable.
    static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path)
    }

    /// The first `count` bytes (fewer when the file is shorter).
    static func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        return try pread(fd, path, count: count, offset: 0)
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        let size = try size(fd, path)
        var result = try pread(fd, path, count: Int(size), offset: 0)
        // A file that grew while reading: take the rest too.
        while true {
            let more = try pread(fd, path, count: 1 << 20, offset: Int64(result.count))
            if more.isEmpty { break }
            result += more
        }
        return result
    }

    /// Creates `path` and its parents (mode 0755); existing folders are fine.
    static func makeDirectories(_ path: String) throws {
        if path.isEmpty || path == "/" { return }
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw POSIXFailure("mkdir", path, ENOTDIR)
        }
        let parent = (path as NSString).deletingLastPathComponent
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw POSIXFailure("mkdir", path) }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// Writes a temp file beside `path`, fsyncs it, renames it into place and fsyncs the folder.
    static func writeAtomically(_ path: String, bytes: [UInt8]) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try makeDirectories(folder)
        let temp = folder + "/.tmp-" + randomSuffix() + "-" + (path as NSString).lastPathComponent
        let fd = try open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        do {
            try bytes.withUnsafeBytes { try writeFully(fd, temp, $0) }
            try fsync(fd, temp)
            close(fd)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            let failure = POSIXFailure("rename", path)
            unlink(temp)
            throw failure
        }
        try fsyncDirectory(folder)
    }

    /// Copies `source` into `destination` through a temp file, fsynced and renamed into place.
    static func copyAtomically(from source: String, to destination: String) throws {
        let input = try open(source, O_RDONLY)
        defer { close(input) }
        let folder = (destination as NSString).deletingLastPathComponent
        try makeDirectories(folder)
        let temp = folder + "/.tmp-" + randomSuffix() + "-" + (destination as NSString).lastPathComponent
        let output = try open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        do {
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var offset: Int64 = 0
            while true {
                let got = try buffer.withUnsafeMutableBytes { try preadFully(input, source, into: $0, offset: offset) }
                if got == 0 { break }
                try buffer.withUnsafeBytes {
                    try writeFully(output, temp, UnsafeRawBufferPointer(rebasing: $0[0..<got]))
                }
                offset += Int64(got)
            }
            try fsync(output, temp)
            close(output)
        } catch {
            close(output)
            unlink(temp)
            throw error
        }
        guard rename(temp, destination) == 0 else {
            let failure = POSIXFailure("rename", destination)
            unlink(temp)
            throw failure
        }
        try fsyncDirectory(folder)
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    /// Names in a folder (not `.`/`..`); empty when it does not exist.
    static func entries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Removes a folder and everything in it.
    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func randomSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }
}

/// Runs blocking work (file I/O, fsync, compression) off the cooperative thread pool, so a slow
/// disk or a large snapshot never starves the server's request handling.
enum Blocking {
    static let queue = DispatchQueue(label: "ats.replica.io", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
