import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// Where the replicator stands in the WAL, and what it knows about the WAL's past.
struct TailState: Sendable, Equatable {
    /// Nil: at the start of whatever WAL appears next (the WAL was empty or absent and the
    /// database file held everything).
    var cursor: WALCursor?
    /// The last complete checkpoint of ours, proving where a WAL ended.
    var lastComplete: CompletedCheckpoint?
}

/// The outcome of reading the WAL past a cursor.
enum TailResult: Sendable {
    /// Committed transactions, in order (possibly none).
    case transactions([WALTransaction])
    /// The chain cannot continue: a WAL restart or a file change we cannot prove lost nothing.
    case broken(String)
}

/// Incremental, validating reads of the `-wal` file (see `WALFile`), with restart detection.
///
/// A WAL restart (new header salts) continues the chain only when it is provably lossless:
/// salt-1 went up by exactly one (SQLite's restart rule: `walRestartHdr`), and our last
/// complete checkpoint found the old WAL at exactly the frame we had read to. Anything else
/// (the WAL removed or truncated behind our back, random salts, a page size change) breaks
/// the chain and the replicator starts a new generation with a snapshot.
enum WALTailer {
    static func read(walPath: String, state: inout TailState, now: Date, maxBytes: Int = .max) throws -> TailResult {
        guard let wal = try WALFile(path: walPath), try wal.size() >= WALHeader.size else {
            return emptyWAL(&state, why: "the WAL was removed or truncated by a checkpoint the replicator did not run")
        }
        guard let header = try wal.header() else {
            // A header being rewritten (or garbage SQLite treats as an empty WAL): nothing committed to read yet.
            return .transactions([])
        }
        if var cursor = state.cursor {
            if !cursor.sameWAL(header) {
                guard header.pageSize == cursor.pageSize else {
                    return .broken("the WAL page size changed (\(cursor.pageSize) to \(header.pageSize))")
                }
                guard header.salt1 == cursor.salt1 &+ 1 else {
                    return .broken("the WAL was replaced (its salts changed without a restart we can follow)")
                }
                guard let complete = state.lastComplete, complete.covers(cursor) else {
                    return .broken("the WAL restarted before every frame of the previous one was read")
                }
                cursor = WALCursor(header: header)
            }
            let transactions = try wal.readTransactions(after: &cursor, now: now, maxBytes: maxBytes)
            state.cursor = cursor
            return .transactions(transactions)
        }
        var cursor = WALCursor(header: header)
        let transactions = try wal.readTransactions(after: &cursor, now: now, maxBytes: maxBytes)
        state.cursor = cursor
        return .transactions(transactions)
    }

    static func emptyWAL(_ state: inout TailState, why: String) -> TailResult {
        guard let cursor = state.cursor else { return .transactions([]) }
        if let complete = state.lastComplete, complete.covers(cursor) {
            // Everything we read was checkpointed: the next WAL starts from the database file.
            state.cursor = nil
            return .transactions([])
        }
        return .broken(why)
    }

    /// Reads to the end of the WAL without keeping the frames: the position a snapshot of
    /// "database file + WAL" starts a generation from.
    static func seekToEnd(walPath: String) throws -> WALCursor? {
        guard let wal = try WALFile(path: walPath), try wal.size() >= WALHeader.size, let header = try wal.header()
        else {
            return nil
        }
        var cursor = WALCursor(header: header)
        while true {
            let before = cursor.frame
            _ = try wal.readTransactions(after: &cursor, now: Date(), maxBytes: 8 << 20)
            if cursor.frame == before { break }
        }
        return cursor
    }
}

/// The result of one checkpoint of ours.
struct CheckpointOutcome: Sendable {
    var busy: Bool
    var logFrames: Int
    var checkpointedFrames: Int
    var complete: Bool { !busy && logFrames >= 0 && logFrames == checkpointedFrames }
}

