import Foundation
import GRDB
import Synchronization
import Testing

@testable import ATSReplica

#if canImport(Glibc)
import Glibc
#endif

/// A folder target whose operations can be slowed down (a slow network share), to hold the
/// replicator or the follower inside an await.
final class SlowTarget: ReplicaTarget {
    let base: FileReplicaTarget
    /// Delay for the next put / get of a key containing the string.
    let delays = Mutex<(put: (String, Duration)?, get: (String, Duration)?)>((nil, nil))

    init(_ base: FileReplicaTarget) { self.base = base }

    var description: String { base.description }

    func slowPuts(_ containing: String, _ delay: Duration) { delays.withLock { $0.put = (containing, delay) } }
    func slowGets(_ containing: String, _ delay: Duration) { delays.withLock { $0.get = (containing, delay) } }

    /// Each rule delays the first matching call only.
    func wait(_ key: String, put: Bool) async throws {
        let delay: Duration? = delays.withLock { rules in
            if put, let rule = rules.put, key.contains(rule.0) {
                rules.put = nil
                return rule.1
            }
            if !put, let rule = rules.get, key.contains(rule.0) {
                rules.get = nil
                return rule.1
            }
            return nil
        }
        if let delay { try await Task.sleep(for: delay) }
    }

    func put(_ key: String, bytes: [UInt8]) async throws {
        try await wait(key, put: true)
        try await base.put(key, bytes: bytes)
    }
    func put(_ key: String, contentsOf path: String) async throws {
        try await wait(key, put: true)
        try await base.put(key, contentsOf: path)
    }
    func get(_ key: String) async throws -> [UInt8] {
        try await wait(key, put: false)
        return try await base.get(key)
    }
    func list(prefix: String) async throws -> [ReplicaObject] { try await base.list(prefix: prefix) }
    func delete(_ key: String) async throws { try await base.delete(key) }
}

struct CrashForTest: Error {}

