import Foundation
import GRDB
import Logging

extension Replicator {
    /// Starts a new generation: the position is the end of the WAL now, blobs are copied, and
    /// the snapshot of "database file + WAL up to there" is put as txn 0. On failure the
    /// replicator retries with a backoff (1 s doubling to 60 s); nil then.
    @discardableResult
    func startGeneration(reason: String) async throws -> SnapshotInfo? {
        let started = ContinuousClock.now
        do {
            let names = try await ReplicaCatalog.generationNames(target)
            let name = ReplicaLayout.newGeneration(after: [names.last, generation].compactMap { $0 }.max())
            let walPath = configuration.walPath
            let readAt = Date()
            let cursor = try await Blocking.run { try WALTailer.seekToEnd(walPath: walPath) }
            // Blobs first: every file the snapshot's rows may name is on the target before it.
            // A new generation may go to a new or wiped target: compare every local blob.
            needsBlobScan = true
            try await shipBlobs()
            let time = Date()
            let info = try await putSnapshot(generation: name, txn: 0, cursor: cursor, time: time, started: started)
            // The chain starts here.
            generation = name
            if let cursor { pageSize = cursor.pageSize }
            tail.cursor = cursor
            nextTxn = 1
            shippedTxn = 0
            shippedCursor = cursor
            lastTxnTime = time
            pending = []
            pendingBytes = 0
            blobsToAnnounce = []
            unshippedSince = nil
            generationFailures = 0
            generationRetryAt = nil
            newestSnapshotTxn = 0
            succeeded()
            noteRead(at: readAt)
            publish { $0.generationsStarted += 1 }
            savePosition()
            logger.info(
                "replica: generation started",
                metadata: ["generation": "\(name)", "reason": "\(reason)", "bytes": "\(info.databaseBytes)"])
            return info
        } catch {
            generationFailures += 1
            let delay = min(60.0, pow(2.0, Double(min(generationFailures - 1, 6))))
            generationRetryAt = .now + .milliseconds(Int64(delay * 1000))
            if unshippedSince == nil { unshippedSince = Date() }
            failed("cannot start a generation", error)
            throw error
        }
    }

    /// A built snapshot image waiting to be compressed and put (no lock needed for that).
    struct SnapshotJob: Sendable {
        var generation: String
        var txn: Int64
        var time: Date
        var key: String
        var imagePath: String
        var objectPath: String
        var pageSize: Int
        var bytes: Int64
        var started: ContinuousClock.Instant
    }

    enum SnapshotStep: Sendable {
        case done(SnapshotInfo)
        case upload(SnapshotJob)
    }

    /// Under the operation lock: the image of the current generation at the last transaction
    /// read (or the newest snapshot when nothing is new). Only building the image needs the
    /// lock (no checkpoint may run meanwhile); `finishSnapshot` compresses and puts it while
    /// syncs continue.
    func beginSnapshot() async throws -> SnapshotStep {
        guard let generation else { throw ReplicaError(.unavailable, "no generation") }
        let txn = nextTxn - 1
        if txn == newestSnapshotTxn, let last = lastSnapshotAt {
            // Nothing new since the newest snapshot: it is this state already.
            lastSnapshotAt = Date()
            savePosition()
            return .done(
                SnapshotInfo(
                    generation: generation, txn: txn, key: ReplicaLayout.snapshotKey(generation: generation, txn: txn),
                    databaseBytes: 0, storedBytes: 0, time: last, seconds: 0))
        }
        do {
            let job = try await buildSnapshot(
                generation: generation, txn: txn, cursor: tail.cursor, time: lastTxnTime, started: .now)
            snapshotsUploading += 1
            return .upload(job)
        } catch {
            failed("cannot take a snapshot", error)
            throw error
        }
    }

    /// Without the operation lock: compresses and puts a built image, then records it.
    func finishSnapshot(_ job: SnapshotJob) async throws -> SnapshotInfo {
        let header: ReplicaObjectHeader
        do {
            header = try await Self.upload(job, target: target)
        } catch {
            await exclusively {
                self.snapshotsUploading -= 1
                self.failed("cannot take a snapshot", error)
            }
            throw error
        }
        return await exclusively {
            self.snapshotsUploading -= 1
            let info = self.recordSnapshot(job, header)
            // After a clean stop the position holds the database fingerprint: keep it.
            if self.generation == job.generation, !self.stopped {
                self.newestSnapshotTxn = max(self.newestSnapshotTxn ?? 0, job.txn)
                self.succeeded()
                self.savePosition()
            }
            return info
        }
    }

    /// Builds, compresses and puts a snapshot in one go (a generation's first: the chain
    /// starts with it).
    func putSnapshot(
        generation: String, txn: Int64, cursor: WALCursor?, time: Date, started: ContinuousClock.Instant
    ) async throws -> SnapshotInfo {
        let job = try await buildSnapshot(generation: generation, txn: txn, cursor: cursor, time: time, started: started)
        let header = try await Self.upload(job, target: target)
        pageSize = header.pageSize
        return recordSnapshot(job, header)
    }

    /// The image (database through SQLite's handle + WAL frames up to `cursor`) in a local file.
    func buildSnapshot(
        generation: String, txn: Int64, cursor: WALCursor?, time: Date, started: ContinuousClock.Instant
    ) async throws -> SnapshotJob {
        let configuration = configuration
        let pool = pool
        let suffix = LocalFile.randomSuffix()
        let imagePath = configuration.temporaryDirectory + "/snapshot-\(suffix).db"
        let objectPath = configuration.temporaryDirectory + "/snapshot-\(suffix).zst"
        do {
            try LocalFile.makeDirectories(configuration.temporaryDirectory)
            let built = try await Blocking.run {
                try LiveImage.build(pool: pool, walPath: configuration.walPath, cursor: cursor, imagePath: imagePath)
            }
            return SnapshotJob(
                generation: generation, txn: txn, time: time,
                key: ReplicaLayout.snapshotKey(generation: generation, txn: txn), imagePath: imagePath,
                objectPath: objectPath, pageSize: built.pageSize, bytes: built.bytes, started: started)
        } catch {
            LocalFile.remove(imagePath)
            throw error
        }
    }

    /// Compresses the image into an object file, puts it, and removes the local files.
    static func upload(_ job: SnapshotJob, target: any ReplicaTarget) async throws -> ReplicaObjectHeader {
        defer {
            LocalFile.remove(job.imagePath)
            LocalFile.remove(job.objectPath)
        }
        let header = try await Blocking.run {
            try ReplicaObjectFile.writeSnapshot(
                source: job.imagePath, sourceSize: job.bytes, destination: job.objectPath, generation: job.generation,
                pageSize: job.pageSize, txn: job.txn, time: job.time)
        }
        LocalFile.remove(job.imagePath)
        try await target.put(job.key, contentsOf: job.objectPath)
        return header
    }

    func recordSnapshot(_ job: SnapshotJob, _ header: ReplicaObjectHeader) -> SnapshotInfo {
        lastSnapshotAt = Date()
        let info = SnapshotInfo(
            generation: job.generation, txn: job.txn, key: job.key, databaseBytes: header.uncompressedSize,
            storedBytes: header.objectSize, time: job.time, seconds: (ContinuousClock.now - job.started).seconds)
        publish {
            $0.snapshots += 1
            $0.bytesShipped += header.objectSize
        }
        logger.info("replica: snapshot put", metadata: ["key": "\(job.key)", "bytes": "\(header.objectSize)"])
        return info
    }
}
