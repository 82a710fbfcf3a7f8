import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// What a restore will do: one snapshot, then segments up to a transaction.
public struct RestorePlan: Sendable, Hashable, CustomStringConvertible {
    /// The target it reads (its description).
    public let target: String
    public let generation: String
    public let snapshot: ReplicaSnapshotEntry
    /// In order; together they hold every transaction `snapshot.txn + 1 ... txn`.
    public let segments: [ReplicaSegmentEntry]
    /// The transaction the database will be at.
    public let txn: Int64
    /// Its observed commit time (the snapshot's time when no segment is applied).
    public let time: Date?
    /// What was asked.
    public let requestedTime: Date?
    public let requestedTxn: Int64?

    public var bytesToRead: Int64 { snapshot.bytes + segments.reduce(0) { $0 + $1.bytes } }

    public var description: String {
        var lines = ["restore plan from \(target)"]
        if let requestedTime { lines.append("  requested: state at \(GenerationInfo.format(requestedTime))") }
        if let requestedTxn { lines.append("  requested: txn \(requestedTxn)") }
        if requestedTime == nil && requestedTxn == nil { lines.append("  requested: latest state") }
        lines.append("  generation: \(generation)")
        lines.append("  snapshot: \(snapshot.key) (txn \(snapshot.txn), \(snapshot.bytes) bytes)")
        if segments.isEmpty {
            lines.append("  segments: none")
        } else {
            lines.append(
                "  segments: \(segments.count) (\(segments.first!.first)...\(segments.last!.last), "
                    + "\(segments.reduce(0) { $0 + $1.bytes }) bytes)")
        }
        lines.append(
            "  final txn: \(txn)" + (time.map { " committed at or before \(GenerationInfo.format($0))" } ?? ""))
        lines.append("  then: integrity check, blobs copied into <dir>/blobs")
        return lines.joined(separator: "\n")
    }
}

/// What a restore did.
public struct RestoreReport: Sendable, Hashable, CustomStringConvertible {
    public let databasePath: String
    public let generation: String
    public let snapshotKey: String
    public let segmentsApplied: Int
    public let transactionsApplied: Int
    public let txn: Int64
    public let time: Date?
    public let databaseBytes: Int64
    public let blobsRestored: Int
    public let blobBytes: Int64
    /// `PRAGMA integrity_check`'s answer ("ok").
    public let integrity: String
    public let seconds: Double

    public var description: String {
        """
        restored \(databasePath): generation \(generation), txn \(txn)\(time.map { " (" + GenerationInfo.format($0) + ")" } ?? "")
          snapshot \(snapshotKey) + \(segmentsApplied) segment(s), \(transactionsApplied) transaction(s) applied
          database \(databaseBytes) bytes, integrity \(integrity)
          blobs: \(blobsRestored) file(s), \(blobBytes) bytes
          took \(String(format: "%.2f", seconds)) s
        """
    }
}

