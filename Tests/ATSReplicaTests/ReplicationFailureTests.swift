import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Testing

@testable import ATSReplica

/// A TRUNCATE checkpoint run by someone else than the replicator.
func foreignTruncate(_ pool: DatabasePool) throws {
    try pool.writeWithoutTransaction { db in _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
}

@Suite("Replication: outages, WAL restarts, process restarts")
struct ReplicationFailureTests {
    @Test("an unwritable target never blocks or fails writes; replication catches up when it returns")
    func outageThenCatchUp() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let root = targetFolder.path + "/replica"
        let target = FileReplicaTarget(root: root)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 21)
        try run(&workload, on: live.pool, count: 10)
        #expect(await replicator.sync())
        let generation = try #require(replicator.status.generation)

        let outage = Outage(root: root)
        try outage.begin()
        for round in 0..<6 {
            let started = ContinuousClock.now
            try run(&workload, on: live.pool, count: 10)
            #expect(ContinuousClock.now - started < .seconds(2), "writes are not held up by the target")
            _ = try live.addBlob(Array("blob during outage \(round)".utf8))
            #expect(await replicator.sync() == false)
            // Checkpoints continue: the frames wait in memory.
            try await replicator.checkpoint()
        }
        var status = replicator.status
        #expect(status.lastError != nil)
        #expect(status.errors > 0)
        #expect(status.pendingTransactions >= 60)
        #expect(status.lagSeconds > 0)
        #expect(status.generation == generation)

        try outage.end()
        #expect(await replicator.sync())
        status = replicator.status
        #expect(status.lastError == nil)
        #expect(status.pendingTransactions == 0)
        #expect(status.lagSeconds == 0)
        #expect(status.generation == generation, "the chain survived the outage")
        #expect(status.generationsStarted == 1)
        let out = TemporaryFolder("restore")
        let (report, directory) = try await restoreLatest(target, into: out)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
        #expect(report.blobsRestored == 6)
    }

    @Test("past the pending bound, a long outage ends in a new generation with a snapshot, and nothing is lost")
    func outageBeyondBound() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let root = targetFolder.path + "/replica"
        let target = FileReplicaTarget(root: root)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target) { $0.maxPendingBytes = 256 << 10 }
        var workload = Workload(seed: 22)
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync())
        let first = try #require(replicator.status.generation)
        let outage = Outage(root: root)
        try outage.begin()
        for _ in 0..<8 {
            try run(&workload, on: live.pool, count: 20)
            _ = await replicator.sync()
            try await replicator.checkpoint()
        }
        #expect(replicator.status.generation == nil)
        #expect(replicator.status.lagSeconds > 0)
        try outage.end()
        // The generation restarts after the backoff.
        for _ in 0..<100 where replicator.status.generation == nil {
            try await Task.sleep(for: .milliseconds(100))
            _ = await replicator.sync()
        }
        let second = try #require(replicator.status.generation)
        #expect(second > first)
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync(), "\(replicator.status)")
        let out = TemporaryFolder("restore")
        let (report, directory) = try await restoreLatest(target, into: out)
        #expect(report.generation == second)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
    }

    @Test("many checkpoints and WAL restarts in a row keep one unbroken chain, with another connection writing too")
    func walRestarts() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        // Another "process": a second pool on the file, also without automatic checkpoints.
        let other = try LiveDatabase.open(live.path, readers: 1)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 31)
        var otherWorkload = Workload(seed: 32)
        var salts = Set<UInt32>()
        for round in 0..<40 {
            try run(&workload, on: live.pool, count: 1 + round % 3)
            if round % 2 == 0 { try run(&otherWorkload, on: other, count: 1) }
            #expect(await replicator.sync())
            try await replicator.checkpoint()
            if round % 3 == 0 { try run(&otherWorkload, on: other, count: 1) }
            if let header = try WALFile(path: live.walPath)?.header() { salts.insert(header.salt1) }
        }
        #expect(await replicator.sync())
        #expect(salts.count >= 20, "the WAL restarted \(salts.count) times")
        let status = replicator.status
        #expect(status.generationsStarted == 1)
        #expect(status.errors == 0)
        let catalog = try await ReplicaCatalog.list(target)
        #expect(catalog.count == 1)
        #expect(catalog[0].gaps.isEmpty)
        let out = TemporaryFolder("restore")
        let (_, directory) = try await restoreLatest(target, into: out)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
        try other.close()
        #expect(try await replicator.verify().ok)
    }

    @Test("a checkpoint the replicator did not run breaks the chain; a new generation starts and nothing is lost")
    func foreignCheckpointStartsGeneration() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 41)
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync())
        let first = try #require(replicator.status.generation)
        // Unshipped transactions, then someone else checkpoints and the WAL restarts.
        try run(&workload, on: live.pool, count: 5)
        try foreignTruncate(live.pool)
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync())
        let second = try #require(replicator.status.generation)
        #expect(second != first)
        #expect(replicator.status.generationsStarted == 2)
        let out = TemporaryFolder("restore")
        let (_, directory) = try await restoreLatest(target, into: out)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
    }

    @Test("a new process continues the chain from position.json when the WAL proves continuity")
    func resumeAfterRestart() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        var workload = Workload(seed: 51)
        let generation: String
        do {
            let first = makeReplicator(live, target)
            try run(&workload, on: live.pool, count: 10)
            #expect(await first.sync())
            try await first.checkpoint()
            try run(&workload, on: live.pool, count: 10)  // a restart of the WAL, not shipped by this one
            #expect(await first.sync())
            try run(&workload, on: live.pool, count: 7)  // committed, never read: the "crash"
            generation = try #require(first.status.generation)
        }
        let second = makeReplicator(live, target)
        try run(&workload, on: live.pool, count: 3)
        #expect(await second.sync())
        #expect(second.status.generation == generation)
        #expect(second.status.generationsStarted == 0)
        let out = TemporaryFolder("restore")
        let (_, directory) = try await restoreLatest(target, into: out)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
        // The standalone verifier (no replicator running) agrees, through the position file.
        let report = try await ReplicaVerifier.verify(target: target, databasePath: live.path, pool: live.pool)
        #expect(report.ok, "\(report)")
    }

    @Test("after a clean stop the next process continues the chain even though closing removed the WAL")
    func resumeAfterCleanStop() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        var workload = Workload(seed: 52)
        let first = makeReplicator(live, target)
        try run(&workload, on: live.pool, count: 10)
        #expect(await first.sync())
        try run(&workload, on: live.pool, count: 5)
        await first.finalSync()
        let generation = try #require(first.status.generation)
        try live.pool.close()
        // A GRDB pool closes its writer before its readers, so it leaves the WAL in place; a
        // plain connection closing last (another process, the sqlite3 shell) checkpoints and
        // removes it.
        try DatabaseQueue(path: live.path).close()
        #expect(!FileManager.default.fileExists(atPath: live.walPath))

        let pool = try LiveDatabase.open(live.path)  // GRDB writes a throwaway transaction here
        let second = makeReplicator(live, target, pool: pool)
        try run(&workload, on: pool, count: 5)
        #expect(await second.sync())
        #expect(second.status.generation == generation)
        #expect(second.status.generationsStarted == 0)
        let out = TemporaryFolder("restore")
        let (_, directory) = try await restoreLatest(target, into: out)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(pool)))

        // Another process that writes and closes last checkpoints behind our back: a new generation.
        await second.finalSync()
        try pool.close()
        let other = try LiveDatabase.open(live.path)
        try run(&workload, on: other, count: 3)
        try other.close()
        try DatabaseQueue(path: live.path).close()  // checkpoints the other writes into the file
        let pool3 = try LiveDatabase.open(live.path)
        let third = makeReplicator(live, target, pool: pool3)
        #expect(await third.sync())
        #expect(third.status.generationsStarted == 1)
        #expect(third.status.generation != generation)
        let (_, again) = try await restoreLatest(target, into: out, name: "again")
        #expect(try dump(path: again + "/ats.sqlite") == (try dump(pool3)))
        try pool3.close()
    }

    @Test("the service loop ships continuously and its graceful shutdown ships the last writes")
    func serviceLoop() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target) {
            $0.checkpointFrames = 20
            $0.checkpointEverySyncs = 3
        }
        let group = ServiceGroup(configuration: .init(services: [replicator], logger: testLogger))
        let running = Task { try await group.run() }
        var workload = Workload(seed: 61)
        for _ in 0..<20 {
            try run(&workload, on: live.pool, count: 5)
            try await Task.sleep(for: .milliseconds(20))
        }
        try run(&workload, on: live.pool, count: 5)
        await group.triggerGracefulShutdown()
        try await running.value
        let status = replicator.status
        #expect(status.pendingTransactions == 0)
        #expect(status.generationsStarted == 1)
        let out = TemporaryFolder("restore")
        let (_, directory) = try await restoreLatest(target, into: out)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
        // It checkpointed along the way: the WAL restarted at least once.
        let header = try #require(try WALFile(path: live.walPath)?.header())
        let size = try WALFile(path: live.walPath)?.size() ?? 0
        #expect(header.checkpointSequence > 0 || size < 200 * 4120)
    }

    @Test("retention deletes old objects but never the newest restorable chain")
    func retention() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target) {
            $0.segmentRetention = .seconds(3600)
            $0.snapshotRetention = .seconds(3600)
            $0.minimumSnapshots = 1
        }
        var workload = Workload(seed: 71)
        for round in 0..<6 {
            try run(&workload, on: live.pool, count: 4)
            #expect(await replicator.sync())
            if round == 2 { _ = try await replicator.snapshotNow() }
        }
        // Everything is young: nothing goes but segments no kept snapshot can reach... none yet.
        let young = try await replicator.enforceRetention()
        #expect(young.deletedSnapshots.isEmpty)
        // Two hours later: only the newest snapshot and the segments after it stay.
        let report = try await replicator.enforceRetention(now: Date().addingTimeInterval(7200))
        #expect(report.deletedSnapshots.count == 1)
        let catalog = try await ReplicaCatalog.list(target)
        let chain = try #require(catalog.last?.newestChain)
        #expect(catalog.last!.snapshots.count == 1)
        #expect(catalog.last!.segments.allSatisfy { $0.last > chain.snapshot.txn })
        #expect(chain.through == replicator.status.shippedTxn)
        let out = TemporaryFolder("restore")
        let (_, directory) = try await restoreLatest(target, into: out)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
        // An old generation goes whole once its snapshots expire.
        try foreignTruncate(live.pool)
        try run(&workload, on: live.pool, count: 2)
        #expect(await replicator.sync())
        #expect(try await ReplicaCatalog.list(target).count == 2)
        let later = try await replicator.enforceRetention(now: Date().addingTimeInterval(7200))
        #expect(later.deletedGenerations.count == 1)
        #expect(try await ReplicaCatalog.list(target).count == 1)
    }
}
