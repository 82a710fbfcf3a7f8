import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The local control channel between the commands `ats snapshot`, `ats verify`, `ats promote`
/// and the server that owns the data folder's checkpoints (only it may snapshot, since only it
/// knows what has been shipped). No network and no credentials: whoever may write the data
/// folder may ask.
///
/// - `DATA/replica/server.lock`: every server holds an open-file-description lock on it for its
///   whole life, exclusive when it replicates or follows a replica (one such server per folder;
///   its pid is written in the file), shared otherwise (several plain servers may share a
///   folder, e.g. the benchmarks). The lock goes away with the process, even after `kill -9`.
/// - `DATA/replica/control/<id>.request`: a command (JSON `{"command": ...}`) written by the
///   CLI; the server answers with `<id>.answer` (JSON `{"ok": ..., "message": ...}`) and
///   removes the request. Both are written to a temporary name, then renamed.
public struct ReplicaControl: Sendable {
    /// What the CLI can ask the server for.
    public enum Command: String, Codable, Sendable { case snapshot, verify, promote }

    /// The server's answer: printed by the CLI, `ok` is its exit status.
    public struct Answer: Codable, Sendable {
        public var ok: Bool
        public var message: String

        public init(ok: Bool, message: String) {
            self.ok = ok
            self.message = message
        }
    }

    /// Who holds the data folder's server lock.
    public enum Holder: Sendable, Equatable {
        case none
        /// A server that replicates or follows a replica: it answers control requests.
        case owner(pid: Int32)
        /// Servers without replication: they checkpoint, nobody answers.
        case plain
    }

    public let directory: String

    public init(dataDirectory: String) {
        directory = (dataDirectory as NSString).appendingPathComponent("replica")
    }

    var lockPath: String { (directory as NSString).appendingPathComponent("server.lock") }
    var requestsDirectory: String { (directory as NSString).appendingPathComponent("control") }

    /// Takes the server lock, exclusive for an owner (replicating, standby, one-shot CLI
    /// snapshot), shared for a plain server. Throws naming the holder when it is taken.
    public func lock(exclusive: Bool) throws -> ReplicaControlLock {
        try FileManager.default.createDirectory(atPath: requestsDirectory, withIntermediateDirectories: true)
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ReplicaControlError("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        var request = flock()
        request.l_type = Int16(exclusive ? F_WRLCK : F_RDLCK)
        request.l_whence = Int16(SEEK_SET)
        if fcntl(fd, Self.ofdSetLock, &request) != 0 {
            close(fd)
            switch holder() {
            case .owner(let pid):
                throw ReplicaControlError(
                    "another server (pid \(pid)) replicates or follows a replica in this data folder; only one may")
            case .plain:
                throw ReplicaControlError(
                    "a server without replication runs on this data folder; stop it first (a replicating server must be the only one)")
            case .none:
                throw ReplicaControlError("cannot lock \(lockPath)")
            }
        }
        if exclusive {
            // The owner's pid, for the messages of the commands that talk to it.
            let text = Array("\(getpid())\n".utf8)
            _ = ftruncate(fd, 0)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        return ReplicaControlLock(fd: fd)
    }

    /// The holder of the server lock (from another process's point of view).
    public func holder() -> Holder {
        let fd = open(lockPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .none }
        defer { close(fd) }
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, Self.ofdGetLock, &probe) == 0, probe.l_type != Int16(F_UNLCK) else { return .none }
        guard probe.l_type == Int16(F_WRLCK) else { return .plain }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        let pid = Int32(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return .owner(pid: pid)
    }

    // Open-file-description locks (Linux): unlike classic POSIX record locks, closing another
    // descriptor of the same file in the same process does not drop them. Values from fcntl.h.
    static let ofdGetLock: Int32 = 36
    static let ofdSetLock: Int32 = 37

    /// Sends `command` to the owning server and waits for its answer.
    public func send(_ command: Command, timeout: Duration, progress: @Sendable (String) -> Void = { _ in }) async throws -> Answer {
        guard case .owner(let pid) = holder() else {
            throw ReplicaControlError("no server replicating or following a replica runs on this data folder")
        }
        try FileManager.default.createDirectory(atPath: requestsDirectory, withIntermediateDirectories: true)
        let id = "\(Int(Date().timeIntervalSince1970 * 1000))-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let request = (requestsDirectory as NSString).appendingPathComponent("\(id).request")
        let answer = (requestsDirectory as NSString).appendingPathComponent("\(id).answer")
        let body = try JSONEncoder().encode(["command": command.rawValue])
        try Self.writeAtomically(body, to: request)
        progress("asked the server (pid \(pid)) to \(command.rawValue); waiting for its answer")
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let data = FileManager.default.contents(atPath: answer) {
                try? FileManager.default.removeItem(atPath: answer)
                return try JSONDecoder().decode(Answer.self, from: data)
            }
            if holder() == .none {
                try? FileManager.default.removeItem(atPath: request)
                throw ReplicaControlError("the server (pid \(pid)) stopped before it answered")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try? FileManager.default.removeItem(atPath: request)
        throw ReplicaControlError("no answer from the server (pid \(pid)) within \(timeout.components.seconds) s")
    }

    /// Pending requests, oldest first (the server's side).
    func pendingRequests() -> [(id: String, command: Command?)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: requestsDirectory)) ?? []
        return names.filter { $0.hasSuffix(".request") }.sorted().map { name in
            let id = String(name.dropLast(".request".count))
            let path = (requestsDirectory as NSString).appendingPathComponent(name)
            let command = FileManager.default.contents(atPath: path)
                .flatMap { try? JSONDecoder().decode([String: String].self, from: $0) }
                .flatMap { $0["command"] }
                .flatMap(Command.init(rawValue:))
            return (id, command)
        }
    }

    /// Writes the answer to request `id` and removes the request.
    func answer(_ id: String, _ answer: Answer) {
        let path = (requestsDirectory as NSString).appendingPathComponent("\(id).answer")
        if let data = try? JSONEncoder().encode(answer) { try? Self.writeAtomically(data, to: path) }
        try? FileManager.default.removeItem(atPath: (requestsDirectory as NSString).appendingPathComponent("\(id).request"))
    }

    /// Removes answers nobody collected (a CLI that gave up) and requests older than an hour.
    func sweep() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: requestsDirectory)) ?? []
        for name in names {
            let path = (requestsDirectory as NSString).appendingPathComponent(name)
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date()
            if Date().timeIntervalSince(modified) > 3600 { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    static func writeAtomically(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            throw ReplicaControlError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// The held server lock; released when this object goes or the process ends.
public final class ReplicaControlLock: Sendable {
    let fd: Int32

    init(fd: Int32) {
        self.fd = fd
    }

    deinit { close(fd) }
}

public struct ReplicaControlError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Answers control requests, one at a time, polling the request folder every 200 ms until
/// graceful shutdown. `handle` runs the command (the replicator's snapshot, the verifier ...).
struct ReplicaControlService: Service {
    let control: ReplicaControl
    let logger: Logger
    let handle: @Sendable (ReplicaControl.Command) async -> ReplicaControl.Answer

    func run() async throws {
        control.sweep()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            for (id, command) in control.pendingRequests() {
                guard let command else {
                    control.answer(id, .init(ok: false, message: "unknown command"))
                    continue
                }
                logger.info("replica control request", metadata: ["command": "\(command.rawValue)"])
                control.answer(id, await handle(command))
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(200)) }
        }
    }
}
