import Foundation

/// A snapshot on a target.
public struct ReplicaSnapshotEntry: Sendable, Hashable {
    public let key: String
    public let txn: Int64
    /// Stored bytes.
    public let bytes: Int64
    /// When the target stored it.
    public let modified: Date
    /// The time of the state it holds (from its header; nil when headers were not read).
    public let time: Date?
}

/// A WAL segment on a target: transactions `first...last`.
public struct ReplicaSegmentEntry: Sendable, Hashable {
    public let key: String
    public let first: Int64
    public let last: Int64
    public let bytes: Int64
    public let modified: Date
}

/// One generation on a target: an unbroken chain of transactions from its first snapshot.
public struct GenerationInfo: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// Sorted by transaction.
    public let snapshots: [ReplicaSnapshotEntry]
    /// Sorted by first transaction.
    public let segments: [ReplicaSegmentEntry]
    /// The transaction ranges a restore can reach: from each snapshot through the segments
    /// that follow it without a gap (merged).
    public let restorable: [ClosedRange<Int64>]
    /// Transactions missing between the oldest snapshot and the last segment.
    public let gaps: [ClosedRange<Int64>]
    /// The oldest snapshot's time and the newest commit's time (when headers were read).
    public let restorableFrom: Date?
    public let restorableTo: Date?

    /// The last transaction any object of this generation holds.
    public var lastTxn: Int64 {
        max(snapshots.map(\.txn).max() ?? 0, segments.map(\.last).max() ?? 0)
    }

    /// The newest snapshot and how far the segments after it reach.
    public var newestChain: (snapshot: ReplicaSnapshotEntry, through: Int64)? {
        guard let snapshot = snapshots.last else { return nil }
        return (snapshot, Self.reach(from: snapshot.txn, segments: segments))
    }

    public var storedBytes: Int64 { snapshots.reduce(0) { $0 + $1.bytes } + segments.reduce(0) { $0 + $1.bytes } }

    public var description: String {
        var lines: [String] = []
        let window: String
        if let from = restorableFrom, let to = restorableTo {
            window = "\(Self.format(from)) ... \(Self.format(to))"
        } else {
            window = "unknown"
        }
        lines.append("generation \(name): txn \(restorable.first?.lowerBound ?? 0)...\(lastTxn), restorable \(window)")
        for snapshot in snapshots {
            let time = snapshot.time.map(Self.format) ?? "?"
            lines.append("  snapshot txn \(snapshot.txn) at \(time), \(snapshot.bytes) bytes")
        }
        lines.append(
            "  segments: \(segments.count), \(segments.reduce(0) { $0 + $1.bytes }) bytes, ranges "
                + Self.ranges(segments.map { $0.first...$0.last }))
        if !gaps.isEmpty { lines.append("  missing transactions: " + Self.ranges(gaps)) }
        return lines.joined(separator: "\n")
    }

    static func ranges(_ ranges: [ClosedRange<Int64>]) -> String {
        var merged: [ClosedRange<Int64>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        if merged.isEmpty { return "none" }
        return merged.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ", ")
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// The last transaction reachable from a snapshot at `start` through `segments` (sorted) without a gap.
    static func reach(from start: Int64, segments: [ReplicaSegmentEntry]) -> Int64 {
        var through = start
        for segment in segments where segment.last > through {
            if segment.first > through + 1 { break }
            through = segment.last
        }
        return through
    }
}

/// Reads what a target holds: generations, snapshots, segments, restorable windows
/// (`ats replicas list`).
public enum ReplicaCatalog {
    /// Every generation on the target, oldest first; with `readTimes`, snapshot and newest
    /// commit times come from the objects' headers (a ranged read each).
    public static func list(_ target: any ReplicaTarget, readTimes: Bool = true) async throws -> [GenerationInfo] {
        let objects = try await target.list(prefix: ReplicaLayout.generationsPrefix)
        var snapshots: [String: [ReplicaSnapshotEntry]] = [:]
        var segments: [String: [ReplicaSegmentEntry]] = [:]
        var names = Set<String>()
        for object in objects {
            if let (generation, txn) = ReplicaLayout.parseSnapshot(object.key) {
                names.insert(generation)
                var time: Date?
                if readTimes {
                    time = try? await ReplicaObjectCodec.readHeader(target, key: object.key).1.first
                }
                snapshots[generation, default: []].append(
                    ReplicaSnapshotEntry(
                        key: object.key, txn: txn, bytes: object.size, modified: object.modified, time: time))
            } else if let (generation, first, last) = ReplicaLayout.parseSegment(object.key) {
                names.insert(generation)
                segments[generation, default: []].append(
                    ReplicaSegmentEntry(
                        key: object.key, first: first, last: last, bytes: object.size, modified: object.modified))
            }
        }
        var result: [GenerationInfo] = []
        for name in names.sorted() {
            let snaps = (snapshots[name] ?? []).sorted { $0.txn < $1.txn }
            let segs = (segments[name] ?? []).sorted { ($0.first, $0.last) < ($1.first, $1.last) }
            var restorable: [ClosedRange<Int64>] = []
            for snapshot in snaps {
                let through = GenerationInfo.reach(from: snapshot.txn, segments: segs)
                if let last = restorable.last, snapshot.txn <= last.upperBound + 1 {
                    restorable[restorable.count - 1] = last.lowerBound...max(last.upperBound, through)
                } else {
                    restorable.append(snapshot.txn...through)
                }
            }
            var gaps: [ClosedRange<Int64>] = []
            if let oldest = snaps.first?.txn {
                var covered = oldest
                for segment in segs where segment.last > covered {
                    if segment.first > covered + 1 { gaps.append((covered + 1)...(segment.first - 1)) }
                    covered = max(covered, segment.last)
                }
            }
            var to: Date?
            if readTimes {
                let newestSegment = segs.max { $0.last < $1.last }
                let newestSnapshotTime = snaps.last?.time
                if let newestSegment, newestSegment.last > (snaps.last?.txn ?? -1),
                    let times = try? await ReplicaObjectCodec.readHeader(target, key: newestSegment.key).1
                {
                    to = times.last
                } else {
                    to = newestSnapshotTime
                }
            }
            result.append(
                GenerationInfo(
                    name: name, snapshots: snaps, segments: segs, restorable: restorable, gaps: gaps,
                    restorableFrom: snaps.first?.time, restorableTo: to))
        }
        return result
    }

    /// The generation names on the target, sorted (oldest first).
    static func generationNames(_ target: any ReplicaTarget) async throws -> [String] {
        let objects = try await target.list(prefix: ReplicaLayout.generationsPrefix)
        return Set(objects.compactMap { ReplicaLayout.generation(of: $0.key) }).sorted()
    }
}
