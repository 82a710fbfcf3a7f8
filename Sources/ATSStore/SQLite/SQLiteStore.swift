import ATSDomain
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// The embedded store: one SQLite file in WAL mode behind one GRDB `DatabasePool`, so a single
/// writer and a pool of readers serve the whole process (the read/write split of a scaled stack).
public final class SQLiteStore: Store {
    /// How the pool is opened.
    public struct Configuration: Sendable {
        /// Concurrent reader connections; writes always go through the one writer.
        public var readers: Int
        /// How long a connection waits on a lock held by another process before `.unavailable`.
        public var busyTimeout: Duration
        /// Opens the file read-only (a replica, an inspection); every write answers `.unavailable`.
        public var readOnly: Bool
        /// Bumps the change mark in every write transaction: set by processes that write beside
        /// a running server (`ats worker`, the CLI), whose cache watches the mark (`changeMark()`).
        public var marksWrites: Bool

        public init(readers: Int = 8, busyTimeout: Duration = .seconds(5), readOnly: Bool = false, marksWrites: Bool = false) {
            self.readers = max(1, readers)
            self.busyTimeout = busyTimeout
            self.readOnly = readOnly
            self.marksWrites = marksWrites
        }
    }

    /// Counters behind `figures`; one lock, held for a few instructions.
    struct Counters {
        var readsInFlight = 0
        var writesInFlight = 0
        var reads = 0
        var writes = 0
        var readWait: Duration = .zero
        var writeWait: Duration = .zero
    }

    public let path: String
    public let configuration: Configuration
    /// The one pool on the file. Public for the tiers that live in the same database (the job
    /// queue enqueues in the store's transactions); nothing else opens the file.
    public let pool: DatabasePool
    let logger: Logger
    let counters = Mutex(Counters())
    let migrator = SQLiteStore.makeMigrator()
    let writeHook = Mutex<(@Sendable (Database) throws -> Void)?>(nil)
    /// Told of every write that failed for lack of space (the server's storage monitor).
    let storageFullHook = Mutex<(@Sendable () -> Void)?>(nil)

