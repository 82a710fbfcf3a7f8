import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A replica target in a folder (a second disk, or a mounted network share). Each object is a
/// file at `root/<key>`, written as a temp file, fsynced, renamed into place and the folder
/// fsynced, so an object is either whole or absent. Temp files start with `.` (never a key).
///
/// Each operation has a deadline (`timeout`, plus one second per MiB transferred, so a large
/// snapshot on a slow but working share is not cut off): a hung mount fails it with
/// `.unavailable` instead of stalling the replicator. The blocked thread cannot be interrupted; while one is still
/// stuck, further operations fail at once (so a dead mount holds one thread, not one per tick).
public final class FileReplicaTarget: ReplicaTarget {
    /// The folder holding the objects.
    public let root: String

    /// How long one operation may take before it fails with `.unavailable` (a hung mount).
    public let timeout: Duration

    /// Uses `root` (created on the first put); each operation fails with `.unavailable` after `timeout`.
    public init(root: String, timeout: Duration = .seconds(30)) {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.timeout = timeout
    }

    /// The stored size (0 when absent: the read then reports it), within the plain deadline.
    func objectSize(_ key: String, _ path: String) async throws -> Int64 {
        try await io("get", key: key) { LocalFile.fileSize(path) ?? 0 }
    }

    /// Operations that timed out and have not returned yet.
    let stuck = Mutex(0)

    /// Runs `body` on the blocking queue with the deadline.
    func io<T: Sendable>(
        _ operation: String, key: String?, bytes: Int64 = 0, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        if stuck.withLock({ $0 }) > 0 {
            throw ReplicaError(
                .unavailable, "\(operation) refused: an earlier operation on \(root) is still hung", key: key)
        }
        let seconds = timeout.seconds + Double(max(0, bytes)) / Double(1 << 20)
        let message = "\(operation) timed out after \(seconds) s (\(root) does not answer)"
        let pending = PendingCall<T>()
        return try await withCheckedThrowingContinuation { continuation in
            pending.start(continuation)
            Blocking.queue.async {
                let result = Result { try body() }
                if pending.finish(result) == false {
                    // It had timed out: the target answers again.
                    self.stuck.withLock { $0 -= 1 }
                }
            }
            Blocking.queue.asyncAfter(deadline: .now() + seconds) {
                if pending.finish(.failure(ReplicaError(.unavailable, message, key: key))) {
                    self.stuck.withLock { $0 += 1 }
                }
            }
        }
    }

    public var description: String { "file:\(root)" }

    func path(_ key: String) -> String { root + "/" + key }

    public func put(_ key: String, bytes: [UInt8]) async throws {
        try ReplicaKey.check(key)
        let path = path(key)
        try await io("put", key: key, bytes: Int64(bytes.count)) {
            do {
                try LocalFile.writeAtomically(path, bytes: bytes)
            } catch {
                throw Self.mapped(error, key: key, operation: "put")
            }
        }
    }

    public func put(_ key: String, contentsOf file: String) async throws {
        try ReplicaKey.check(key)
        let path = path(key)
        guard LocalFile.exists(file) else { throw ReplicaError(.invalid, "no file to put at \(file)", key: key) }
        try await io("put", key: key, bytes: LocalFile.fileSize(file) ?? 0) {
            do {
                try LocalFile.copyAtomically(from: file, to: path)
            } catch {
                throw Self.mapped(error, key: key, operation: "put")
            }
        }
    }

    public func get(_ key: String) async throws -> [UInt8] {
        try ReplicaKey.check(key)
        let path = path(key)
        let size = try await objectSize(key, path)
        return try await io("get", key: key, bytes: size) {
            do {
                return try LocalFile.readAll(path)
            } catch {
                throw Self.mapped(error, key: key, operation: "get")
            }
        }
    }

    public func get(_ key: String, range: Range<Int64>) async throws -> [UInt8] {
        try ReplicaKey.check(key)
        let path = path(key)
        return try await io("get", key: key, bytes: max(0, range.upperBound - range.lowerBound)) {
            do {
                let fd = try LocalFile.open(path, O_RDONLY)
                defer { close(fd) }
                let lower = max(0, range.lowerBound)
                let count = Int(max(0, range.upperBound - lower))
                return try LocalFile.pread(fd, path, count: count, offset: lower)
            } catch {
                throw Self.mapped(error, key: key, operation: "get")
            }
        }
    }

