#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Thin, throwing wrappers over the POSIX calls the file store needs. Errors carry the call and
/// errno, never a path's content beyond the store's own layout.
struct POSIXFailure: Error, CustomStringConvertible {
    let call: String
    let code: Int32
    var description: String { "\(call) failed: \(String(cString: strerror(code))) (errno \(code))" }
}

enum POSIX {
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws(POSIXFailure) -> Int32 {
        while true {
            let fd = path.withCString { Glibc.open($0, flags | O_CLOEXEC, mode) }
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw POSIXFailure(call: "open", code: errno)
        }
    }

    /// Opens for reading; nil when the file does not exist.
    static func openIfExists(_ path: String) throws(POSIXFailure) -> Int32? {
        do { return try open(path, O_RDONLY) } catch where error.code == ENOENT { return nil }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(POSIXFailure) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure(call: "write", code: errno)
            }
            offset += written
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(POSIXFailure) {
        if bytes.isEmpty { return }
        var failure: POSIXFailure?
        bytes.withUnsafeBytes { raw in
            do throws(POSIXFailure) { try writeAll(fd, raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads up to `buffer.count` bytes at `offset`, retrying short reads; fewer only at end of file.
    static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(POSIXFailure) -> Int {
        var total = 0
        while total < buffer.count {
            let count = Glibc.pread(fd, buffer.baseAddress! + total, buffer.count - total, off_t(offset) + off_t(total))
            if count < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure(call: "pread", code: errno)
            }
            if count == 0 { break }
            total += count
        }
        return total
    }

    static func fsync(_ fd: Int32) throws(POSIXFailure) {
        while Glibc.fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw POSIXFailure(call: "fsync", code: errno)
        }
    }

    /// fsyncs a directory so a rename or unlink in it survives a power cut.
    static func fsyncDirectory(_ path: String) throws(POSIXFailure) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd)
    }

    static func fstat(_ fd: Int32) throws(POSIXFailure) -> Glibc.stat {
        var info = Glibc.stat()
        guard Glibc.fstat(fd, &info) == 0 else { throw POSIXFailure(call: "fstat", code: errno) }
        return info
    }

    /// nil when the path does not exist.
    static func stat(_ path: String) throws(POSIXFailure) -> Glibc.stat? {
        var info = Glibc.stat()
        let result = path.withCString { fstatat(AT_FDCWD, $0, &info, 0) }
        if result == 0 { return info }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw POSIXFailure(call: "stat", code: errno)
    }

    static func rename(_ from: String, _ to: String) throws(POSIXFailure) {
        let result = from.withCString { source in to.withCString { Glibc.rename(source, $0) } }
        guard result == 0 else { throw POSIXFailure(call: "rename", code: errno) }
    }

    /// Removes a file; false when it did not exist.
    @discardableResult
    static func unlink(_ path: String) throws(POSIXFailure) -> Bool {
        if path.withCString({ Glibc.unlink($0) }) == 0 { return true }
        if errno == ENOENT { return false }
        throw POSIXFailure(call: "unlink", code: errno)
    }

    /// Creates a directory; true when it was created, false when it already existed.
    @discardableResult
    static func mkdir(_ path: String, _ mode: mode_t = 0o755) throws(POSIXFailure) -> Bool {
        if path.withCString({ Glibc.mkdir($0, mode) }) == 0 { return true }
        if errno == EEXIST { return false }
        throw POSIXFailure(call: "mkdir", code: errno)
    }

    /// Sets a file's access and modification times to now.
    static func touch(_ path: String) throws(POSIXFailure) {
        let result = path.withCString { utimensat(AT_FDCWD, $0, nil, 0) }
        guard result == 0 else { throw POSIXFailure(call: "utimensat", code: errno) }
    }

    /// The names in a directory (without "." and ".."); empty when it does not exist.
    static func list(_ path: String) -> [String] {
        guard let directory = path.withCString({ opendir($0) }) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func date(_ time: timespec) -> Date {
        Date(timeIntervalSince1970: Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000)
    }
}

/// A file descriptor closed when the last reference goes away; shared by a `BlobReader` and
/// its iterators, so what was verified is exactly what is served (the inode stays pinned even if
/// the GC unlinks the name meanwhile).
final class FileDescriptor: Sendable {
    let fd: Int32

    init(_ fd: Int32) { self.fd = fd }

    deinit { close(fd) }
}

/// What identifies one version of a file for the verification cache: a rewrite, a touch, a
/// chmod or a byte flipped through the file system changes at least one of these.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let mtimeSeconds: Int
    let mtimeNanoseconds: Int
    let ctimeSeconds: Int
    let ctimeNanoseconds: Int

    init(_ info: Glibc.stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        mtimeSeconds = info.st_mtim.tv_sec
        mtimeNanoseconds = info.st_mtim.tv_nsec
        ctimeSeconds = info.st_ctim.tv_sec
        ctimeNanoseconds = info.st_ctim.tv_nsec
    }
}