@Suite("Review fixes: blobs on new targets, standby crash safety, lag, races, timeouts")
struct ReviewFixTests {
    // 1. A new or wiped target gets the old blobs.
    @Test("a wiped or new target gets every blob, even with a journal offset in position.json")
    func newTargetGetsOldBlobs() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path + "/replica")
        try createSchema(live.pool)
        var workload = Workload(seed: 101)
        for index in 0..<3 { _ = try live.addBlob(Array("old blob \(index)".utf8)) }
        try run(&workload, on: live.pool, count: 5)
        #expect(await makeReplicator(live, target).sync())

        // The target is wiped; the next process still has position.json (journal offset at the end).
        try FileManager.default.removeItem(atPath: targetFolder.path + "/replica")
        let second = makeReplicator(live, target)
        try run(&workload, on: live.pool, count: 2)
        #expect(await second.sync())
        #expect(second.status.generationsStarted == 1)
        let out = TemporaryFolder("restore")
        let (report, directory) = try await restoreLatest(target, into: out)
        #expect(report.blobsRestored == 3)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))

        // Another target altogether.
        let otherFolder = TemporaryFolder("other")
        let other = FileReplicaTarget(root: otherFolder.path)
        #expect(await makeReplicator(live, other).sync())
        let (otherReport, _) = try await restoreLatest(other, into: out, name: "other")
        #expect(otherReport.blobsRestored == 3)
    }

    // 2. A standby that crashes mid-apply never serves or promotes the half-written file.
    @Test("a crash while pages are written leaves a marker: promote refuses, prepare restores afresh")
    func crashMidApply() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 102)
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync())
        let standby = TemporaryFolder("standby")
        _ = try await StandbyFollower.prepare(target: target, dataDirectory: standby.path)
        let pool = try LiveDatabase.open(standby.path + "/ats.sqlite")
        let follower = StandbyFollower(
            target: target, pool: pool, configuration: .init(dataDirectory: standby.path, generationCheckPolls: 1),
            logger: testLogger)
        #expect(try await follower.poll() == .upToDate)

        try run(&workload, on: live.pool, count: 20)
        try syncWrite(live.pool) { try $0.execute(sql: "DELETE FROM candidate WHERE id % 3 = 0") }
        #expect(await replicator.sync())
        await follower.setApplyHook { throw CrashForTest() }
        await #expect(throws: CrashForTest.self) { try await follower.poll() }
        // The process "dies" here: the marker is on disk.
        let json = try String(contentsOfFile: standby.path + "/replica/standby.json", encoding: .utf8)
        #expect(json.contains("applying"))
        await #expect(throws: ReplicaError.self) { try await follower.promote() }
        #expect(!FileManager.default.fileExists(atPath: standby.path + "/replica/promoted"))
        try pool.close()

        let again = try await StandbyFollower.prepare(target: target, dataDirectory: standby.path)
        #expect(again == .restored(generation: replicator.status.generation!, txn: replicator.status.shippedTxn))
        #expect(try dump(path: standby.path + "/ats.sqlite") == (try dump(live.pool)))
        let json2 = try String(contentsOfFile: standby.path + "/replica/standby.json", encoding: .utf8)
        #expect(!json2.contains("applying"))
    }

    // 3. Lag is honest while an operation holds the replicator; snapshots do not hold it.
    @Test("lag grows while a slow verify keeps the replicator from reading the WAL")
    func lagDuringSlowVerify() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = SlowTarget(FileReplicaTarget(root: targetFolder.path))
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 103)
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync())
        target.slowGets(".snapshot", .milliseconds(2000))
        let verify = Task { try await replicator.verify() }
        try await Task.sleep(for: .milliseconds(1400))
        try run(&workload, on: live.pool, count: 3)  // committed, not read while the verify runs
        let lag = replicator.status.lagSeconds
        #expect(lag >= 1.2, "lag \(lag)")
        #expect(try await verify.value.ok)
        #expect(await replicator.sync())
        #expect(replicator.status.lagSeconds == 0)
    }

    @Test("syncs go on while a snapshot is compressed and put")
    func syncDuringSlowSnapshot() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = SlowTarget(FileReplicaTarget(root: targetFolder.path))
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 108)
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync())
        try run(&workload, on: live.pool, count: 2)
        // Generous times: the image of this small database is built long before the slow put
        // ends, even on a loaded 2-core machine running every suite at once.
        target.slowPuts(".snapshot", .milliseconds(6000))
        let snapshot = Task { try await replicator.snapshotNow() }
        try await Task.sleep(for: .milliseconds(2000))
        let before = replicator.status.shippedTxn
        try run(&workload, on: live.pool, count: 3)
        let started = ContinuousClock.now
        #expect(await replicator.sync())
        #expect(ContinuousClock.now - started < .milliseconds(3000), "the sync did not wait for the snapshot")
        #expect(replicator.status.shippedTxn == before + 3)
        #expect(replicator.status.lagSeconds == 0)
        let info = try await snapshot.value
        #expect(info.txn == before)
        #expect(replicator.status.snapshots == 2)
        let catalog = try await ReplicaCatalog.list(target)
        #expect(catalog.last?.snapshots.map(\.txn) == [0, before])
        let out = TemporaryFolder("restore")
        let (_, directory) = try await restoreLatest(target, into: out)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
        #expect(try await replicator.verify().ok)
    }

    // 4. Poll and promote never interleave.
    @Test("promote during a poll waits for it: the promoted folder is exactly the applied state")
    func promoteWaitsForPoll() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let base = FileReplicaTarget(root: targetFolder.path)
        let target = SlowTarget(base)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, base)
        var workload = Workload(seed: 104)
        try run(&workload, on: live.pool, count: 5)
        #expect(await replicator.sync())
        let standby = TemporaryFolder("standby")
        _ = try await StandbyFollower.prepare(target: base, dataDirectory: standby.path)
        let pool = try LiveDatabase.open(standby.path + "/ats.sqlite")
        let follower = StandbyFollower(
            target: target, pool: pool, configuration: .init(dataDirectory: standby.path, generationCheckPolls: 1),
            logger: testLogger)
        try run(&workload, on: live.pool, count: 8)
        #expect(await replicator.sync())
        target.slowGets(".segment", .milliseconds(500))
        let polling = Task { try await follower.poll() }
        try await Task.sleep(for: .milliseconds(150))
        try await follower.promote()
        let outcome = try await polling.value
        #expect(outcome == .applied(transactions: 8, txn: replicator.status.shippedTxn))
        let marker = try String(contentsOfFile: standby.path + "/replica/promoted", encoding: .utf8)
        #expect(marker.contains("txn \(replicator.status.shippedTxn)"), "\(marker)")
        #expect(try dump(pool) == (try dump(live.pool)))
        #expect(try await follower.poll() == .promoted)
        try pool.close()
    }

    // 5. Another process restarting the WAL between our checkpoint and our second read.
    @Test("a WAL restart by another connection right after our complete checkpoint continues the chain")
    func restartInsideCheckpointWindow() throws {
        let live = try LiveDatabase()
        try createSchema(live.pool)
        let other = try LiveDatabase.open(live.path, readers: 1)
        defer { try? other.close() }
        var workload = Workload(seed: 105)
        var otherWorkload = Workload(seed: 106)
        try run(&workload, on: live.pool, count: 5)
        let walPath = live.walPath
        let before = try #require(try WALFile(path: walPath)?.header())
        let ours = try #require(try WALFile(path: walPath)?.readTransactionsFromStart())
        var state = TailState()
        var otherError: (any Error)?
        let (result, outcome, failure) = try live.pool.writeWithoutTransaction { db in
            WALTailer.checkpoint(
                db: db, walPath: walPath, state: &state, reading: true, now: Date(),
                afterCheckpoint: {
                    do { try run(&otherWorkload, on: other, count: 2) } catch { otherError = error }
                })
        }
        #expect(otherError == nil)
        #expect(failure == nil)
        #expect(outcome?.complete == true)
        let after = try #require(try WALFile(path: walPath)?.header())
        #expect(after.salt1 == before.salt1 &+ 1, "the other connection restarted the WAL")
        guard case .transactions(let transactions) = result else {
            Issue.record("the chain broke: \(result)")
            return
        }
        // Ours before the checkpoint, then everything in the restarted WAL (the other
        // connection's two, and whatever GRDB wrote opening its writer).
        let restarted = try #require(try WALFile(path: walPath)?.readTransactionsFromStart())
        #expect(restarted >= 2)
        #expect(transactions.count == ours + restarted)
        #expect(state.cursor?.salt1 == after.salt1)
    }

    // 6. A stale position.json never reuses transaction numbers.
    @Test("a position.json older than the target's segments starts a new generation")
    func stalePositionStartsGeneration() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        var workload = Workload(seed: 107)
        let first = makeReplicator(live, target)
        try run(&workload, on: live.pool, count: 10)
        #expect(await first.sync())
        let positionPath = live.data + "/replica/position.json"
        let saved = try Data(contentsOf: URL(fileURLWithPath: positionPath))
        try run(&workload, on: live.pool, count: 5)
        #expect(await first.sync())
        let generation = try #require(first.status.generation)
        try saved.write(to: URL(fileURLWithPath: positionPath))  // a position save that was lost

        let second = makeReplicator(live, target)
        try run(&workload, on: live.pool, count: 3)
        #expect(await second.sync())
        #expect(second.status.generationsStarted == 1)
        #expect(second.status.generation != generation)
        let catalog = try await ReplicaCatalog.list(target)
        #expect(catalog.allSatisfy { $0.gaps.isEmpty })
        let out = TemporaryFolder("restore")
        let (_, directory) = try await restoreLatest(target, into: out)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
    }

    // 7. A hung target fails instead of stalling forever.
    @Test("a target operation that hangs fails with .unavailable after the timeout")
    func hungTargetTimesOut() async throws {
        let folder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: folder.path, timeout: .milliseconds(300))
        let fifo = folder.path + "/hung"
        #expect(mkfifo(fifo, 0o644) == 0)
        // A FIFO without a writer blocks open(2) like a hung mount; a writer releases it.
        let release: @Sendable () -> Void = {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        let watchdog = Task {
            try await Task.sleep(for: .seconds(30))
            release()
        }
        let started = ContinuousClock.now
        var code: ReplicaError.Code?
        do {
            _ = try await target.get("hung")
        } catch let error as ReplicaError {
            code = error.code
        }
        let elapsed = ContinuousClock.now - started
        watchdog.cancel()
        release()
        #expect(code == .unavailable)
        // Well before the watchdog: the timeout fired, not the release (a loaded 2-core
        // machine running every suite at once can delay the timer by seconds).
        #expect(elapsed < .seconds(20), "took \(elapsed)")
    }
}
