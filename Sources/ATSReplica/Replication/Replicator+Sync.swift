import Foundation
import GRDB
import Logging

#if canImport(Glibc)
import Glibc
#endif

extension Replicator {
    // MARK: Start

    /// Loads `position.json` and continues its chain when the WAL proves nothing was missed;
    /// otherwise the first sync starts a new generation.
    func prepare() async {
        prepared = true
        let configuration = configuration
        LocalFile.removeTree(configuration.temporaryDirectory)
        do {
            try LocalFile.makeDirectories(configuration.temporaryDirectory)
        } catch {
            failed("cannot create the replica state folder", error)
        }
        guard let position = ReplicaPosition.load(configuration.positionPath) else { return }
        // The journal offset only counts for the chain it was saved with: restored below,
        // once the target, the generation and the WAL proved the chain continues.
        guard position.target == target.description, position.databasePath == configuration.databasePath else {
            logger.info("replica: the position file is for another target or database; starting a new generation")
            return
        }
        // A newer generation on the target than ours (a crash after its snapshot, before the
        // position was saved) would shadow ours in restores: never continue behind it.
        let newest: String?
        do {
            newest = try await ReplicaCatalog.generationNames(target).last
        } catch {
            failed("cannot list the target", error)
            return
        }
        guard newest == position.generation else {
            logger.info("replica: the target's newest generation is not ours; starting a new generation")
            return
        }
        let walPath = configuration.walPath
        let pool = pool
        let resume: Resume
        do {
            resume = try await Blocking.run { try Self.resumePoint(position, walPath: walPath, pool: pool) }
        } catch {
            resume = .no("cannot read the WAL: \(error)")
        }
        let cursor: WALCursor?
        switch resume {
        case .no(let why):
            logger.info("replica: starting a new generation", metadata: ["reason": "\(why)"])
            return
        case .at(let at):
            cursor = at
        }
        // The target's newest segment must not be past the saved position (a position save
        // that was lost, or an older copy of the file): continuing would reuse txn numbers.
        do {
            let segments = try await target.list(prefix: ReplicaLayout.generationsPrefix + position.generation + "/wal/")
            if let highest = segments.compactMap({ ReplicaLayout.parseSegment($0.key)?.last }).max(),
                highest > position.txn
            {
                logger.info(
                    "replica: the target holds transactions past the saved position; starting a new generation",
                    metadata: ["saved": "\(position.txn)", "target": "\(highest)"])
                return
            }
        } catch {
            failed("cannot list the target", error)
            return
        }
        if let blobs = configuration.blobsDirectory, let size = LocalFile.fileSize(blobs + "/journal"),
            size >= position.journalOffset
        {
            journalOffset = position.journalOffset
            needsBlobScan = false
        }
        generation = position.generation
        pageSize = position.pageSize
        shippedTxn = position.txn
        nextTxn = position.txn + 1
        shippedCursor = cursor
        tail = TailState(cursor: cursor, lastComplete: cursor == nil ? nil : position.lastComplete)
        lastSnapshotAt = position.lastSnapshotAt
        lastTxnTime = position.savedAt
        logger.info(
            "replica: continuing generation",
            metadata: ["generation": "\(position.generation)", "txn": "\(position.txn)"])
        publish()
    }

    enum Resume {
        /// Continue from this WAL position (nil: from the start of the current WAL).
        case at(WALCursor?)
        case no(String)
    }

    /// Where a new process can continue the saved chain, if it can prove nothing was missed:
    /// - the same WAL still holds the saved position (same salts, same cumulative checksum);
    /// - or the WAL restarted exactly once after a complete checkpoint of ours at that position
    ///   (salt-1 + 1), which the tailer follows;
    /// - or the database file is byte for byte the one fingerprinted at a clean shutdown (after
    ///   a complete checkpoint at the position): then whatever WAL exists now came after it.
    /// Otherwise (the WAL was checkpointed and removed by another process's last close, replaced,
    /// or overwritten) a new generation starts.
    static func resumePoint(_ position: ReplicaPosition, walPath: String, pool: DatabasePool) throws -> Resume {
        let header: WALHeader?
        if let wal = try WALFile(path: walPath), try wal.size() >= WALHeader.size {
            header = try wal.header()
            if let cursor = position.cursor, let header, cursor.sameWAL(header) {
                if cursor.frame == 0 {
                    if header.checksum1 == cursor.checksum1 && header.checksum2 == cursor.checksum2 {
                        return .at(cursor)
                    }
                } else if let stored = try wal.storedChecksum(frame: cursor.frame, pageSize: cursor.pageSize),
                    stored == (cursor.salt1, cursor.salt2, cursor.checksum1, cursor.checksum2)
                {
                    return .at(cursor)
                }
                return .no("the WAL no longer holds the saved position")
            }
        } else {
            header = nil
        }
        if let cursor = position.cursor, let header, header.salt1 == cursor.salt1 &+ 1,
            header.pageSize == cursor.pageSize, position.lastComplete?.covers(cursor) == true
        {
            return .at(cursor)  // the tailer follows this restart
        }
        if let fingerprint = position.databaseFingerprint {
            if try DatabaseFingerprint.compute(pool: pool) == fingerprint { return .at(nil) }
            return .no("the database file changed since the last clean stop")
        }
        return .no(header == nil ? "the WAL was removed since the last run" : "the WAL was replaced since the last run")
    }

