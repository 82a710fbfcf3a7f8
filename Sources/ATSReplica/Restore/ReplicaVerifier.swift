import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// The outcome of comparing the replica with the live database.
public struct VerifyReport: Sendable, Hashable, CustomStringConvertible {
    /// True when the restored replica equals the live database at the same transaction.
    public let ok: Bool
    public let generation: String?
    public let txn: Int64?
    public let pagesCompared: Int
    /// The first difference ("page 12 differs at byte 96", "size: 40960 vs 36864 bytes"), or why
    /// the comparison could not be made; nil when equal.
    public let firstDifference: String?
    public let seconds: Double

    public var description: String {
        if ok {
            return "verify ok: generation \(generation ?? "-") txn \(txn.map(String.init) ?? "-"), "
                + "\(pagesCompared) pages equal (\(String(format: "%.2f", seconds)) s)"
        }
        return
            "verify FAILED: generation \(generation ?? "-") txn \(txn.map(String.init) ?? "-"): \(firstDifference ?? "unknown")"
    }
}

/// Restores the replica to a temporary folder and compares it page by page with the live
/// database at the same transaction (the live side built like a snapshot: the database file
/// through SQLite's handle plus the WAL frames up to that transaction).
public enum ReplicaVerifier {
    /// For a process that is not the replicator (`ats verify` with no server running): uses the
    /// replicator's `position.json` in `stateDirectory` (default: `replica/` beside the
    /// database) to find the WAL position of the replica's last transaction; without a usable
    /// position it compares the latest replica with the current database. With a server
    /// running, call `Replicator.verify()` there instead (it owns checkpoints).
    public static func verify(
        target: any ReplicaTarget, databasePath: String, pool: DatabasePool, stateDirectory: String? = nil
    ) async throws -> VerifyReport {
        let started = ContinuousClock.now
        let stateDirectory = stateDirectory ?? ((databasePath as NSString).deletingLastPathComponent + "/replica")
        let walPath = databasePath + "-wal"
        var cursor: WALCursor?
        var plan: RestorePlan
        if let position = ReplicaPosition.load(stateDirectory + "/position.json"),
            position.target == target.description,
            position.databasePath == databasePath, let positionCursor = position.cursor,
            (try? Replicator.cursorStillValid(positionCursor, walPath: walPath)) == true,
            let header = try? WALFile(path: walPath)?.header(), positionCursor.sameWAL(header)
        {
            cursor = positionCursor
            plan = try await ReplicaRestorer.plan(target: target, txn: position.txn, generation: position.generation)
        } else {
            cursor = try await Blocking.run { try WALTailer.seekToEnd(walPath: walPath) }
            plan = try await ReplicaRestorer.plan(target: target)
        }
        let folder = NSTemporaryDirectory() + "ats-verify-" + LocalFile.randomSuffix()
        defer { LocalFile.removeTree(folder) }
        return try await compare(
            plan: plan, target: target, pool: pool, walPath: walPath, cursor: cursor, folder: folder, started: started)
    }

    static func compare(
        plan: RestorePlan, target: any ReplicaTarget, pool: DatabasePool, walPath: String, cursor: WALCursor?,
        folder: String, started: ContinuousClock.Instant
    ) async throws -> VerifyReport {
        try LocalFile.makeDirectories(folder)
        let livePath = folder + "/live.db"
        let restoredPath = folder + "/restored.db"
        let built = try await Blocking.run {
            try LiveImage.build(pool: pool, walPath: walPath, cursor: cursor, imagePath: livePath)
        }
        do {
            _ = try await ReplicaRestorer.rebuild(
                plan, from: target, into: restoredPath, download: folder + "/download")
        } catch let error as ReplicaError where error.code == .corrupted {
            return VerifyReport(
                ok: false, generation: plan.generation, txn: plan.txn, pagesCompared: 0,
                firstDifference: error.description, seconds: (ContinuousClock.now - started).seconds)
        }
        let (pages, difference) = try await Blocking.run {
            try comparePages(livePath, restoredPath, pageSize: built.pageSize)
        }
        return VerifyReport(
            ok: difference == nil, generation: plan.generation, txn: plan.txn, pagesCompared: pages,
            firstDifference: difference, seconds: (ContinuousClock.now - started).seconds)
    }

    /// Compares two database files page by page; the first difference, or nil.
    static func comparePages(_ live: String, _ restored: String, pageSize: Int) throws -> (Int, String?) {
        let a = try LocalFile.open(live, O_RDONLY)
        defer { close(a) }
        let b = try LocalFile.open(restored, O_RDONLY)
        defer { close(b) }
        let sizeA = try LocalFile.size(a, live)
        let sizeB = try LocalFile.size(b, restored)
        let pages = Int(min(sizeA, sizeB) / Int64(pageSize))
        let batch = max(1, (4 << 20) / pageSize)
        var page = 0
        while page < pages {
            let count = min(batch, pages - page)
            let offset = Int64(page) * Int64(pageSize)
            let left = try LocalFile.pread(a, live, count: count * pageSize, offset: offset)
            let right = try LocalFile.pread(b, restored, count: count * pageSize, offset: offset)
            if left != right {
                for index in 0..<min(left.count, right.count) where left[index] != right[index] {
                    let number = page + index / pageSize + 1
                    return (page + index / pageSize, "page \(number) differs at byte \(index % pageSize)")
                }
                return (page, "short read near page \(page + 1)")
            }
            page += count
        }
        if sizeA != sizeB {
            return (pages, "size differs: live \(sizeA) bytes, replica \(sizeB) bytes")
        }
        return (pages, nil)
    }
}

extension Replicator {
    func verifyLocked() async throws -> VerifyReport {
        let started = ContinuousClock.now
        await syncLocked(scheduled: false)
        guard let generation else {
            return VerifyReport(
                ok: false, generation: nil, txn: nil, pagesCompared: 0,
                firstDifference: "no generation on the target yet" + (status.lastError.map { " (\($0))" } ?? ""),
                seconds: (ContinuousClock.now - started).seconds)
        }
        guard pending.isEmpty else {
            return VerifyReport(
                ok: false, generation: generation, txn: shippedTxn, pagesCompared: 0,
                firstDifference: "\(pending.count) transaction(s) not on the target yet"
                    + (status.lastError.map { " (\($0))" } ?? ""),
                seconds: (ContinuousClock.now - started).seconds)
        }
        let plan = try await ReplicaRestorer.plan(target: target, txn: shippedTxn, generation: generation)
        let folder = configuration.temporaryDirectory + "/verify-" + LocalFile.randomSuffix()
        defer { LocalFile.removeTree(folder) }
        return try await ReplicaVerifier.compare(
            plan: plan, target: target, pool: pool, walPath: configuration.walPath, cursor: tail.cursor, folder: folder,
            started: started)
    }
}
