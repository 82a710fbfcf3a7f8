import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How far a standby is.
public struct StandbyStatus: Sendable, Equatable {
    public var generation: String?
    /// The transaction the local database is at.
    public var txn: Int64
    /// The observed commit time of that transaction on the primary.
    public var txnTime: Date?
    public var lastPollAt: Date?
    public var lastAppliedAt: Date?
    /// Now minus the time of the oldest transaction on the target not applied yet; 0 when caught up.
    public var lagSeconds: Double
    public var lastError: String?
    public var transactionsApplied: Int
    /// The target moved to a new generation: a fresh copy waits in `replica/standby-next`;
    /// the app must restart its store (`StandbyFollower.prepare` swaps it in).
    public var needsReopen: Bool
    public var promoted: Bool

    public init() {
        generation = nil
        txn = 0
        txnTime = nil
        lastPollAt = nil
        lastAppliedAt = nil
        lagSeconds = 0
        lastError = nil
        transactionsApplied = 0
        needsReopen = false
        promoted = false
    }
}

/// What `StandbyFollower.prepare` found or did before the store opens.
public enum StandbyPreparation: Sendable, Equatable {
    /// The local copy is there (generation, txn); follow it.
    case ready(generation: String, txn: Int64)
    /// A full restore was made (first start, or a new generation swapped in).
    case restored(generation: String, txn: Int64)
    /// `ats promote` ran here: this data folder is a primary now, not a standby.
    case promoted
}