    public init(path: String, configuration: Configuration = .init(), logger: Logger) throws {
        self.path = path
        self.configuration = configuration
        self.logger = logger
        var config = GRDB.Configuration()
        config.label = "ats-store"
        config.foreignKeysEnabled = true
        config.readonly = configuration.readOnly
        config.maximumReaderCount = configuration.readers
        config.journalMode = .wal
        let timeout = configuration.busyTimeout.components
        config.busyMode = .timeout(Double(timeout.seconds) + Double(timeout.attoseconds) / 1e18)
        // Privacy: SQL arguments (names, emails) stay out of error descriptions and logs.
        config.publicStatementArguments = false
        let readOnly = configuration.readOnly
        config.prepareDatabase { db in
            // WAL makes NORMAL durable against application crashes; only a power loss can drop
            // the last transactions, which the replica shipping covers.
            if !readOnly {
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            // Checkpoints belong to the server (the replicator ships every WAL frame before it may
            // be checkpointed away; without a replica a plain checkpointer runs), in every process.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw Self.storeError(error)
        }
    }

    // MARK: Migrations

    /// Applies every pending migration; safe to call on each start.
    public func migrate() throws {
        do {
            try migrator.migrate(pool)
        } catch {
            throw Self.storeError(error)
        }
    }

    /// The names of every migration this build knows, in order.
    public static var migrationNames: [String] { makeMigrator().migrations }

    /// Migrations this build knows that the file lacks.
    public func pendingMigrations() throws -> [String] {
        do {
            let applied = try pool.read { db in try migrator.appliedIdentifiers(db) }
            return migrator.migrations.filter { !applied.contains($0) }
        } catch {
            throw Self.storeError(error)
        }
    }

    public func readiness() async -> StoreReadiness {
        do {
            let migrator = self.migrator
            let applied = try await read { db in try migrator.appliedIdentifiers(db) }
            let pending = migrator.migrations.filter { !applied.contains($0) }
            return StoreReadiness(
                reachable: true, pendingMigrations: pending,
                detail: pending.isEmpty ? nil : "\(pending.count) migration(s) pending")
        } catch {
            return StoreReadiness(
                reachable: false, pendingMigrations: [], detail: (error as? StoreError)?.message ?? "unreachable")
        }
    }

    static func lastAuditSequence(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM audit_log")) ?? 0
    }

    /// Runs `hook` at the end of every write transaction, inside it (a tier that follows the
    /// store enqueues its work there, so the work commits with the write or not at all).
    public func setWriteHook(_ hook: (@Sendable (Database) throws -> Void)?) {
        writeHook.withLock { $0 = hook }
    }

    /// The count of write transactions made by marking processes (`Configuration.marksWrites`);
    /// it changes exactly when another process wrote. Nil before the migration that adds it.
    public func changeMark() async throws -> Int64? {
        try await quickRead { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM change_mark WHERE id = 1"))
        }
    }

    // MARK: Figures

    public var figures: StoreFigures {
        counters.withLock { c in
            StoreFigures(
                readers: configuration.readers, readsInFlight: c.readsInFlight, writesInFlight: c.writesInFlight,
                reads: c.reads, writes: c.writes, readWaitSeconds: c.readWait.seconds,
                writeWaitSeconds: c.writeWait.seconds)
        }
    }

    // MARK: Access

    enum Access { case read, write }

    /// Counts an access in flight; returns when it began, for `started`.
    func enter(_ access: Access) -> ContinuousClock.Instant {
        counters.withLock {
            switch access {
            case .read: $0.readsInFlight += 1
            case .write: $0.writesInFlight += 1
            }
        }
        return .now
    }

    func leave(_ access: Access) {
        counters.withLock {
            switch access {
            case .read: $0.readsInFlight -= 1
            case .write: $0.writesInFlight -= 1
            }
        }
    }

    /// Records that the access got its connection: the time waited for it is the pool's queue.
    func started(_ access: Access, since start: ContinuousClock.Instant) {
        let waited = start.duration(to: .now)
        counters.withLock {
            switch access {
            case .read:
                $0.reads += 1
                $0.readWait += waited
            case .write:
                $0.writes += 1
                $0.writeWait += waited
            }
        }
    }

    /// A read on the reader pool: counted, timed until the closure starts, errors mapped.
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        let start = enter(.read)
        defer { leave(.read) }
        do {
            return try await pool.read { db in
                self.started(.read, since: start)
                return try body(db)
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// A read of one statement (a row by key, one page of a list). `read` wraps the statement
    /// in a transaction, which costs more than such a query; one SELECT is consistent on its
    /// own in WAL mode, so `unsafeRead` runs it bare. (It stays async: a synchronous GRDB read
    /// on the cooperative pool can starve the pool's own release of readers and deadlock.)
    func quickRead<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let start = enter(.read)
        defer { leave(.read) }
        do {
            return try await pool.unsafeRead { db in
                self.started(.read, since: start)
                return try body(db)
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// A transaction on the writer: counted, timed until the closure starts, errors mapped.
    func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        if configuration.readOnly { throw StoreError(.unavailable, "the store is open read-only") }
        let start = enter(.write)
        defer { leave(.write) }
        let marks = configuration.marksWrites
        let hook = writeHook.withLock { $0 }
        do {
            return try await pool.write { db in
                self.started(.write, since: start)
                let before = marks ? try Self.lastAuditSequence(db) : 0
                let result = try body(db)
                // Only writes that changed entities (they leave audit entries) tell the server's
                // cache to forget: a session cleanup or an analytics snapshot does not.
                if marks, try Self.lastAuditSequence(db) != before {
                    try db.cachedStatement(sql: "UPDATE change_mark SET seq = seq + 1 WHERE id = 1").execute()
                }
                try hook?(db)
                return result
            }
        } catch {
            throw writeError(error)
        }
    }

    /// Calls `hook` after each write that failed because the disk or quota is full.
    public func onStorageFull(_ hook: @escaping @Sendable () -> Void) {
        storageFullHook.withLock { $0 = hook }
    }

    /// `storeError`, refined with the file's volume: SQLite reports ENOSPC on its data writes as
    /// SQLITE_FULL, but on a few paths (growing the shared-memory index, a truncate) as a plain
    /// I/O error; with the volume (nearly) out of space that error is the full disk too.
    func writeError(_ error: any Error) -> any Error {
        var mapped = Self.storeError(error)
        if let database = error as? DatabaseError, database.resultCode == .SQLITE_IOERR,
            let free = Self.freeBytes(onVolumeOf: path), free < Self.fullVolumeBytes
        {
            mapped = StoreError(.storageFull, "the disk is full")
        }
        if let store = mapped as? StoreError, store.code == .storageFull {
            storageFullHook.withLock { $0 }?()
        }
        return mapped
    }

    /// Below this many free bytes a volume counts as full (a few of SQLite's pages).
    static let fullVolumeBytes: UInt64 = 256 * 1024

    /// Bytes an unprivileged writer may still use on the volume holding `path`; nil when unknown.
    static func freeBytes(onVolumeOf path: String) -> UInt64? {
        var info = statvfs()
        let folder = (path as NSString).deletingLastPathComponent
        guard statvfs(folder.isEmpty ? "." : folder, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// Maps native errors into `StoreError`; the store's own errors and the caller's (a
    /// `ValidationError` thrown by an update's `change`) pass through unchanged.
    static func storeError(_ error: any Error) -> any Error {
        if error is StoreError || error is ValidationError || error is CancellationError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_CONSTRAINT:
                switch error.extendedResultCode {
                case .SQLITE_CONSTRAINT_FOREIGNKEY:
                    return StoreError(.conflict, "the row is referenced by, or references, a row that does not allow it")
                case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
                    return StoreError(.conflict, "a row with the same unique value already exists")
                default:
                    return StoreError(.conflict, "the write breaks an integrity rule")
                }
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return StoreError(.unavailable, "the database is busy")
            case .SQLITE_READONLY:
                return StoreError(.unavailable, "the database is read-only")
            case .SQLITE_FULL:
                // ENOSPC, EDQUOT, or `max_page_count` reached: the transaction was rolled back.
                return StoreError(.storageFull, "the disk is full")
            case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_PROTOCOL, .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return StoreError(.unavailable, "the database cannot be reached (\(error.resultCode.rawValue))")
            case .SQLITE_MISUSE:
                return StoreError(.unavailable, "the database is closed")
            default:
                return StoreError(.unavailable, "database error \(error.extendedResultCode.rawValue)")
            }
        }
        if String(reflecting: type(of: error)).hasPrefix("GRDB.") {
            return StoreError(.unavailable, "database error")
        }
        return error
    }
}

extension SQLiteStore: Service {
    /// Holds the pool open until graceful shutdown, then closes it; the HTTP server, started
    /// after the store in the service group, has stopped by then.
    public func run() async throws {
        try? await gracefulShutdown()
        do {
            try pool.close()
        } catch {
            logger.warning("closing the store failed", metadata: ["error": "\(Self.storeError(error))"])
        }
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

// MARK: Shared helpers

enum StoreClock {
    /// Now, canonical: the one format every stored time uses, so text order is time order.
    static func now() -> String { Timestamp.format(Date()) }
}

extension String {
    /// The user id of an actor named `user:<id>`; nil for keys and the system.
    var actorUserID: String? {
        guard hasPrefix("user:") else { return nil }
        return Identifier.canonical(dropFirst(5))
    }
}