/// Point-in-time restore from a target (`ats restore`): picks the snapshot and segments,
/// verifies every object's checksum (a flipped byte stops the restore with an error naming the
/// object), applies the frames, checks the chain and `PRAGMA integrity_check`, copies the blobs.
public enum ReplicaRestorer {
    /// The plan for the state at `at` (the last transaction observed committed at or before it),
    /// or at `txn` (in `generation`, default the newest), or the latest state.
    public static func plan(
        target: any ReplicaTarget, at: Date? = nil, txn: Int64? = nil, generation: String? = nil
    ) async throws -> RestorePlan {
        if at != nil && txn != nil { throw ReplicaError(.invalid, "give a time or a transaction, not both") }
        let generations = try await ReplicaCatalog.list(target, readTimes: true)
        var candidates = generations.filter { !$0.snapshots.isEmpty }
        if let generation {
            candidates = candidates.filter { $0.name == generation }
            guard !candidates.isEmpty else {
                throw ReplicaError(.notFound, "no generation \(generation) with a snapshot on \(target)")
            }
        }
        guard let newest = candidates.last else { throw ReplicaError(.notFound, "no snapshot on \(target)") }

        if let txn {
            return try await planTxn(
                target: target, generation: newest, txn: txn, requestedTxn: txn, requestedTime: nil)
        }
        if let at {
            for info in candidates.reversed() {
                guard let oldest = info.snapshots.first?.time, oldest <= at else { continue }
                // The newest snapshot at or before `at`, then segments while their commits are <= at.
                for snapshot in info.snapshots.reversed() {
                    guard let time = snapshot.time, time <= at else { continue }
                    var txn = snapshot.txn
                    var finalTime: Date? = time
                    var chosen: [ReplicaSegmentEntry] = []
                    var need = snapshot.txn + 1
                    var reachedTime = false
                    search: while let segment = nextSegment(info.segments, containing: need) {
                        let (header, times) = try await ReplicaObjectCodec.readHeader(target, key: segment.key)
                        try check(
                            header, key: segment.key, generation: info.name, first: segment.first, last: segment.last)
                        var used = false
                        for (index, commit) in times.enumerated() {
                            let t = segment.first + Int64(index)
                            guard t >= need else { continue }
                            if commit > at {
                                reachedTime = true
                                if used {
                                    chosen.append(segment)
                                } else {
                                    // The restore will not read this segment, yet its times decided
                                    // where to stop: verify it here, so a flipped time cannot
                                    // silently shorten the restore.
                                    _ = try ReplicaObjectCodec.decode(
                                        try await target.get(segment.key), key: segment.key, expectedKind: .segment)
                                }
                                break search
                            }
                            txn = t
                            finalTime = commit
                            used = true
                        }
                        if used { chosen.append(segment) }
                        need = segment.last + 1
                    }
                    if !reachedTime && need <= info.lastTxn {
                        // The chain stops at a hole before the requested time: say so, never restore less silently.
                        throw ReplicaError(
                            .corrupted,
                            "generation \(info.name) is missing transaction \(need) (a gap, or removed by retention; "
                                + "objects go on to \(info.lastTxn)): the state at that time cannot be restored")
                    }
                    return RestorePlan(
                        target: target.description, generation: info.name, snapshot: snapshot, segments: chosen,
                        txn: txn,
                        time: finalTime, requestedTime: at, requestedTxn: nil)
                }
            }
            let oldest = candidates.compactMap { $0.snapshots.first?.time }.min()
            throw ReplicaError(
                .notFound,
                "no snapshot at or before \(GenerationInfo.format(at))"
                    + (oldest.map { "; the oldest restorable time is \(GenerationInfo.format($0))" } ?? ""))
        }
        // Latest: the newest snapshot of the newest generation, through every segment after it.
        guard let (snapshot, through) = newest.newestChain else {
            throw ReplicaError(.notFound, "no snapshot on \(target)")
        }
        if newest.lastTxn > through {
            throw ReplicaError(
                .corrupted,
                "generation \(newest.name) is missing transaction \(through + 1) (segments go on to \(newest.lastTxn)); "
                    + "restore up to --txn \(through) or fix the target")
        }
        return try await planTxn(
            target: target, generation: newest, txn: through, requestedTxn: nil, requestedTime: nil, snapshot: snapshot)
    }

    static func planTxn(
        target: any ReplicaTarget, generation info: GenerationInfo, txn: Int64, requestedTxn: Int64?,
        requestedTime: Date?,
        snapshot preferred: ReplicaSnapshotEntry? = nil
    ) async throws -> RestorePlan {
        guard txn >= 0 else { throw ReplicaError(.invalid, "transaction numbers start at 0") }
        // The newest snapshot at or before txn from which the segments reach txn.
        var failure: ReplicaError?
        for snapshot in info.snapshots.reversed() where snapshot.txn <= txn {
            if let preferred, snapshot != preferred { continue }
            var chosen: [ReplicaSegmentEntry] = []
            var need = snapshot.txn + 1
            while need <= txn, let segment = nextSegment(info.segments, containing: need) {
                chosen.append(segment)
                need = segment.last + 1
            }
            if need > txn {
                var time = snapshot.time
                if let last = chosen.last {
                    let (header, times) = try await ReplicaObjectCodec.readHeader(target, key: last.key)
                    try check(header, key: last.key, generation: info.name, first: last.first, last: last.last)
                    time = times[Int(txn - last.first)]
                }
                return RestorePlan(
                    target: target.description, generation: info.name, snapshot: snapshot, segments: chosen, txn: txn,
                    time: time, requestedTime: requestedTime, requestedTxn: requestedTxn)
            }
            if txn <= info.lastTxn {
                failure = ReplicaError(
                    .corrupted,
                    "generation \(info.name) is missing transaction \(need) (needed to reach \(txn) from snapshot txn \(snapshot.txn))"
                )
            }
        }
        if let failure { throw failure }
        throw ReplicaError(
            .notFound, "transaction \(txn) is not on the target (generation \(info.name) reaches \(info.lastTxn))")
    }