    public func get(_ key: String, toFile file: String) async throws {
        try ReplicaKey.check(key)
        let path = path(key)
        let size = try await objectSize(key, path)
        try await io("get", key: key, bytes: size) {
            guard LocalFile.exists(path) else { throw ReplicaError(.notFound, "no such object", key: key) }
            do {
                try LocalFile.copyAtomically(from: path, to: file)
            } catch let failure as POSIXFailure where failure.path == path {
                throw Self.mapped(failure, key: key, operation: "get")
            } catch {
                throw ReplicaError(.unavailable, "cannot write the local copy: \(error)", key: key)
            }
        }
    }

    public func list(prefix: String) async throws -> [ReplicaObject] {
        guard ReplicaKey.isValidPrefix(prefix) else {
            throw ReplicaError(.invalid, "invalid list prefix", key: String(prefix.prefix(200)))
        }
        let root = root
        return try await io("list", key: nil) {
            // Walk only the folder the prefix fully names.
            let folderPart = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
            let start = folderPart.isEmpty ? root : root + "/" + folderPart
            var result: [ReplicaObject] = []
            if !LocalFile.exists(root) { return [] }
            guard LocalFile.isDirectory(root) else {
                throw ReplicaError(.unavailable, "the target root is not a folder: \(root)")
            }
            func walk(_ folder: String, _ keyPrefix: String) throws {
                guard let dir = opendir(folder) else {
                    if errno == ENOENT || errno == ENOTDIR { return }
                    throw Self.mapped(POSIXFailure("opendir", folder), key: nil, operation: "list")
                }
                defer { closedir(dir) }
                var names: [String] = []
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                    }
                    if name.hasPrefix(".") { continue }
                    names.append(name)
                }
                for name in names {
                    let key = keyPrefix.isEmpty ? name : keyPrefix + "/" + name
                    let path = folder + "/" + name
                    var info = stat()
                    guard stat(path, &info) == 0 else { continue }
                    if (info.st_mode & S_IFMT) == S_IFDIR {
                        // Descend only where keys can still match the prefix.
                        if prefix.hasPrefix(key + "/") || (key + "/").hasPrefix(prefix) || key.hasPrefix(prefix) {
                            try walk(path, key)
                        }
                    } else if (info.st_mode & S_IFMT) == S_IFREG, key.hasPrefix(prefix), ReplicaKey.isValid(key) {
                        let modified = Date(
                            timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
                        result.append(ReplicaObject(key: key, size: Int64(info.st_size), modified: modified))
                    }
                }
            }
            try walk(start, folderPart)
            result.sort { $0.key < $1.key }
            return result
        }
    }

    public func delete(_ key: String) async throws {
        try ReplicaKey.check(key)
        let root = root
        let path = path(key)
        try await io("delete", key: key) {
            if unlink(path) != 0 && errno != ENOENT {
                throw Self.mapped(POSIXFailure("unlink", path), key: key, operation: "delete")
            }
            // Tidy emptied folders up to the root (a folder still in use is not empty: rmdir fails).
            var folder = (path as NSString).deletingLastPathComponent
            while folder.count > root.count && folder.hasPrefix(root + "/") {
                if rmdir(folder) != 0 { break }
                folder = (folder as NSString).deletingLastPathComponent
            }
        }
    }

    static func mapped(_ error: any Error, key: String?, operation: String) -> ReplicaError {
        if let error = error as? ReplicaError { return error }
        if let failure = error as? POSIXFailure {
            if failure.isNotFound && operation != "put" { return ReplicaError(.notFound, "no such object", key: key) }
            return ReplicaError(.unavailable, "\(operation) failed: \(failure)", key: key)
        }
        return ReplicaError(.unavailable, "\(operation) failed: \(error)", key: key)
    }
}

/// A continuation resumed exactly once: by the call's result or by its deadline.
final class PendingCall<T: Sendable>: Sendable {
    let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    /// Resumes with `result` if nothing did yet; false when it was already resumed.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let taken = continuation.withLock { $0.take() }
        guard let taken else { return false }
        taken.resume(with: result)
        return true
    }
}
