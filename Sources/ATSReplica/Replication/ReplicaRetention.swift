import Foundation

/// Retention by age and count, never touching the newest restorable chain.
///
/// - The newest snapshot of the newest generation that has one, and every segment after it,
///   are always kept (that chain is what "restore latest" needs).
/// - Snapshots older than `snapshotRetention` go, except the `minimumSnapshots` newest ones.
/// - Segments older than `segmentRetention` go, and so do segments no kept snapshot of their
///   generation can reach (they end at or before its oldest kept snapshot).
/// - A generation left without a snapshot goes whole (it can no longer be restored).
/// Blobs are never deleted here: any kept point in time may name them.
public enum ReplicaRetention {
    /// Deletes what the rules above allow on `target`, as of `now`.
    public static func enforce(
        target: any ReplicaTarget, now: Date = Date(), segmentRetention: Duration, snapshotRetention: Duration,
        minimumSnapshots: Int = 2
    ) async throws -> RetentionReport {
        let generations = try await ReplicaCatalog.list(target, readTimes: false)
        var report = RetentionReport()
        guard let newest = generations.last(where: { !$0.snapshots.isEmpty }) else { return report }
        let protectedSnapshot = newest.snapshots.last!
        let snapshotCut = now.addingTimeInterval(-snapshotRetention.seconds)
        let segmentCut = now.addingTimeInterval(-segmentRetention.seconds)
        // Count retention: the newest N snapshots across generations.
        let newestSnapshots = Set(
            generations.flatMap(\.snapshots).sorted {
                ($0.key.split(separator: "/")[1], $0.txn) > ($1.key.split(separator: "/")[1], $1.txn)
            }
            .prefix(max(1, minimumSnapshots)).map(\.key))
        for generation in generations {
            // A generation newer than the newest chain (being started right now) is left alone.
            if generation.name > newest.name { continue }
            let isNewest = generation.name == newest.name
            var kept: [ReplicaSnapshotEntry] = []
            var doomed: [ReplicaSnapshotEntry] = []
            for snapshot in generation.snapshots {
                let keep =
                    snapshot.modified >= snapshotCut || newestSnapshots.contains(snapshot.key)
                    || (isNewest && snapshot.key == protectedSnapshot.key)
                if keep { kept.append(snapshot) } else { doomed.append(snapshot) }
            }
            if kept.isEmpty && !isNewest {
                for segment in generation.segments {
                    try await target.delete(segment.key)
                    report.deletedSegments.append(segment.key)
                }
                for snapshot in generation.snapshots {
                    try await target.delete(snapshot.key)
                    report.deletedSnapshots.append(snapshot.key)
                }
                report.deletedGenerations.append(generation.name)
                continue
            }
            let oldestKept = kept.map(\.txn).min() ?? protectedSnapshot.txn
            for segment in generation.segments {
                let needed = isNewest && segment.last > protectedSnapshot.txn
                if needed { continue }
                if segment.last <= oldestKept || segment.modified < segmentCut {
                    try await target.delete(segment.key)
                    report.deletedSegments.append(segment.key)
                }
            }
            for snapshot in doomed {
                try await target.delete(snapshot.key)
                report.deletedSnapshots.append(snapshot.key)
            }
        }
        return report
    }
}

extension Replicator {
    func retentionLocked(now: Date) async throws -> RetentionReport {
        let report = try await ReplicaRetention.enforce(
            target: target, now: now, segmentRetention: configuration.segmentRetention,
            snapshotRetention: configuration.snapshotRetention, minimumSnapshots: configuration.minimumSnapshots)
        if !report.deletedSnapshots.isEmpty || !report.deletedSegments.isEmpty {
            logger.info(
                "replica: retention",
                metadata: [
                    "snapshots": "\(report.deletedSnapshots.count)", "segments": "\(report.deletedSegments.count)",
                    "generations": "\(report.deletedGenerations.count)",
                ])
        }
        return report
    }
}