    /// The segment holding transaction `need` that reaches furthest.
    static func nextSegment(_ segments: [ReplicaSegmentEntry], containing need: Int64) -> ReplicaSegmentEntry? {
        segments.filter { $0.first <= need && $0.last >= need }.max { $0.last < $1.last }
    }

    static func check(_ header: ReplicaObjectHeader, key: String, generation: String, first: Int64, last: Int64) throws
    {
        guard header.generation == generation, header.firstTxn == first, header.lastTxn == last else {
            throw ReplicaError(.corrupted, "the object's header does not match its name", key: key)
        }
    }

    /// Carries out `plan` into `directory` (created; must not hold a database yet): the database
    /// becomes `directory/ats.sqlite`, the blobs `directory/blobs/`. Nothing is left at
    /// `ats.sqlite` unless every check passed.
    public static func restore(
        _ plan: RestorePlan, from target: any ReplicaTarget, to directory: String, blobs: Bool = true
    )
        async throws -> RestoreReport
    {
        let started = ContinuousClock.now
        let databasePath = directory + "/ats.sqlite"
        if LocalFile.exists(databasePath) {
            throw ReplicaError(.invalid, "\(databasePath) already exists; restore into a new folder")
        }
        do {
            try LocalFile.makeDirectories(directory)
        } catch {
            throw ReplicaError(.unavailable, "cannot create \(directory): \(error)")
        }
        let working = directory + "/.restoring-" + LocalFile.randomSuffix()
        let download = working + ".snapshot"
        defer {
            LocalFile.remove(working)
            LocalFile.remove(download)
            LocalFile.remove(working + "-wal")
            LocalFile.remove(working + "-shm")
        }
        let built = try await rebuild(plan, from: target, into: working, download: download)
        var blobCount = 0
        var blobBytes: Int64 = 0
        if blobs {
            (blobCount, blobBytes) = try await restoreBlobs(from: target, into: directory + "/blobs")
        }
        guard rename(working, databasePath) == 0 else {
            throw ReplicaError(
                .unavailable, "cannot move the database into place: \(POSIXFailure("rename", databasePath))")
        }
        try? LocalFile.fsyncDirectory(directory)
        return RestoreReport(
            databasePath: databasePath, generation: plan.generation, snapshotKey: plan.snapshot.key,
            segmentsApplied: plan.segments.count, transactionsApplied: built.transactions, txn: plan.txn,
            time: plan.time,
            databaseBytes: built.bytes, blobsRestored: blobCount, blobBytes: blobBytes, integrity: built.integrity,
            seconds: (ContinuousClock.now - started).seconds)
    }

    struct Rebuilt {
        var transactions: Int
        var bytes: Int64
        var integrity: String
    }

    /// Snapshot + segments into the file at `path`, verified, integrity-checked.
    static func rebuild(
        _ plan: RestorePlan, from target: any ReplicaTarget, into path: String, download: String,
        integrityCheck: Bool = true
    )
        async throws -> Rebuilt
    {
        try await target.get(plan.snapshot.key, toFile: download)
        let key = plan.snapshot.key
        let (header, _) = try await Blocking.run {
            try ReplicaObjectFile.readSnapshot(source: download, key: key, destination: path)
        }
        LocalFile.remove(download)
        try check(header, key: key, generation: plan.generation, first: plan.snapshot.txn, last: plan.snapshot.txn)
        let pageSize = header.pageSize
        var need = plan.snapshot.txn + 1
        var transactions = 0
        for segment in plan.segments {
            let bytes = try await target.get(segment.key)
            let applied = try await Blocking.run { [need] in
                try applySegment(
                    bytes, key: segment.key, generation: plan.generation, pageSize: pageSize, from: need,
                    through: plan.txn, to: path)
            }
            transactions += applied.count
            need = applied.next
        }
        guard need == plan.txn + 1 else {
            throw ReplicaError(.corrupted, "the chain stops at transaction \(need - 1), before \(plan.txn)")
        }
        let integrity = integrityCheck ? try await Blocking.run { try checkIntegrity(path) } : "not checked"
        guard integrity == "ok" else {
            throw ReplicaError(
                .corrupted, "the restored database fails PRAGMA integrity_check: \(integrity.prefix(300))")
        }
        return Rebuilt(transactions: transactions, bytes: LocalFile.fileSize(path) ?? 0, integrity: integrity)
    }

