import Foundation
import GRDB
import Testing

@testable import ATSReplica

@Suite("Standby follower and checkpointer")
struct StandbyTests {
    @Test("the standby applies new segments under a barrier; its own pool then reads new rows and a new table")
    func standbyFollows() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 81)
        try run(&workload, on: live.pool, count: 10)
        #expect(await replicator.sync())

        let standby = TemporaryFolder("standby")
        let preparation = try await StandbyFollower.prepare(target: target, dataDirectory: standby.path)
        guard case .restored(let generation, _) = preparation else {
            Issue.record("expected a restore, got \(preparation)")
            return
        }
        #expect(generation == replicator.status.generation)
        let pool = try LiveDatabase.open(standby.path + "/ats.sqlite")
        let follower = StandbyFollower(
            target: target, pool: pool, configuration: .init(dataDirectory: standby.path, generationCheckPolls: 1))
        #expect(try dump(pool) == (try dump(live.pool)))
        #expect(try await follower.poll() == .upToDate)

        // New rows and a new table on the primary; the standby's readers have warm caches.
        try syncWrite(live.pool) { db in
            try db.execute(sql: "CREATE TABLE shortlist (id INTEGER PRIMARY KEY, candidate INTEGER, note TEXT)")
            try db.execute(sql: "INSERT INTO shortlist (candidate, note) SELECT id, name FROM candidate LIMIT 5")
        }
        try run(&workload, on: live.pool, count: 10)
        let blob = try live.addBlob(Array("standby blob".utf8))
        #expect(await replicator.sync())
        let outcome = try await follower.poll()
        guard case .applied(let count, let txn) = outcome else {
            Issue.record("expected applied, got \(outcome)")
            return
        }
        #expect(count == 11)
        #expect(txn == replicator.status.shippedTxn)
        #expect(try syncRead(pool) { try Int.fetchOne($0, sql: "SELECT count(*) FROM shortlist") } == 5)
        #expect(try dump(pool) == (try dump(live.pool)))
        #expect(
            FileManager.default.fileExists(
                atPath: standby.path + "/blobs/\(blob.prefix(2))/\(blob.dropFirst(2).prefix(2))/\(blob)"))

        // Checkpoints and WAL restarts on the primary; deletes that shrink the file.
        for round in 0..<6 {
            try run(&workload, on: live.pool, count: 5)
            if round == 3 { try syncWrite(live.pool) { try $0.execute(sql: "DELETE FROM candidate WHERE id % 2 = 0") } }
            if round == 4 { try syncWriteWithoutTransaction(live.pool) { try $0.execute(sql: "VACUUM") } }
            #expect(await replicator.sync())
            try await replicator.checkpoint()
            _ = try await follower.poll()
            #expect(try dump(pool) == (try dump(live.pool)), "round \(round)")
        }
        let status = follower.status
        #expect(status.txn == replicator.status.shippedTxn)
        #expect(status.lagSeconds == 0)
        #expect(status.lastError == nil)

        // A new generation on the primary (a checkpoint it did not run dropped unread frames):
        // the standby prepares a fresh copy and asks for a reopen.
        try run(&workload, on: live.pool, count: 3)
        try foreignTruncate(live.pool)
        try run(&workload, on: live.pool, count: 3)
        #expect(await replicator.sync())
        #expect(replicator.status.generationsStarted == 2)
        #expect(try await follower.poll() == .needsReopen)
        #expect(follower.status.needsReopen)
        try pool.close()
        let again = try await StandbyFollower.prepare(target: target, dataDirectory: standby.path)
        #expect(again == .restored(generation: replicator.status.generation!, txn: replicator.status.shippedTxn))
        let reopened = try LiveDatabase.open(standby.path + "/ats.sqlite")
        #expect(try dump(reopened) == (try dump(live.pool)))

        // Promotion: the folder becomes a primary.
        let second = StandbyFollower(
            target: target, pool: reopened, configuration: .init(dataDirectory: standby.path, generationCheckPolls: 1))
        #expect(try await second.poll() == .upToDate)
        try await second.promote()
        #expect(second.status.promoted)
        try reopened.close()
        #expect(try await StandbyFollower.prepare(target: target, dataDirectory: standby.path) == .promoted)
    }

    @Test("a write on the standby's own database is divergence: it asks for a fresh copy")
    func divergenceDetected() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 82)
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync())
        let standby = TemporaryFolder("standby")
        _ = try await StandbyFollower.prepare(target: target, dataDirectory: standby.path)
        let pool = try LiveDatabase.open(standby.path + "/ats.sqlite")
        let follower = StandbyFollower(
            target: target, pool: pool, configuration: .init(dataDirectory: standby.path, generationCheckPolls: 1))
        try syncWrite(pool) { try $0.execute(sql: "INSERT INTO candidate (name) VALUES ('written on the standby')") }
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync())
        #expect(try await follower.poll() == .needsReopen)
        try pool.close()
        _ = try await StandbyFollower.prepare(target: target, dataDirectory: standby.path)
        #expect(try dump(path: standby.path + "/ats.sqlite") == (try dump(live.pool)))
    }

    @Test("the checkpointer keeps the WAL small: PASSIVE past the threshold, TRUNCATE once idle")
    func checkpointer() async throws {
        let live = try LiveDatabase()
        try createSchema(live.pool)
        var workload = Workload(seed: 91)
        try run(&workload, on: live.pool, count: 40)
        let checkpointer = Checkpointer(
            pool: live.pool, databasePath: live.path, configuration: .init(interval: .milliseconds(10), frames: 10),
            logger: testLogger)
        let size = try #require(try WALFile(path: live.walPath)?.size())
        #expect(size > 10 * 4120)
        let modified = await checkpointer.tick(lastModified: nil)
        #expect(modified != nil)
        // The PASSIVE one copied everything: the next writer restarts the WAL at frame 1.
        try run(&workload, on: live.pool, count: 1)
        let transactions = try WALFile(path: live.walPath)?.readTransactionsFromStart()
        #expect(transactions == 1)
        // Idle for a tick: truncated to nothing.
        let idle = await checkpointer.tick(lastModified: nil)
        _ = await checkpointer.tick(lastModified: idle)
        #expect((try WALFile(path: live.walPath)?.size() ?? 0) == 0)
        #expect(try dump(live.pool).count > 10)
    }
}

extension WALFile {
    /// How many committed transactions the WAL holds from its start.
    func readTransactionsFromStart() throws -> Int {
        guard let header = try header() else { return 0 }
        var cursor = WALCursor(header: header)
        return try readTransactions(after: &cursor, now: Date()).count
    }
}
