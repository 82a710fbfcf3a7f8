import Foundation

/// Where things live on a replica target. Every object is immutable once written.
///
/// ```
/// generations/<gen>/snapshots/<txn 16 hex>.snapshot.zst
/// generations/<gen>/wal/<first txn 16 hex>-<last txn 16 hex>.segment.zst
/// blobs/ab/cd/<hex>[.zst|.meta]          the file as it is in DATA/blobs, shared by generations
/// ```
/// `<gen>` sorts by creation (`20250102T030405.678Z-1a2b3c4d`, UTC). A generation is one
/// unbroken chain of transactions: txn 0 is its first snapshot's state, txn n the n-th commit
/// shipped after it. Snapshots and segments start with `ReplicaObjectHeader` (magic, SHA-256,
/// page size, transaction range, commit times), so they are verified before use and restores
/// can pick a point by time. Blobs keep their own checks (the SHA-256 is their name, `.zst`
/// frames carry zstd's checksum) and are never deleted by retention (old points need them).
public enum ReplicaLayout {
    /// Where generations live.
    public static let generationsPrefix = "generations/"
    /// Where blob files live (shared by every generation).
    public static let blobsPrefix = "blobs/"

    /// The key of the snapshot holding the state after `txn`.
    public static func snapshotKey(generation: String, txn: Int64) -> String {
        "generations/\(generation)/snapshots/\(hex16(txn)).snapshot.zst"
    }

    /// The key of the segment holding transactions `first...last`.
    public static func segmentKey(generation: String, first: Int64, last: Int64) -> String {
        "generations/\(generation)/wal/\(hex16(first))-\(hex16(last)).segment.zst"
    }

    /// The key of a blob file given its path under the blob root (`ab/cd/<hex>`).
    public static func blobKey(_ relativePath: String) -> String { blobsPrefix + relativePath }

    /// (generation, txn) of a snapshot key.
    public static func parseSnapshot(_ key: String) -> (generation: String, txn: Int64)? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "generations", parts[2] == "snapshots",
            parts[3].hasSuffix(".snapshot.zst")
        else { return nil }
        let name = parts[3].dropLast(".snapshot.zst".count)
        guard name.count == 16, let txn = Int64(name, radix: 16) else { return nil }
        return (String(parts[1]), txn)
    }

    /// (generation, first, last) of a segment key.
    public static func parseSegment(_ key: String) -> (generation: String, first: Int64, last: Int64)? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "generations", parts[2] == "wal", parts[3].hasSuffix(".segment.zst") else {
            return nil
        }
        let name = parts[3].dropLast(".segment.zst".count)
        let range = name.split(separator: "-")
        guard range.count == 2, range[0].count == 16, range[1].count == 16, let first = Int64(range[0], radix: 16),
            let last = Int64(range[1], radix: 16), first <= last
        else { return nil }
        return (String(parts[1]), first, last)
    }

    /// The generation folder name of a key under `generations/`.
    static func generation(of key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "generations" else { return nil }
        return String(parts[1])
    }

    static func hex16(_ value: Int64) -> String {
        let digits = String(UInt64(bitPattern: value), radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    /// A new generation name, later than `after` (names sort by time, then by the random part).
    static func newGeneration(now: Date = Date(), after: String? = nil) -> String {
        var time = now
        while true {
            let name = generationTimestamp(time) + "-" + String(format: "%08x", UInt32.random(in: 0...UInt32.max))
            if let after, name <= after {
                time = time.addingTimeInterval(0.001)
                continue
            }
            return name
        }
    }

    static func generationTimestamp(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = millis / 1000
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(millis % 1000))
    }

    /// True for a name `newGeneration` could have made (keeps stray folders out of catalogs).
    static func isGenerationName(_ name: String) -> Bool {
        name.count == 29 && ReplicaKey.isValid(name) && name.dropFirst(8).first == "T"
    }
}

/// A segment's payload: the blob files copied before it, then its frames.
enum SegmentPayload {
    static func encode(blobs: [String], transactions: [WALTransaction]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(transactions.reduce(0) { $0 + $1.records.count } + blobs.count * 80 + 4)
        out.appendBE(UInt32(blobs.count))
        for blob in blobs {
            let bytes = Array(blob.utf8)
            out.appendBE(UInt16(bytes.count))
            out += bytes
        }
        for transaction in transactions { out += transaction.records }
        return out
    }

    struct Decoded {
        var blobs: [String]
        /// Offset in the payload where frame records start.
        var recordsStart: Int
        /// Offsets (in the payload) where each transaction's records end, in order.
        var transactionEnds: [Int]
        /// Database size in pages after each transaction.
        var databasePages: [UInt32]
    }

    /// Parses and checks a payload: whole records, one commit per transaction, `count` commits,
    /// ending on a commit.
    static func decode(_ payload: [UInt8], pageSize: Int, transactions count: Int, key: String) throws -> Decoded {
        func corrupt(_ why: String) -> ReplicaError { ReplicaError(.corrupted, "segment payload: \(why)", key: key) }
        guard payload.count >= 4 else { throw corrupt("too short") }
        let blobCount = Int(payload.readBE32(0))
        var offset = 4
        var blobs: [String] = []
        for _ in 0..<blobCount {
            guard offset + 2 <= payload.count else { throw corrupt("truncated blob list") }
            let length = Int(payload.readBE16(offset))
            offset += 2
            guard offset + length <= payload.count,
                let name = String(validating: payload[offset..<(offset + length)], as: UTF8.self),
                ReplicaKey.isValid(name)
            else { throw corrupt("bad blob name") }
            blobs.append(name)
            offset += length
        }
        let recordSize = 8 + pageSize
        let start = offset
        guard (payload.count - start) % recordSize == 0 else { throw corrupt("partial frame") }
        var ends: [Int] = []
        var pages: [UInt32] = []
        while offset < payload.count {
            let pgno = payload.readBE32(offset)
            guard pgno != 0 else { throw corrupt("page number 0") }
            let commit = payload.readBE32(offset + 4)
            offset += recordSize
            if commit != 0 {
                ends.append(offset)
                pages.append(commit)
            }
        }
        guard ends.count == count else { throw corrupt("\(ends.count) commits, header says \(count)") }
        guard ends.last == payload.count || count == 0 else { throw corrupt("frames after the last commit") }
        return Decoded(blobs: blobs, recordsStart: start, transactionEnds: ends, databasePages: pages)
    }
}