    /// True when the WAL still holds the frames up to `cursor` unchanged (same salts, same
    /// cumulative checksum at the cursor), or moved on in a way `WALTailer` can follow or judge.
    static func cursorStillValid(_ cursor: WALCursor?, walPath: String) throws -> Bool {
        guard let cursor else { return true }
        guard let wal = try WALFile(path: walPath), try wal.size() >= WALHeader.size, let header = try wal.header()
        else {
            // No WAL: the tailer decides with the saved checkpoint proof.
            return true
        }
        guard cursor.sameWAL(header) else { return true }  // a restart: judged by the tailer
        if cursor.frame == 0 {
            return header.checksum1 == cursor.checksum1 && header.checksum2 == cursor.checksum2
        }
        guard let stored = try wal.storedChecksum(frame: cursor.frame, pageSize: cursor.pageSize) else { return false }
        return stored.0 == cursor.salt1 && stored.1 == cursor.salt2 && stored.2 == cursor.checksum1
            && stored.3 == cursor.checksum2
    }

    // MARK: Sync

    func syncLocked(scheduled: Bool) async {
        if stopped { return }
        if !prepared { await prepare() }
        defer { publish { $0.lastSyncAt = Date() } }
        if generation == nil {
            if generationRetryAt.map({ ContinuousClock.now >= $0 }) ?? true {
                _ = try? await startGeneration(reason: generationFailures == 0 ? "no generation yet" : "retrying")
            }
            if generation == nil {
                // Nothing to read for: keep the WAL from growing.
                syncsSinceCheckpoint += 1
                if scheduled, syncsSinceCheckpoint >= configuration.checkpointEverySyncs {
                    try? await checkpointLocked()
                }
                return
            }
        }
        let reachedEnd = await readWAL()
        await ship()
        guard generation != nil else { return }
        syncsSinceCheckpoint += 1
        if scheduled, reachedEnd, checkpointDue() {
            do {
                try await checkpointLocked()
            } catch {
                failed("checkpoint failed", error)
            }
            await ship()
        }
        if scheduled, generation != nil, pending.isEmpty, !targetFailing, snapshotsUploading == 0,
            lastSnapshotAt.map({ Date().timeIntervalSince($0) >= configuration.snapshotInterval.seconds }) ?? true
        {
            // The image is built now; compression and the put go on while the next syncs run.
            if case .upload(let job) = try? await beginSnapshot() {
                Task { _ = try? await self.finishSnapshot(job) }
            }
        }
        if scheduled, !targetFailing,
            lastRetention.map({ ContinuousClock.now - $0 >= configuration.retentionInterval }) ?? true
        {
            lastRetention = .now
            do {
                _ = try await retentionLocked(now: Date())
            } catch {
                failed("retention failed", error)
            }
        }
    }

    func checkpointDue() -> Bool {
        guard let cursor = tail.cursor, cursor.frame > 0 else { return false }
        if tail.lastComplete?.covers(cursor) == true { return false }  // already all checkpointed
        return cursor.frame >= configuration.checkpointFrames
            || syncsSinceCheckpoint >= configuration.checkpointEverySyncs
    }

    /// Reads committed transactions into `pending`; true when it reached the end of the WAL.
    func readWAL() async -> Bool {
        let walPath = configuration.walPath
        let state = tail
        let limit = max(1 << 20, min(64 << 20, configuration.maxPendingBytes - pendingBytes))
        let now = Date()
        do {
            let (result, newState) = try await Blocking.run {
                var state = state
                let result = try WALTailer.read(walPath: walPath, state: &state, now: now, maxBytes: limit)
                return (result, state)
            }
            let reachedEnd = await accept(result, state: newState, limit: limit)
            if reachedEnd, generation != nil { noteRead(at: now) }
            return reachedEnd
        } catch {
            failed("cannot read the WAL", error)
            return false
        }
    }