/// A warm standby: keeps `DATA/ats.sqlite` restored from a target and applies new segments as
/// they appear, while the app serves reads from the same file through its own pool.
///
/// Each batch is applied inside `pool.barrierWriteWithoutTransaction` (no read runs meanwhile):
/// a TRUNCATE checkpoint first (the local WAL is empty: nothing writes here), then the pages are
/// written through SQLite's own file handle, the file cut to the committed size and synced.
/// Last, the WAL index header is invalidated (`SQLiteFileHandle.invalidateWALIndex`): it still
/// holds the old database size, which readers trust over the file's; SQLite's recovery rebuilds
/// it from the empty WAL, and every connection, the writer included, sees the header change and
/// drops its page cache before its next read. A TRUNCATE alone is not enough (tested). Nothing
/// may write to a standby's database: a non-empty local WAL is divergence, answered by a fresh
/// restore (`needsReopen`).
///
/// Crash safety: `standby.json` gets an fsynced `applying` marker before a batch's first page is
/// written and loses it after the sync. A marker found later means a half-written file: `prepare`
/// restores afresh, `poll` asks for a reopen, `promote` refuses. `poll` and `promote` run one at
/// a time (an async lock: the actor alone would interleave them at awaits).
public actor StandbyFollower: Service {
    /// Where the standby's data is and how often it polls.
    public struct Configuration: Sendable {
        /// The standby's data folder (`DATA`): `ats.sqlite`, `blobs/`, `replica/`.
        public var dataDirectory: String
        /// How often the target is polled.
        public var syncInterval: Duration
        /// Segment bytes applied per batch at most (a long pause catches up in several).
        public var maxBatchBytes: Int
        /// Idle polls between two looks at the whole target for a new generation (each poll
        /// lists only the current generation's segments).
        public var generationCheckPolls: Int

        public init(
            dataDirectory: String, syncInterval: Duration = .seconds(1), maxBatchBytes: Int = 64 << 20,
            generationCheckPolls: Int = 10
        ) {
            self.dataDirectory = dataDirectory
            self.syncInterval = syncInterval
            self.maxBatchBytes = max(1 << 20, maxBatchBytes)
            self.generationCheckPolls = max(1, generationCheckPolls)
        }

        var databasePath: String { dataDirectory + "/ats.sqlite" }
        var blobsDirectory: String { dataDirectory + "/blobs" }
        var stateDirectory: String { dataDirectory + "/replica" }
        var statePath: String { stateDirectory + "/standby.json" }
        var nextDirectory: String { stateDirectory + "/standby-next" }
        var promotedPath: String { stateDirectory + "/promoted" }
    }

    /// What a poll did.
    public enum PollOutcome: Sendable, Equatable {
        case upToDate
        case applied(transactions: Int, txn: Int64)
        /// A new generation: the fresh copy is ready; restart the store.
        case needsReopen
        case promoted
    }

    struct State: Codable, Equatable {
        var target: String
        var generation: String
        var txn: Int64
        var time: Date?
        /// Set (and fsynced) before a batch's pages are written into the database, cleared once
        /// they are synced: found set, the file may be half-written, so only a fresh restore
        /// (never serving it, never promoting it) is safe.
        var applying: Applying?
    }

    struct Applying: Codable, Equatable {
        var from: Int64
        var to: Int64
    }

    /// Set once a batch's first page was written (the file no longer matches `State.txn`).
    final class Touched: Sendable {
        let value = Mutex(false)
    }

    public nonisolated let target: any ReplicaTarget
    public nonisolated let configuration: Configuration
    let pool: DatabasePool
    let logger: Logger
    let onReopen: (@Sendable () -> Void)?
    nonisolated let statusBox = Mutex(StandbyStatus())
    var state: State?
    var stopped = false
    var polls = 0
    // One operation at a time (poll, promote): the actor alone would let them interleave at awaits.
    var operationBusy = false
    var operationWaiters: [CheckedContinuation<Void, Never>] = []
    /// Tests only: runs inside the barrier after the pages were written, before the sync.
    var applyHook: (@Sendable () throws -> Void)?

    func setApplyHook(_ hook: (@Sendable () throws -> Void)?) { applyHook = hook }

    /// Follows `target` into the database behind `pool` (opened on `dataDirectory/ats.sqlite`
    /// after `prepare`). `onReopen` is called once when a new generation needs a store restart.
    public init(
        target: any ReplicaTarget, pool: DatabasePool, configuration: Configuration,
        logger: Logger = Logger(label: "ats.standby"), onReopen: (@Sendable () -> Void)? = nil
    ) {
        self.target = target
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
        self.onReopen = onReopen
    }

    public nonisolated var status: StandbyStatus { statusBox.withLock { $0 } }

    // MARK: Before the store opens

    /// Makes `dataDirectory` hold a usable copy before the store opens it: swaps in a copy a
    /// new generation prepared, or restores the latest state when there is no local database.
    public static func prepare(
        target: any ReplicaTarget, dataDirectory: String, logger: Logger = Logger(label: "ats.standby")
    ) async throws -> StandbyPreparation {
        let result = try await prepareCopy(target: target, dataDirectory: dataDirectory, logger: logger)
        if result != .promoted { try ensureWALHeader(Configuration(dataDirectory: dataDirectory).databasePath) }
        return result
    }

    /// GRDB writes a throwaway transaction when it opens a pool on an empty WAL (its issue
    /// #102); on a standby that write would make the copy differ from the primary's. A WAL
    /// holding just a valid header reads as empty to SQLite and keeps GRDB from writing.
    static func ensureWALHeader(_ databasePath: String) throws {
        let walPath = databasePath + "-wal"
        if (LocalFile.fileSize(walPath) ?? 0) > 0 { return }
        let head = try LocalFile.readPrefix(databasePath, count: 100)
        let pageSize = DatabaseHeader.parse(head)?.pageSize ?? 4096
        try LocalFile.writeAtomically(walPath, bytes: WALHeader.emptyWAL(pageSize: pageSize))
    }

    static func prepareCopy(
        target: any ReplicaTarget, dataDirectory: String, logger: Logger
    ) async throws -> StandbyPreparation {
        let configuration = Configuration(dataDirectory: dataDirectory)
        if LocalFile.exists(configuration.promotedPath) { return .promoted }
        try LocalFile.makeDirectories(configuration.stateDirectory)
        let next = configuration.nextDirectory
        if LocalFile.exists(next + "/ats.sqlite"), let state = loadState(next + "/standby.json") {
            for suffix in ["", "-wal", "-shm"] { LocalFile.remove(configuration.databasePath + suffix) }
            guard rename(next + "/ats.sqlite", configuration.databasePath) == 0 else {
                throw ReplicaError(.unavailable, "cannot move the new copy into place: \(POSIXFailure("rename", next))")
            }
            try saveState(state, configuration.statePath)
            LocalFile.removeTree(next)
            logger.info("standby: new generation in place", metadata: ["generation": "\(state.generation)"])
            return .restored(generation: state.generation, txn: state.txn)
        }
        LocalFile.removeTree(next)
        if LocalFile.exists(configuration.databasePath), let state = loadState(configuration.statePath),
            state.target == target.description
        {
            if let applying = state.applying {
                logger.warning(
                    "standby: a batch was interrupted while its pages were written; restoring a fresh copy",
                    metadata: ["from": "\(applying.from)", "to": "\(applying.to)"])
            } else {
                return .ready(generation: state.generation, txn: state.txn)
            }
        }
        if LocalFile.exists(configuration.databasePath) && !LocalFile.exists(configuration.statePath) {
            // Never replace a database this follower did not make (a primary's data folder).
            throw ReplicaError(
                .invalid,
                "\(configuration.databasePath) exists and is not a standby copy; start a standby in an empty data folder"
            )
        }
        for suffix in ["", "-wal", "-shm"] { LocalFile.remove(configuration.databasePath + suffix) }
        let state = try await restoreLatest(
            target: target, into: configuration.nextDirectory, blobs: configuration.blobsDirectory)
        guard rename(next + "/ats.sqlite", configuration.databasePath) == 0 else {
            throw ReplicaError(
                .unavailable, "cannot move the restored copy into place: \(POSIXFailure("rename", next))")
        }
        try saveState(state, configuration.statePath)
        LocalFile.removeTree(next)
        logger.info("standby: restored", metadata: ["generation": "\(state.generation)", "txn": "\(state.txn)"])
        return .restored(generation: state.generation, txn: state.txn)
    }

    /// Restores the latest state into `folder/ats.sqlite` (blobs into `blobs`), writing `folder/standby.json`.
    static func restoreLatest(target: any ReplicaTarget, into folder: String, blobs: String) async throws -> State {
        LocalFile.removeTree(folder)
        let plan = try await ReplicaRestorer.plan(target: target)
        let download = folder + ".download"
        defer { LocalFile.remove(download) }
        try LocalFile.makeDirectories(folder)
        _ = try await ReplicaRestorer.rebuild(plan, from: target, into: folder + "/ats.sqlite", download: download)
        _ = try await ReplicaRestorer.restoreBlobs(from: target, into: blobs)
        let state = State(target: target.description, generation: plan.generation, txn: plan.txn, time: plan.time)
        try saveState(state, folder + "/standby.json")
        return state
    }

    static func loadState(_ path: String) -> State? {
        guard let bytes = try? LocalFile.readAll(path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try? decoder.decode(State.self, from: Data(bytes))
    }

    static func saveState(_ state: State, _ path: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try LocalFile.writeAtomically(path, bytes: Array(try encoder.encode(state)))
    }

    // MARK: Service

    /// Polls every `syncInterval` until graceful shutdown, a reopen or a promotion.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let outcome = await self.pollReportingErrors()
                if outcome == .needsReopen || outcome == .promoted { break }
                do {
                    try await Task.sleep(for: self.configuration.syncInterval)
                } catch {
                    break
                }
            }
        }
    }

    func pollReportingErrors() async -> PollOutcome? {
        do {
            return try await poll()
        } catch {
            let message = (error as? ReplicaError)?.description ?? "\(error)"
            let previous = statusBox.withLock { $0.lastError }
            if previous != message { logger.error("standby: poll failed", metadata: ["error": "\(message)"]) }
            statusBox.withLock {
                $0.lastError = message
                $0.lastPollAt = Date()
            }
            return nil
        }
    }

    // MARK: Following

    /// Applies what the target holds beyond the local transaction (one batch); the service loop calls it.
    @discardableResult
    public func poll() async throws -> PollOutcome {
        await acquire()
        defer { release() }
        return try await pollLocked()
    }

    func pollLocked() async throws -> PollOutcome {
        if stopped { return statusBox.withLock { $0.promoted } ? .promoted : .needsReopen }
        if state == nil { state = Self.loadState(configuration.statePath) }
        guard let state else {
            throw ReplicaError(
                .invalid, "no standby state in \(configuration.statePath); run StandbyFollower.prepare first")
        }
        if state.applying != nil {
            return try await reopen(reason: "a batch was interrupted while its pages were written")
        }
        polls += 1
        // Only this generation's segments each poll; the whole target (new generations) when
        // nothing new came for a while.
        let segments = try await target.list(prefix: "generations/\(state.generation)/wal/").compactMap { object in
            ReplicaLayout.parseSegment(object.key).map {
                ReplicaSegmentEntry(
                    key: object.key, first: $0.first, last: $0.last, bytes: object.size, modified: object.modified)
            }
        }
        let lastTxn = segments.map(\.last).max() ?? state.txn
        if lastTxn <= state.txn && (polls - 1) % configuration.generationCheckPolls == 0 {
            let generations = try await ReplicaCatalog.list(target, readTimes: false)
            guard let newest = generations.last(where: { !$0.snapshots.isEmpty }) else {
                throw ReplicaError(.notFound, "no snapshot on \(target)")
            }
            if newest.name != state.generation {
                guard newest.name > state.generation else {
                    throw ReplicaError(
                        .invalid, "the target's newest generation \(newest.name) is older than the local copy's")
                }
                return try await reopen(reason: "the primary started generation \(newest.name)")
            }
        }
        // Segments after our transaction, contiguous, up to the batch bound.
        var chosen: [ReplicaSegmentEntry] = []
        var need = state.txn + 1
        var bytes: Int64 = 0
        while let segment = ReplicaRestorer.nextSegment(segments, containing: need) {
            chosen.append(segment)
            need = segment.last + 1
            bytes += segment.bytes
            if bytes >= Int64(configuration.maxBatchBytes) { break }
        }
        if chosen.isEmpty {
            if lastTxn > state.txn {
                // The chain has a hole after us (or retention removed it): only a fresh copy helps.
                return try await reopen(reason: "transaction \(state.txn + 1) is no longer on the target")
            }
            statusBox.withLock {
                $0.generation = state.generation
                $0.txn = state.txn
                $0.lagSeconds = 0
                $0.lastPollAt = Date()
                $0.lastError = nil
            }
            return .upToDate
        }
        // Download and verify everything before touching the database.
        var batch = PageBatch(pageSize: 0)
        var blobNames: [String] = []
        var lastTime: Date?
        var firstUnappliedTime: Date?
        var txn = state.txn
        for segment in chosen {
            let object = try await target.get(segment.key)
            let content = try ReplicaObjectCodec.decode(object, key: segment.key, expectedKind: .segment)
            try ReplicaRestorer.check(
                content.header, key: segment.key, generation: state.generation, first: segment.first, last: segment.last
            )
            if batch.pageSize == 0 { batch = PageBatch(pageSize: content.header.pageSize) }
            let decoded = try SegmentPayload.decode(
                content.payload, pageSize: content.header.pageSize, transactions: content.header.tableCount,
                key: segment.key)
            blobNames += decoded.blobs
            var start = decoded.recordsStart
            for (index, end) in decoded.transactionEnds.enumerated() {
                let t = segment.first + Int64(index)
                defer { start = end }
                if t <= txn { continue }
                if firstUnappliedTime == nil { firstUnappliedTime = content.times[index] }
                try batch.add(records: content.payload[start..<end], key: segment.key)
                txn = t
                lastTime = content.times[index]
            }
        }
        // Files before the rows that name them.
        for name in Set(blobNames) {
            let destination = configuration.blobsDirectory + "/" + name
            if LocalFile.exists(destination) { continue }
            let key = ReplicaLayout.blobKey(name)
            let content = try await target.get(key)
            try ReplicaRestorer.verifyBlob(content, name: (name as NSString).lastPathComponent, key: key)
            try LocalFile.writeAtomically(destination, bytes: content)
        }
        let applied = txn - state.txn
        // Promoted or stopped while downloading: the database stays as it is.
        if stopped { return statusBox.withLock { $0.promoted } ? .promoted : .needsReopen }
        var marked = state
        marked.applying = Applying(from: state.txn, to: txn)
        try Self.saveState(marked, configuration.statePath)
        let touched = Touched()
        let diverged: Bool
        do {
            diverged = try await apply(batch, touched: touched)
        } catch {
            if touched.value.withLock({ $0 }) {
                // Half-written: the marker stays; the next poll (or start) restores afresh.
                self.state = marked
            } else {
                try Self.saveState(state, configuration.statePath)
            }
            throw error
        }
        if diverged {
            try Self.saveState(state, configuration.statePath)
            return try await reopen(reason: "the local database was written to (it is a standby)")
        }
        let newState = State(target: target.description, generation: state.generation, txn: txn, time: lastTime)
        try Self.saveState(newState, configuration.statePath)
        self.state = newState
        let caughtUp = need > lastTxn
        statusBox.withLock {
            $0.generation = newState.generation
            $0.txn = txn
            $0.txnTime = lastTime
            $0.lastPollAt = Date()
            $0.lastAppliedAt = Date()
            $0.lastError = nil
            $0.transactionsApplied += Int(applied)
            $0.lagSeconds = caughtUp ? 0 : max(0, Date().timeIntervalSince(firstUnappliedTime ?? Date()))
        }
        return .applied(transactions: Int(applied), txn: txn)
    }

    /// Writes a batch into the live file under a barrier; true when the local WAL was not empty.
    func apply(_ batch: PageBatch, touched: Touched) async throws -> Bool {
        let pool = pool
        let walPath = configuration.databasePath + "-wal"
        let hook = applyHook
        return try await Blocking.run {
            try pool.barrierWriteWithoutTransaction { db in
                // Anything in the local WAL was written here: divergence.
                let passive = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
                if ((passive?[1] as Int?) ?? 0) > 0 { return true }
                let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                guard ((row?[0] as Int?) ?? 1) == 0 else {
                    throw ReplicaError(.unavailable, "the standby database is busy")
                }
                let handle = try SQLiteFileHandle(db)
                try handle.withWALIndexExclusive {
                    touched.value.withLock { $0 = true }
                    try batch.write(to: handle)
                    try hook?()
                    try handle.sync()
                    // The WAL index still says the old size: have SQLite rebuild it from a WAL
                    // with fresh salts, so the rebuilt header differs from every connection's
                    // copy and each drops its page cache.
                    try Self.resetWAL(walPath, pageSize: batch.pageSize)
                    try handle.invalidateWALIndex()
                }
                _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
                return false
            }
        }
    }

    /// Rewrites the (truncated, unused) WAL in place as `WALHeader.emptyWAL`. In place: SQLite
    /// holds it open. Its own descriptor is safe here: SQLite takes no lock on the WAL file.
    static func resetWAL(_ walPath: String, pageSize: Int) throws {
        let fd = try LocalFile.open(walPath, O_WRONLY | O_CREAT, 0o644)
        defer { close(fd) }
        try WALHeader.emptyWAL(pageSize: pageSize).withUnsafeBytes {
            try LocalFile.pwriteFully(fd, walPath, $0, offset: 0)
        }
        guard ftruncate(fd, off_t(WALHeader.size + 8)) == 0 else { throw POSIXFailure("truncate", walPath) }
        try LocalFile.fsync(fd, walPath)
    }

    /// Prepares a fresh copy of the newest generation in `standby-next` and stops following.
    func reopen(reason: String) async throws -> PollOutcome {
        logger.warning("standby: a fresh copy is needed", metadata: ["reason": "\(reason)"])
        let fresh = try await Self.restoreLatest(
            target: target, into: configuration.nextDirectory, blobs: configuration.blobsDirectory)
        stopped = true
        statusBox.withLock {
            $0.needsReopen = true
            $0.generation = fresh.generation
            $0.lastError = nil
        }
        onReopen?()
        return .needsReopen
    }

    /// Stops following and marks the data folder as a primary (`ats promote`); the app then
    /// restarts as a primary on it.
    public func promote() async throws {
        await acquire()
        defer { release() }
        let current = Self.loadState(configuration.statePath) ?? state
        if let applying = current?.applying ?? state?.applying {
            throw ReplicaError(
                .invalid,
                "cannot promote: applying transactions \(applying.from + 1)...\(applying.to) was interrupted, "
                    + "so the local database may be half-written; restart the standby (it restores a fresh copy) first")
        }
        stopped = true
        let pool = pool
        try await Blocking.run {
            try pool.barrierWriteWithoutTransaction { db in
                _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                try SQLiteFileHandle(db).sync()
            }
        }
        let state = self.state ?? Self.loadState(configuration.statePath)
        let marker =
            "promoted at \(GenerationInfo.format(Date())) from \(target) generation \(state?.generation ?? "-") txn \(state?.txn ?? 0)\n"
        try LocalFile.writeAtomically(configuration.promotedPath, bytes: Array(marker.utf8))
        statusBox.withLock { $0.promoted = true }
        logger.info("standby: promoted", metadata: ["txn": "\(state?.txn ?? 0)"])
    }
}