extension WALTailer {
    /// Inside the writer (this process's writes wait): reads what is committed, runs a PASSIVE
    /// checkpoint, and reads again what other processes appended meanwhile, so every frame a
    /// later WAL restart could overwrite has been read. Records the checkpoint's proof.
    static func checkpoint(
        db: Database, walPath: String, state: inout TailState, reading: Bool, now: Date,
        afterCheckpoint: () -> Void = {}
    ) -> (TailResult, CheckpointOutcome?, (any Error)?) {
        var collected: [WALTransaction] = []
        if reading {
            do {
                switch try read(walPath: walPath, state: &state, now: now) {
                case .broken(let why): return (.broken(why), nil, nil)
                case .transactions(let list): collected += list
                }
            } catch {
                return (.transactions([]), nil, error)
            }
        }
        let headerBefore = try? WALFile(path: walPath)?.header()
        let outcome: CheckpointOutcome
        do {
            let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
            outcome = CheckpointOutcome(
                busy: (row?[0] as Int?) ?? 1 != 0, logFrames: row?[1] ?? -1, checkpointedFrames: row?[2] ?? -1)
        } catch {
            return (.transactions(collected), nil, error)
        }
        // The checkpoint copied the whole WAL we had read to its end: record the proof now, so
        // that another process restarting the WAL before the read below is followed, not a break.
        if outcome.complete, let cursor = state.cursor, let before = headerBefore, cursor.sameWAL(before),
            outcome.logFrames == cursor.frame
        {
            state.lastComplete = CompletedCheckpoint(salt1: cursor.salt1, salt2: cursor.salt2, frame: cursor.frame)
        }
        afterCheckpoint()
        guard reading else {
            // Not following the WAL (no generation): still remember where it ended, so the
            // generation about to start can follow the restart that comes next.
            let headerAfter = try? WALFile(path: walPath)?.header()
            if outcome.complete, let before = headerBefore, let after = headerAfter, before == after {
                state.lastComplete = CompletedCheckpoint(
                    salt1: after.salt1, salt2: after.salt2, frame: outcome.logFrames)
            }
            return (.transactions([]), outcome, nil)
        }
        do {
            switch try read(walPath: walPath, state: &state, now: now) {
            case .broken(let why): return (.broken(why), outcome, nil)
            case .transactions(let list): collected += list
            }
        } catch {
            return (.transactions(collected), outcome, error)
        }
        // The proof holds only if the checkpoint ran on the WAL we were reading (no restart
        // slipped in between the reads).
        if outcome.complete, let cursor = state.cursor, let before = headerBefore, cursor.sameWAL(before) {
            state.lastComplete = CompletedCheckpoint(salt1: cursor.salt1, salt2: cursor.salt2, frame: outcome.logFrames)
        }
        return (.transactions(collected), outcome, nil)
    }
}

/// A database image at a WAL position: the database file copied through SQLite's own handle,
/// with WAL frames 1...cursor.frame applied and the file cut to the committed size, exactly
/// what a checkpoint up to there would leave. Valid because only the replicator checkpoints:
/// the database file cannot change during the copy, and frames up to the cursor cannot be
/// overwritten (that needs a restart, which needs a checkpoint of ours).
enum LiveImage {
    struct Built {
        var pageSize: Int
        var bytes: Int64
    }

    static func build(pool: DatabasePool, walPath: String, cursor: WALCursor?, imagePath: String) throws -> Built {
        let copied = try pool.unsafeRead { db in try SQLiteFileHandle(db).copy(to: imagePath) }
        let head = try LocalFile.readPrefix(imagePath, count: 100)
        let dbHeader = DatabaseHeader.parse(head)
        let pageSize = cursor?.pageSize ?? dbHeader?.pageSize ?? 4096
        if let dbHeader, dbHeader.pageSize != pageSize {
            throw ReplicaError(
                .invalid, "the database page size (\(dbHeader.pageSize)) differs from the WAL's (\(pageSize))")
        }
        let image = try DatabaseImage(path: imagePath, pageSize: pageSize)
        var lastCommit: UInt32?
        if let cursor, cursor.frame > 0 {
            guard let wal = try WALFile(path: walPath) else { throw WALChanged() }
            try wal.forEachFrame(upTo: cursor) { pgno, commit, page in
                try image.write(page: pgno, page)
                if commit != 0 { lastCommit = commit }
            }
        }
        if let lastCommit {
            try image.truncate(pages: lastCommit)
        } else if let pages = dbHeader?.pages, Int64(pages) * Int64(pageSize) <= copied {
            try image.truncate(pages: UInt32(pages))
        }
        try image.sync()
        return Built(pageSize: pageSize, bytes: try image.size())
    }
}