    /// Takes what a read produced: transactions numbered into `pending`, or a broken chain.
    func accept(_ result: TailResult, state: TailState, limit: Int = .max) async -> Bool {
        switch result {
        case .transactions(let transactions):
            tail = state
            var bytes = 0
            for transaction in transactions {
                pending.append(PendingTransaction(txn: nextTxn, transaction: transaction))
                nextTxn += 1
                pendingBytes += transaction.records.count
                bytes += transaction.records.count
                lastTxnTime = transaction.observed
            }
            publish()
            return bytes < limit
        case .broken(let why):
            // What was read still continues the old chain correctly: ship it there first.
            await ship()
            logger.warning("replica: the WAL chain broke; starting a new generation", metadata: ["reason": "\(why)"])
            abandonGeneration()
            tail = state
            tail.cursor = nil
            _ = try? await startGeneration(reason: why)
            return true
        }
    }

    /// Gives up on the current chain (pending dropped): the next generation starts from a snapshot.
    func abandonGeneration() {
        let oldest = pending.first?.transaction.observed ?? Date()
        unshippedSince = min(unshippedSince ?? oldest, oldest)
        pending = []
        pendingBytes = 0
        generation = nil
        generationRetryAt = nil
        publish()
    }

    /// Past `maxPendingBytes` while the target fails, the chain is given up (memory is bounded).
    func dropPendingIfOverBound() {
        if pendingBytes > configuration.maxPendingBytes {
            dropPending(reason: "the target is behind by more than the pending bound")
        }
    }

    func dropPending(reason: String) {
        logger.error(
            "replica: dropping unshipped transactions; a new generation starts when the target is back",
            metadata: ["reason": "\(reason)", "pending": "\(pending.count)", "bytes": "\(pendingBytes)"])
        abandonGeneration()
        generationRetryAt = .now + configuration.syncInterval
    }

    // MARK: Ship

    /// Copies new blobs, then puts pending transactions as segments (in order, no gaps).
    func ship() async {
        guard let generation else { return }
        if pending.isEmpty && blobsToAnnounce.isEmpty && !needsBlobScan && !journalHasNews() { return }
        do {
            try await shipBlobs()
        } catch {
            failed("cannot copy blobs to the target", error)
            dropPendingIfOverBound()
            return
        }
        while !pending.isEmpty {
            var count = 0
            var bytes = 0
            while count < pending.count
                && (count == 0 || bytes + pending[count].transaction.records.count <= configuration.maxSegmentBytes)
            {
                bytes += pending[count].transaction.records.count
                count += 1
            }
            let batch = Array(pending[0..<count])
            let first = batch.first!.txn
            let last = batch.last!.txn
            let key = ReplicaLayout.segmentKey(generation: generation, first: first, last: last)
            let blobs = blobsToAnnounce
            let pageSize = pageSize
            do {
                let object = try await Blocking.run {
                    try ReplicaObjectCodec.encode(
                        kind: .segment, generation: generation, pageSize: pageSize, firstTxn: first, lastTxn: last,
                        times: batch.map(\.transaction.observed),
                        frameCount: batch.reduce(0) { $0 + $1.transaction.frameCount },
                        payload: SegmentPayload.encode(blobs: blobs, transactions: batch.map(\.transaction)))
                }
                try await target.put(key, bytes: object)
                pending.removeFirst(count)
                pendingBytes -= bytes
                shippedTxn = last
                shippedCursor = batch.last!.transaction.end
                blobsToAnnounce = []
                if pending.isEmpty { unshippedSince = nil }
                succeeded()
                publish {
                    $0.bytesShipped += Int64(object.count)
                    $0.segmentsShipped += 1
                }
            } catch {
                failed("cannot put a segment", error)
                dropPendingIfOverBound()
                return
            }
        }
        savePosition()
    }