extension StandbyFollower {
    func acquire() async {
        if !operationBusy {
            operationBusy = true
            return
        }
        await withCheckedContinuation { operationWaiters.append($0) }
    }

    func release() {
        if operationWaiters.isEmpty {
            operationBusy = false
        } else {
            operationWaiters.removeFirst().resume()
        }
    }
}

/// The pages a batch of transactions leaves, equivalent to applying them one by one: the file
/// is first cut to the smallest size any commit reached, then the last version of each page
/// still inside the database is written, then the file is cut to the final size.
struct PageBatch: Sendable {
    var pageSize: Int
    var pages: [UInt32: [UInt8]] = [:]
    var smallest: UInt32?
    var final: UInt32?
    var highest: UInt32 = 0

    init(pageSize: Int) { self.pageSize = pageSize }

    mutating func add(records: ArraySlice<UInt8>, key: String) throws {
        let recordSize = 8 + pageSize
        guard records.count % recordSize == 0 else { throw ReplicaError(.corrupted, "partial frame", key: key) }
        var offset = records.startIndex
        while offset < records.endIndex {
            let pgno = records.readBE32(offset)
            let commit = records.readBE32(offset + 4)
            pages[pgno] = Array(records[(offset + 8)..<(offset + recordSize)])
            highest = max(highest, pgno)
            if commit != 0 {
                if highest > commit {
                    pages = pages.filter { $0.key <= commit }
                    highest = commit
                }
                smallest = min(smallest ?? commit, commit)
                final = commit
            }
            offset += recordSize
        }
    }

    func write(to handle: SQLiteFileHandle) throws {
        guard let final, let smallest else { return }
        let size = Int64(pageSize)
        if try handle.size() > Int64(smallest) * size { try handle.truncate(Int64(smallest) * size) }
        for (pgno, bytes) in pages.sorted(by: { $0.key < $1.key }) {
            try bytes.withUnsafeBytes { try handle.write($0, offset: Int64(pgno - 1) * size) }
        }
        try handle.truncate(Int64(final) * size)
    }
}
