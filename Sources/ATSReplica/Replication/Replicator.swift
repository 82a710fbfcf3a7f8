import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Continuous replication of the store's database (and its blob files) to a `ReplicaTarget`:
/// WAL shipping every `syncInterval`, periodic snapshots, retention. A `Service` the server
/// runs after the store (so it stops before the store closes its pool: the final sync ships
/// the last transactions).
///
/// Contract with the rest of the process (and every other process on the file): every
/// connection runs `PRAGMA wal_autocheckpoint = 0`, and nothing but this replicator
/// checkpoints, so no WAL frame is copied into the database and then overwritten before it was
/// read. Its checkpoints are PASSIVE (never wait on readers or writers) and run inside
/// `writeWithoutTransaction`, which holds this process's writes only for the checkpoint itself.
///
/// A failing target never blocks or fails the application's writes: read transactions wait in
/// memory (up to `maxPendingBytes`), checkpoints continue, the failure is logged once per
/// change of state and reported in `status`; past the bound the pending transactions are
/// dropped and a new generation (with a snapshot) starts once the target is back.
public actor Replicator: Service {
    /// Where the data is and how often things happen.
    public struct Configuration: Sendable {
        /// The live database (`DATA/ats.sqlite`); its WAL is this path + `-wal`.
        public var databasePath: String
        /// The blob root (`DATA/blobs`) whose files are copied before the segments naming them; nil: no files.
        public var blobsDirectory: String?
        /// The replicator's own files (`DATA/replica`): `position.json`, temporary snapshots.
        public var stateDirectory: String
        /// How often new transactions are shipped (the most work a lost machine can lose).
        public var syncInterval: Duration
        /// How often a new snapshot is taken (restores apply fewer segments).
        public var snapshotInterval: Duration
        /// How long segments are kept (point-in-time restore window).
        public var segmentRetention: Duration
        /// How long snapshots are kept.
        public var snapshotRetention: Duration
        /// Snapshots always kept whatever their age (retention by count).
        public var minimumSnapshots: Int
        /// How often the service enforces retention by itself.
        public var retentionInterval: Duration
        /// Checkpoint once the WAL holds this many frames...
        public var checkpointFrames: Int
        /// ...or after this many syncs with anything in the WAL.
        public var checkpointEverySyncs: Int
        /// Transactions kept in memory while the target fails, before giving up on the chain.
        public var maxPendingBytes: Int
        /// Uncompressed bytes per segment at most (a long outage ships as several segments).
        public var maxSegmentBytes: Int

        public init(
            databasePath: String, blobsDirectory: String? = nil, stateDirectory: String? = nil,
            syncInterval: Duration = .seconds(1), snapshotInterval: Duration = .seconds(3600),
            segmentRetention: Duration = .seconds(24 * 3600), snapshotRetention: Duration = .seconds(7 * 24 * 3600),
            minimumSnapshots: Int = 2, retentionInterval: Duration = .seconds(600), checkpointFrames: Int = 1000,
            checkpointEverySyncs: Int = 10, maxPendingBytes: Int = 256 << 20, maxSegmentBytes: Int = 16 << 20
        ) {
            self.databasePath = databasePath
            self.blobsDirectory = blobsDirectory
            self.stateDirectory =
                stateDirectory ?? ((databasePath as NSString).deletingLastPathComponent + "/replica")
            self.syncInterval = syncInterval
            self.snapshotInterval = snapshotInterval
            self.segmentRetention = segmentRetention
            self.snapshotRetention = snapshotRetention
            self.minimumSnapshots = max(1, minimumSnapshots)
            self.retentionInterval = retentionInterval
            self.checkpointFrames = max(1, checkpointFrames)
            self.checkpointEverySyncs = max(1, checkpointEverySyncs)
            self.maxPendingBytes = maxPendingBytes
            self.maxSegmentBytes = max(1 << 16, maxSegmentBytes)
        }

        /// The appliance layout: `DATA/ats.sqlite`, `DATA/blobs`, `DATA/replica`.
        public init(dataDirectory: String) {
            self.init(
                databasePath: dataDirectory + "/ats.sqlite", blobsDirectory: dataDirectory + "/blobs",
                stateDirectory: dataDirectory + "/replica")
        }

        var walPath: String { databasePath + "-wal" }
        var positionPath: String { stateDirectory + "/position.json" }
        var temporaryDirectory: String { stateDirectory + "/tmp" }
    }

    struct PendingTransaction {
        var txn: Int64
        var transaction: WALTransaction
    }

    struct StatusState {
        var status = ReplicaStatus()
        /// Observed time of the oldest commit not on the target (lag's origin).
        var oldestUnshipped: Date?
        /// When the WAL was last read to its end successfully: commits after it are unread, so
        /// an operation holding the replicator (a snapshot, a verify, a generation start, a
        /// hung target) shows as lag instead of 0.
        var lastReadAt: Date?
    }

    let pool: DatabasePool
    /// Where replicas go.
    public nonisolated let target: any ReplicaTarget
    public nonisolated let configuration: Configuration
    let logger: Logger
    nonisolated let statusBox = Mutex(StatusState())

    // One operation at a time (sync, snapshot, retention, verify): the actor alone would let
    // them interleave at every await.
    var operationBusy = false
    var operationWaiters: [CheckedContinuation<Void, Never>] = []

    // The chain.
    var prepared = false
    var generation: String?
    var pageSize = 4096
    var tail = TailState()
    var nextTxn: Int64 = 1
    var shippedTxn: Int64 = 0
    var shippedCursor: WALCursor?
    var lastTxnTime = Date()
    var pending: [PendingTransaction] = []
    var pendingBytes = 0
    /// Set when the chain broke and no generation runs: the state since then is not on the target.
    var unshippedSince: Date?

    // Blobs.
    var journalOffset: Int64 = 0
    var needsBlobScan = true
    var blobsToAnnounce: [String] = []

    // Schedules and health.
    var syncsSinceCheckpoint = 0
    var lastSnapshotAt: Date?
    var newestSnapshotTxn: Int64?
    /// Snapshots being compressed and put outside the operation lock.
    var snapshotsUploading = 0
    var lastRetention: ContinuousClock.Instant?
    var targetFailing = false
    /// What failed last (logged once until it changes or succeeds).
    var lastFailure: String?
    var generationRetryAt: ContinuousClock.Instant?
    var generationFailures = 0
    var stopped = false

    /// Replicates the database behind `pool` (the store's one pool) to `target`.
    public init(
        pool: DatabasePool, target: any ReplicaTarget, configuration: Configuration,
        logger: Logger = Logger(label: "ats.replica")
    ) {
        self.pool = pool
        self.target = target
        self.configuration = configuration
        self.logger = logger
    }

    /// The replication state now (lag computed at the call).
    public nonisolated var status: ReplicaStatus {
        let staleAfter = max(1, 2 * configuration.syncInterval.seconds)
        return statusBox.withLock { state in
            var status = state.status
            let now = Date()
            var lag = 0.0
            if let oldest = state.oldestUnshipped { lag = max(0, now.timeIntervalSince(oldest)) }
            // Unread commits may be as old as the last read: past two sync intervals (at least
            // 1 s) without one, that age is the lag (an upper bound) even with nothing pending.
            if let read = state.lastReadAt {
                let stale = now.timeIntervalSince(read)
                if stale > staleAfter { lag = max(lag, stale) }
            }
            status.lagSeconds = lag
            return status
        }
    }

    /// Records a successful read of the WAL to its end, taken at `time`.
    func noteRead(at time: Date) {
        statusBox.withLock { $0.lastReadAt = time }
    }

    // MARK: Service

    /// Syncs every `syncInterval` until graceful shutdown, then ships what is left and stops.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            // A fixed rate, not a pause after each sync: a commit waits at most one interval
            // (plus its own shipping) to reach the target, so the loss window is the interval.
            let clock = ContinuousClock()
            var next = clock.now
            while !Task.isCancelled {
                await self.tick()
                next = next.advanced(by: self.configuration.syncInterval)
                // A sync longer than the interval starts the next one at once, without a backlog.
                if next < clock.now { next = clock.now }
                do {
                    try await Task.sleep(until: next, clock: clock)
                } catch {
                    break
                }
            }
        }
        await finalSync()
    }

    /// One round of the service loop: sync, and the checkpoint, snapshot and retention when due.
    func tick() async {
        await exclusively {
            await self.syncLocked(scheduled: true)
        }
    }

    /// Ships everything committed so far and stops further work (the store closes next).
    public func finalSync() async {
        await exclusively {
            guard !self.stopped else { return }
            await self.syncLocked(scheduled: false)
            await self.cleanStop()
            if !self.pending.isEmpty {
                self.logger.warning(
                    "replica: stopping with transactions not shipped",
                    metadata: ["pending": "\(self.pending.count)", "target": "\(self.target)"])
            }
            self.stopped = true
        }
    }

    // MARK: Public operations

    /// Reads and ships what is committed now; true when the target holds everything read.
    @discardableResult
    public func sync() async -> Bool {
        await exclusively {
            await self.syncLocked(scheduled: false)
            return self.generation != nil && self.pending.isEmpty && !self.targetFailing
        }
    }

    /// Takes a snapshot now (`ats snapshot`); starts a generation if none runs. Syncs continue
    /// while it is compressed and put.
    @discardableResult
    public func snapshotNow() async throws -> SnapshotInfo {
        // A busy server can restart its WAL while the image is read (after a full checkpoint):
        // the read notices and stops, and the next attempt syncs past the restart first.
        var attempt = 0
        while true {
            do {
                let step: SnapshotStep = try await exclusivelyThrowing {
                    await self.syncLocked(scheduled: false)
                    if self.generation == nil {
                        if let info = try await self.startGeneration(reason: "snapshot requested") { return .done(info) }
                        throw ReplicaError(.unavailable, self.status.lastError ?? "cannot start a generation")
                    }
                    return try await self.beginSnapshot()
                }
                switch step {
                case .done(let info): return info
                case .upload(let job): return try await finishSnapshot(job)
                }
            } catch is WALChanged where attempt < 5 {
                attempt += 1
            }
        }
    }

    /// Runs a PASSIVE checkpoint now (reading every frame it could let a restart overwrite first).
    public func checkpoint() async throws {
        try await exclusivelyThrowing {
            if !self.prepared { await self.prepare() }
            try await self.checkpointLocked()
            await self.ship()
        }
    }

    /// Deletes what retention allows (see `ReplicaRetention`).
    @discardableResult
    public func enforceRetention(now: Date = Date()) async throws -> RetentionReport {
        try await exclusivelyThrowing {
            try await self.retentionLocked(now: now)
        }
    }

    /// Restores the replica's latest state into a temporary folder and compares it page by
    /// page with the live database at the same transaction (`ats verify`, the recurring job).
    public func verify() async throws -> VerifyReport {
        let report = try await exclusivelyThrowing {
            try await self.verifyLocked()
        }
        statusBox.withLock {
            $0.status.lastVerifyOK = report.ok
            $0.status.lastVerifyAt = Date()
        }
        return report
    }

    // MARK: Serialization

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

    func exclusively<T: Sendable>(_ body: () async -> T) async -> T {
        await acquire()
        defer { release() }
        return await body()
    }

    func exclusivelyThrowing<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    // MARK: Status

    func publish(_ update: (inout ReplicaStatus) -> Void = { _ in }) {
        let oldest: Date?
        if let first = pending.first {
            oldest = min(first.transaction.observed, unshippedSince ?? .distantFuture)
        } else {
            oldest = unshippedSince
        }
        statusBox.withLock { state in
            state.status.generation = generation
            state.status.shippedTxn = shippedTxn
            state.status.pendingTransactions = pending.count
            state.status.pendingBytes = pendingBytes
            state.status.lastSnapshotAt = lastSnapshotAt
            state.oldestUnshipped = oldest
            update(&state.status)
        }
    }

    /// Records a failure: counted always, logged once per change of state.
    func failed(_ what: String, _ error: any Error) {
        let message = "\(what): \(Self.describe(error))"
        let wasFailing = targetFailing
        targetFailing = true
        if !wasFailing || lastFailure != what {
            logger.error("replica: \(what)", metadata: ["error": "\(Self.describe(error))", "target": "\(target)"])
        }
        lastFailure = what
        publish {
            $0.errors += 1
            $0.lastError = message
        }
    }

    func succeeded() {
        lastFailure = nil
        if targetFailing {
            logger.info("replica: the target works again", metadata: ["target": "\(target)"])
            targetFailing = false
        }
        publish { $0.lastError = nil }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? ReplicaError { return error.description }
        return String(describing: error)
    }
}