    /// Verifies a segment object and applies its transactions `from...through` to the image.
    static func applySegment(
        _ bytes: [UInt8], key: String, generation: String, pageSize: Int, from need: Int64, through: Int64,
        to path: String
    ) throws -> (count: Int, next: Int64) {
        let content = try ReplicaObjectCodec.decode(bytes, key: key, expectedKind: .segment)
        let header = content.header
        guard header.generation == generation else {
            throw ReplicaError(.corrupted, "the segment belongs to generation \(header.generation)", key: key)
        }
        guard header.pageSize == pageSize else {
            throw ReplicaError(
                .corrupted, "the segment's page size \(header.pageSize) differs from the snapshot's \(pageSize)",
                key: key)
        }
        guard header.firstTxn <= need else {
            throw ReplicaError(
                .corrupted, "missing transactions \(need)...\(header.firstTxn - 1) before this segment", key: key)
        }
        let decoded = try SegmentPayload.decode(
            content.payload, pageSize: pageSize, transactions: header.tableCount, key: key)
        let image = try DatabaseImage(path: path, pageSize: pageSize)
        var count = 0
        var next = need
        var start = decoded.recordsStart
        try content.payload.withUnsafeBytes { raw in
            for (index, end) in decoded.transactionEnds.enumerated() {
                let txn = header.firstTxn + Int64(index)
                defer { start = end }
                if txn < need { continue }
                if txn > through { break }
                try image.apply(records: UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                count += 1
                next = txn + 1
            }
        }
        try image.sync()
        return (count, next)
    }

    static func checkIntegrity(_ path: String) throws -> String {
        var configuration = Configuration()
        configuration.label = "ats-restore-check"
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        let rows = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        return rows.joined(separator: "; ")
    }

    /// Copies every blob on the target into `folder` (`ab/cd/<file>`), verifying each against
    /// its name (SHA-256 of the content; `.zst` decompressed first). Files already there with the
    /// same size are kept.
    static func restoreBlobs(from target: any ReplicaTarget, into folder: String) async throws -> (Int, Int64) {
        let objects = try await target.list(prefix: ReplicaLayout.blobsPrefix)
        var count = 0
        var bytes: Int64 = 0
        for object in objects {
            let relative = String(object.key.dropFirst(ReplicaLayout.blobsPrefix.count))
            let destination = folder + "/" + relative
            if LocalFile.fileSize(destination) == object.size { continue }
            let content = try await target.get(object.key)
            try await Blocking.run {
                try verifyBlob(content, name: (relative as NSString).lastPathComponent, key: object.key)
                do {
                    try LocalFile.writeAtomically(destination, bytes: content)
                } catch {
                    throw ReplicaError(.unavailable, "cannot write \(destination): \(error)")
                }
            }
            count += 1
            bytes += Int64(content.count)
        }
        return (count, bytes)
    }

    static func verifyBlob(_ content: [UInt8], name: String, key: String) throws {
        if name.hasSuffix(".meta") { return }  // a sidecar that can always be recomputed
        let hex: String
        let plain: [UInt8]
        if name.hasSuffix(".zst") {
            hex = String(name.dropLast(4))
            do {
                plain = try content.withUnsafeBytes { try Zstd.decompress($0, limit: Int.max) }
            } catch {
                throw ReplicaError(.corrupted, "the blob does not decompress (\(error))", key: key)
            }
        } else {
            hex = name
            plain = content
        }
        guard hex.count == 64 else { return }
        guard SHA256Hasher.hash(plain).hexString == hex else {
            throw ReplicaError(.corrupted, "the blob's content does not match its SHA-256 name", key: key)
        }
    }
}
