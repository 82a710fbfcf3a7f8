import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Checkpoints for a server without replication: with `wal_autocheckpoint = 0` on every
/// connection, someone must, or the WAL grows forever. PASSIVE when the WAL holds more than
/// `frames` frames (never waits on anyone), TRUNCATE once writes have stopped for a tick
/// (with no busy wait: it gives up at once if a reader or writer is active), so an idle
/// appliance keeps a zero-length WAL.
public final class Checkpointer: Service, Sendable {
    public struct Configuration: Sendable {
        /// How often to look at the WAL.
        public var interval: Duration
        /// Frames in the WAL that make a PASSIVE checkpoint worthwhile.
        public var frames: Int
        /// Truncate the WAL once idle.
        public var truncateWhenIdle: Bool

        public init(interval: Duration = .seconds(5), frames: Int = 1000, truncateWhenIdle: Bool = true) {
            self.interval = interval
            self.frames = frames
            self.truncateWhenIdle = truncateWhenIdle
        }
    }

    /// A checkpoint's answer: SQLite's (busy, log, checkpointed) triple.
    public struct Result: Sendable, Hashable {
        public let busy: Bool
        public let logFrames: Int
        public let checkpointedFrames: Int
    }

    public enum Mode: String, Sendable {
        case passive = "PASSIVE"
        case truncate = "TRUNCATE"
    }

    let pool: DatabasePool
    let walPath: String
    /// True after a failed checkpoint until one succeeds: a full disk fails every tick, and one
    /// warning per episode says it (then one line when it works again).
    let failing = Mutex(false)
    public let configuration: Configuration
    let logger: Logger

    /// Checkpoints the database at `databasePath` through its pool (the store's one pool).
    public init(
        pool: DatabasePool, databasePath: String, configuration: Configuration = .init(),
        logger: Logger = Logger(label: "ats.checkpoint")
    ) {
        self.pool = pool
        self.walPath = databasePath + "-wal"
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastModified: Double?
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: self.configuration.interval)
                } catch {
                    break
                }
                lastModified = await self.tick(lastModified: lastModified)
            }
        }
    }

    /// One look at the WAL; returns its modification time for the next idle test.
    func tick(lastModified: Double?) async -> Double? {
        var info = stat()
        guard stat(walPath, &info) == 0, info.st_size > 0 else { return nil }
        let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        let approximateFrames = Int(max(0, Int64(info.st_size) - 32) / Int64(4096 + 24))
        do {
            if configuration.truncateWhenIdle, lastModified == modified {
                _ = try await checkpoint(.truncate)
                recovered()
                return nil
            }
            if approximateFrames >= configuration.frames {
                _ = try await checkpoint(.passive)
                recovered()
            }
        } catch {
            if !failing.withLock({ failing in defer { failing = true }; return failing }) {
                logger.warning("checkpoint failed; retried every tick, logged again once it works", metadata: ["error": "\(error)"])
            }
        }
        return modified
    }

    func recovered() {
        if failing.withLock({ failing in defer { failing = false }; return failing }) {
            logger.notice("checkpoints work again")
        }
    }

    /// Runs one checkpoint now. TRUNCATE is tried without a busy wait, so app writes never queue behind it.
    @discardableResult
    public func checkpoint(_ mode: Mode) async throws -> Result {
        let pool = pool
        return try await Blocking.run {
            try pool.writeWithoutTransaction { db in
                var previousTimeout: Int?
                if mode == .truncate {
                    previousTimeout = try Int.fetchOne(db, sql: "PRAGMA busy_timeout")
                    try db.execute(sql: "PRAGMA busy_timeout = 0")
                }
                defer {
                    if let previousTimeout { try? db.execute(sql: "PRAGMA busy_timeout = \(previousTimeout)") }
                }
                let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(\(mode.rawValue))")
                return Result(
                    busy: (row?[0] as Int?) ?? 1 != 0, logFrames: row?[1] ?? -1, checkpointedFrames: row?[2] ?? -1)
            }
        }
    }
}
