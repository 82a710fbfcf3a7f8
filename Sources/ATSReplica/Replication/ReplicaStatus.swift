import Foundation
import GRDB

/// What the replicator has done and how far behind it is; read at any time (for `/metrics`
/// and `/readyz`) without waiting for a sync in progress.
public struct ReplicaStatus: Sendable, Equatable {
    /// The generation being shipped; nil before the first snapshot or after the chain broke.
    public var generation: String?
    /// The last transaction on the target in `generation`.
    public var shippedTxn: Int64
    /// When the last sync finished (successfully or not).
    public var lastSyncAt: Date?
    /// Now minus the observed time of the oldest commit not yet on the target; 0 when caught up.
    /// When nothing read the WAL for longer than two sync intervals (at least 1 s: a long
    /// snapshot, verify or generation start, a hung target), at least the time since the last
    /// complete read: unread commits may be that old.
    public var lagSeconds: Double
    /// The last failure, cleared by the next success ("the target is unwritable: ...").
    public var lastError: String?
    /// Bytes put on the target (segments, snapshots, blobs).
    public var bytesShipped: Int64
    public var segmentsShipped: Int
    /// Snapshots taken by this process.
    public var snapshots: Int
    public var blobsShipped: Int
    /// Failed operations (target or database), for `ats_replica_errors_total`.
    public var errors: Int
    /// When the newest snapshot this process took was put.
    public var lastSnapshotAt: Date?
    /// Transactions read but not yet on the target, and their bytes (bounded by
    /// `Configuration.maxPendingBytes`).
    public var pendingTransactions: Int
    public var pendingBytes: Int
    /// Generations started by this process (the first one included).
    public var generationsStarted: Int
    /// The last verification's outcome (nil until one ran).
    public var lastVerifyOK: Bool?
    public var lastVerifyAt: Date?

    public init() {
        generation = nil
        shippedTxn = 0
        lastSyncAt = nil
        lagSeconds = 0
        lastError = nil
        bytesShipped = 0
        segmentsShipped = 0
        snapshots = 0
        blobsShipped = 0
        errors = 0
        lastSnapshotAt = nil
        pendingTransactions = 0
        pendingBytes = 0
        generationsStarted = 0
        lastVerifyOK = nil
        lastVerifyAt = nil
    }
}

/// A snapshot put on the target.
public struct SnapshotInfo: Sendable, Hashable, CustomStringConvertible {
    public let generation: String
    public let txn: Int64
    public let key: String
    /// Database bytes and stored (compressed) bytes.
    public let databaseBytes: Int64
    public let storedBytes: Int64
    /// The time of the state it holds (its transaction's observed commit time, or when taken).
    public let time: Date
    /// How long it took.
    public let seconds: Double

    public var description: String {
        "snapshot \(key): txn \(txn), \(databaseBytes) bytes (\(storedBytes) stored) in \(String(format: "%.2f", seconds)) s"
    }
}

/// What `Replicator.enforceRetention` deleted.
public struct RetentionReport: Sendable, Hashable, CustomStringConvertible {
    public var deletedSnapshots: [String] = []
    public var deletedSegments: [String] = []
    public var deletedGenerations: [String] = []

    public var description: String {
        "retention: \(deletedSnapshots.count) snapshot(s), \(deletedSegments.count) segment(s) deleted; "
            + "generations removed: \(deletedGenerations.isEmpty ? "none" : deletedGenerations.joined(separator: ", "))"
    }
}

/// The replicator's persisted position (`<stateDirectory>/position.json`): what is on the
/// target, so a restart can continue the chain when the WAL proves nothing was missed.
struct ReplicaPosition: Codable, Equatable {
    var version = 1
    var target: String
    var databasePath: String
    var generation: String
    var txn: Int64
    var pageSize: Int
    /// The WAL position right after `txn` (nil: at the start of whatever WAL comes next).
    var cursor: WALCursor?
    var lastComplete: CompletedCheckpoint?
    var journalOffset: Int64
    var lastSnapshotAt: Date?
    /// Set at a clean stop, after a complete checkpoint at `cursor`: the database file's size
    /// and SHA-256, which prove at the next start that nothing was checkpointed since.
    var databaseFingerprint: String?
    var savedAt: Date

    static func load(_ path: String) -> ReplicaPosition? {
        guard let bytes = try? LocalFile.readAll(path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try? decoder.decode(ReplicaPosition.self, from: Data(bytes))
    }

    func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try LocalFile.writeAtomically(path, bytes: Array(try encoder.encode(self)))
    }
}

/// A WAL that a complete checkpoint of ours found at `frame` frames: every frame was copied
/// into the database. If we had read exactly that far, a restart of that WAL loses nothing.
struct CompletedCheckpoint: Codable, Equatable, Sendable {
    var salt1: UInt32
    var salt2: UInt32
    var frame: Int

    func covers(_ cursor: WALCursor) -> Bool {
        cursor.salt1 == salt1 && cursor.salt2 == salt2 && cursor.frame == frame
    }
}

/// The database file's identity (size and SHA-256), read through SQLite's own handle.
enum DatabaseFingerprint {
    static func compute(pool: DatabasePool) throws -> String {
        try pool.unsafeRead { db in
            let handle = try SQLiteFileHandle(db)
            let size = try handle.size()
            var hasher = SHA256Hasher()
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var offset: Int64 = 0
            while offset < size {
                let count = Int(min(Int64(buffer.count), size - offset))
                try buffer.withUnsafeMutableBytes {
                    try handle.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]), offset: offset)
                }
                buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                offset += Int64(count)
            }
            return "\(size):\(hasher.finish().hexString)"
        }
    }
}