    func savePosition(fingerprint: String? = nil) {
        guard let generation else { return }
        let position = ReplicaPosition(
            target: target.description, databasePath: configuration.databasePath, generation: generation,
            txn: shippedTxn, pageSize: pageSize, cursor: pending.isEmpty ? tail.cursor : shippedCursor,
            lastComplete: tail.lastComplete, journalOffset: journalOffset, lastSnapshotAt: lastSnapshotAt,
            databaseFingerprint: fingerprint, savedAt: Date())
        do {
            try position.save(configuration.positionPath)
        } catch {
            logger.warning("replica: cannot save the position file", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Blobs

    func journalHasNews() -> Bool {
        guard let blobs = configuration.blobsDirectory, let size = LocalFile.fileSize(blobs + "/journal") else {
            return false
        }
        return size > journalOffset
    }

    /// Copies blobs new since the last call (the journal's new lines; everything missing on the
    /// target on the first call of a process without a saved journal position).
    func shipBlobs() async throws {
        guard let root = configuration.blobsDirectory else { return }
        let journal = root + "/journal"
        let offset = journalOffset
        let scan = needsBlobScan
        // Read the journal first: a scan that misses a blob put meanwhile finds it in the journal next time.
        let (lines, newOffset) = try await Blocking.run { try Self.readJournal(journal, from: offset) }
        var names: [String] = []
        for hex in lines { names += Self.blobFiles(root: root, hex: hex) }
        if scan {
            // Everything local that the target lacks (the journal's lines included: a new
            // generation reads the journal from wherever its offset is, possibly the start).
            let local = try await Blocking.run { Self.allBlobFiles(root: root) }
            let remote = Set(try await target.list(prefix: ReplicaLayout.blobsPrefix).map(\.key))
            names = (names + local).filter { !remote.contains(ReplicaLayout.blobKey($0)) }
        }
        var seen = Set<String>()
        for name in names where seen.insert(name).inserted {
            let path = root + "/" + name
            guard LocalFile.exists(path) else { continue }  // deleted by the GC meanwhile: nothing references it
            try await target.put(ReplicaLayout.blobKey(name), contentsOf: path)
            blobsToAnnounce.append(name)
            let size = LocalFile.fileSize(path) ?? 0
            publish {
                $0.blobsShipped += 1
                $0.bytesShipped += size
            }
        }
        journalOffset = newOffset
        needsBlobScan = false
    }

    /// Complete `<hex>\n` lines after `offset`; the offset after the last complete line.
    static func readJournal(_ path: String, from offset: Int64) throws -> ([String], Int64) {
        let fd: Int32
        do {
            fd = try LocalFile.open(path, O_RDONLY)
        } catch let failure as POSIXFailure where failure.isNotFound {
            return ([], offset)
        }
        defer { close(fd) }
        let size = try LocalFile.size(fd, path)
        guard size > offset else { return ([], offset) }
        let bytes = try LocalFile.pread(fd, path, count: Int(size - offset), offset: offset)
        guard let end = bytes.lastIndex(of: UInt8(ascii: "\n")) else { return ([], offset) }
        let lines = bytes[...end].split(separator: UInt8(ascii: "\n")).compactMap { line -> String? in
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard text.count == 64, text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                return nil
            }
            return text
        }
        return (lines, offset + Int64(end) + 1)
    }

    /// The files of one blob relative to the blob root (`ab/cd/<hex>`, `.zst`, `.meta`) that exist.
    static func blobFiles(root: String, hex: String) -> [String] {
        let folder = "\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))"
        return [hex, hex + ".zst", hex + ".meta"].map { "\(folder)/\($0)" }.filter { LocalFile.exists(root + "/" + $0) }
    }

    /// Every blob file under the root (`ab/cd/*`, skipping temporaries and the journal).
    static func allBlobFiles(root: String) -> [String] {
        var result: [String] = []
        for first in LocalFile.entries(root) where first.count == 2 && LocalFile.isDirectory(root + "/" + first) {
            for second in LocalFile.entries(root + "/" + first) where second.count == 2 {
                let folder = root + "/" + first + "/" + second
                for name in LocalFile.entries(folder) where !name.hasPrefix(".") && name.count >= 64 {
                    let relative = "\(first)/\(second)/\(name)"
                    if ReplicaKey.isValid(relative) { result.append(relative) }
                }
            }
        }
        return result.sorted()
    }

    /// At a clean stop: a last checkpoint (everything read first, then shipped), and when it
    /// copied every frame we read, the database fingerprint that lets the next start continue
    /// this generation even if the WAL is removed when the last connection closes.
    func cleanStop() async {
        guard generation != nil, pending.isEmpty, !targetFailing else { return }
        do {
            try await checkpointLocked()
        } catch {
            return
        }
        await ship()
        guard generation != nil, pending.isEmpty, !targetFailing, let cursor = tail.cursor,
            tail.lastComplete?.covers(cursor) == true
        else { return }
        let pool = pool
        guard let fingerprint = try? await Blocking.run({ try DatabaseFingerprint.compute(pool: pool) }) else { return }
        savePosition(fingerprint: fingerprint)
    }

    // MARK: Checkpoint

    /// A PASSIVE checkpoint inside the writer, reading before and after (see `WALTailer.checkpoint`).
    func checkpointLocked() async throws {
        let walPath = configuration.walPath
        let reading = generation != nil
        let state = tail
        let pool = pool
        let now = Date()
        let (result, newState, outcome, failure) = try await Blocking.run {
            pool.writeWithoutTransaction { db in
                var state = state
                let (result, outcome, failure) = WALTailer.checkpoint(
                    db: db, walPath: walPath, state: &state, reading: reading, now: now)
                return (result, state, outcome, failure.map { "\($0)" })
            }
        }
        syncsSinceCheckpoint = 0
        if reading {
            _ = await accept(result, state: newState)
            if failure == nil, generation != nil { noteRead(at: now) }
        } else {
            tail.lastComplete = newState.lastComplete
        }
        if let failure { throw ReplicaError(.unavailable, "checkpoint: \(failure)") }
        if let outcome, outcome.busy {
            logger.debug("replica: checkpoint could not finish (readers)", metadata: ["frames": "\(outcome.logFrames)"])
        }
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
