import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Testing

@testable import ATSReplica

/// Runs `count` workload transactions synchronously (each its own commit).
func run(_ workload: inout Workload, on pool: DatabasePool, count: Int) throws {
    for _ in 0..<count { try pool.write { try workload.transaction($0) } }
}

func createSchema(_ pool: DatabasePool) throws {
    try pool.write { try Workload.createSchema($0) }
}

func makeReplicator(
    _ live: LiveDatabase, _ target: any ReplicaTarget, pool: DatabasePool? = nil,
    tweak: (inout Replicator.Configuration) -> Void = { _ in }
) -> Replicator {
    var configuration = Replicator.Configuration(dataDirectory: live.data)
    configuration.syncInterval = .milliseconds(50)
    tweak(&configuration)
    return Replicator(pool: pool ?? live.pool, target: target, configuration: configuration, logger: testLogger)
}

func restoreLatest(_ target: any ReplicaTarget, into folder: TemporaryFolder, name: String = "restored") async throws
    -> (RestoreReport, String)
{
    let plan = try await ReplicaRestorer.plan(target: target)
    let directory = folder.path + "/" + name
    let report = try await ReplicaRestorer.restore(plan, from: target, to: directory)
    return (report, directory)
}

@Suite("Replication: ship, restore, verify")
struct ReplicationTests {
    @Test("random writes and schema migrations replicate; the restored dump equals the primary's, blobs included")
    func randomWritesRestoreEqual() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        #expect(await replicator.sync())  // the generation starts: snapshot of the empty schema
        var workload = Workload(seed: 7)
        var blobs: [String: [UInt8]] = [:]
        var random = SeededGenerator(seed: 99)
        for round in 0..<24 {
            try run(&workload, on: live.pool, count: 12)
            if round % 3 == 0 {
                let content = (0..<Int.random(in: 10...5000, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }
                blobs[try live.addBlob(content)] = content
            }
            #expect(await replicator.sync())
            if round % 5 == 4 { try await replicator.checkpoint() }
        }
        let status = replicator.status
        #expect(status.generationsStarted == 1)
        #expect(status.errors == 0)
        #expect(status.lagSeconds == 0)
        #expect(status.shippedTxn >= 24 * 12)
        #expect(status.blobsShipped == blobs.count)

        let out = TemporaryFolder("restore")
        let (report, directory) = try await restoreLatest(target, into: out)
        #expect(report.integrity == "ok")
        #expect(report.txn == status.shippedTxn)
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
        #expect(report.blobsRestored == blobs.count)
        for (hex, content) in blobs {
            let path = directory + "/blobs/\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex)"
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == content)
        }
        // Every object is what its name says.
        let generations = try await ReplicaCatalog.list(target)
        #expect(generations.count == 1)
        #expect(generations[0].gaps.isEmpty)
        #expect(generations[0].restorable == [0...status.shippedTxn])

        let verified = try await replicator.verify()
        #expect(verified.ok, "\(verified)")
        #expect(replicator.status.lastVerifyOK == true)
    }

    @Test("restoring to recorded instants and transactions gives the state at each")
    func pointInTime() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 11)
        var instants: [(time: Date, txn: Int64, dump: [String])] = []
        for round in 0..<8 {
            try run(&workload, on: live.pool, count: 15)
            #expect(await replicator.sync())
            if round == 3 { try await replicator.checkpoint() }
            if round == 5 { _ = try await replicator.snapshotNow() }
            try await Task.sleep(for: .milliseconds(5))
            instants.append((Date(), replicator.status.shippedTxn, try dump(live.pool)))
            try await Task.sleep(for: .milliseconds(5))
        }
        let out = TemporaryFolder("pitr")
        for (index, instant) in instants.enumerated() where index % 2 == 0 || index == instants.count - 1 {
            let plan = try await ReplicaRestorer.plan(target: target, at: instant.time)
            #expect(plan.txn == instant.txn, "\(plan)")
            let report = try await ReplicaRestorer.restore(
                plan, from: target, to: out.path + "/at-\(index)", blobs: false)
            #expect(try dump(path: report.databasePath) == instant.dump, "state at instant \(index)")
        }
        for (index, instant) in instants.enumerated() where index % 2 == 1 {
            let plan = try await ReplicaRestorer.plan(target: target, txn: instant.txn)
            let report = try await ReplicaRestorer.restore(
                plan, from: target, to: out.path + "/txn-\(index)", blobs: false)
            #expect(try dump(path: report.databasePath) == instant.dump, "state at txn \(instant.txn)")
        }
        // Before the first snapshot: nothing to restore.
        await #expect { try await ReplicaRestorer.plan(target: target, at: Date(timeIntervalSince1970: 0)) } throws: {
            ($0 as? ReplicaError)?.code == .notFound
        }
        // A time flipped in the segment right after an instant cannot shorten that restore silently.
        let segments = try await target.list(prefix: "generations/").filter { $0.key.hasSuffix(".segment.zst") }
        let next = try #require(segments.first { ReplicaLayout.parseSegment($0.key)?.first == instants[2].txn + 1 })
        let path = target.root + "/" + next.key
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        try flipByte(path, at: 128 + 7)  // the low byte of its first commit time
        await #expect {
            try await ReplicaRestorer.plan(target: target, at: instants[2].time.addingTimeInterval(0.002))
        } throws: {
            ($0 as? ReplicaError)?.key == next.key
        }
        try original.write(to: URL(fileURLWithPath: path))

        // The dry run names what it will do.
        let plan = try await ReplicaRestorer.plan(target: target, at: instants[6].time)
        #expect(plan.description.contains("snapshots/"))
        #expect(plan.snapshot.txn > 0)  // the snapshot taken at round 5 is the closest
    }

    @Test("a flipped byte in a segment or a snapshot fails verify and stops restore, naming the object")
    func flippedBytes() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        #expect(await replicator.sync())
        var workload = Workload(seed: 5)
        for _ in 0..<5 {
            try run(&workload, on: live.pool, count: 8)
            #expect(await replicator.sync())
        }
        let objects = try await target.list(prefix: "generations/")
        let segments = objects.filter { $0.key.hasSuffix(".segment.zst") }
        let snapshot = try #require(objects.first { $0.key.hasSuffix(".snapshot.zst") })
        #expect(segments.count == 5)
        #expect(try await replicator.verify().ok)

        // Payload, time table, header field, checksum field, last byte: every place is caught.
        let segment = segments[2]
        for offset in [Int(segment.size) / 2, 130, 20, 100, Int(segment.size) - 1] {
            let path = target.root + "/" + segment.key
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            try flipByte(path, at: offset)
            let report = try await replicator.verify()
            #expect(!report.ok)
            #expect(report.firstDifference?.contains(segment.key) == true, "offset \(offset): \(report)")
            let out = TemporaryFolder("corrupt")
            await #expect("offset \(offset)") {
                let plan = try await ReplicaRestorer.plan(target: target)
                _ = try await ReplicaRestorer.restore(plan, from: target, to: out.path + "/data")
            } throws: { error in
                guard let error = error as? ReplicaError else { return false }
                return error.code == .corrupted && error.key == segment.key
            }
            #expect(!FileManager.default.fileExists(atPath: out.path + "/data/ats.sqlite"))
            try original.write(to: URL(fileURLWithPath: path))
        }

        let path = target.root + "/" + snapshot.key
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        for offset in [Int(snapshot.size) / 2, 40, Int(snapshot.size) - 3] {
            try flipByte(path, at: offset)
            let report = try await replicator.verify()
            #expect(!report.ok)
            #expect(report.firstDifference?.contains(snapshot.key) == true, "\(report)")
            let out = TemporaryFolder("corrupt")
            await #expect {
                let plan = try await ReplicaRestorer.plan(target: target)
                _ = try await ReplicaRestorer.restore(plan, from: target, to: out.path + "/data")
            } throws: { error in
                guard let error = error as? ReplicaError else { return false }
                return error.code == .corrupted && error.key == snapshot.key
            }
            try original.write(to: URL(fileURLWithPath: path))
        }
        #expect(try await replicator.verify().ok)

        // A flipped byte in a blob is caught on restore too.
        let hex = try live.addBlob(Array("a candidate's CV".utf8))
        #expect(await replicator.sync())
        let blobKey = "blobs/\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex)"
        try flipByte(target.root + "/" + blobKey, at: 3)
        let out = TemporaryFolder("corrupt-blob")
        await #expect {
            _ = try await restoreLatest(target, into: out)
        } throws: { ($0 as? ReplicaError)?.key == blobKey }
    }

    @Test("the catalog shows generations, snapshots, ranges and the window; restore never overwrites")
    func catalogAndSafety() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 12)
        for round in 0..<3 {
            try run(&workload, on: live.pool, count: 4)
            #expect(await replicator.sync())
            if round == 1 { _ = try await replicator.snapshotNow() }
        }
        let catalog = try await ReplicaCatalog.list(target)
        let info = try #require(catalog.first)
        #expect(info.snapshots.count == 2)
        #expect(info.snapshots.allSatisfy { $0.time != nil })
        #expect(info.restorable == [0...replicator.status.shippedTxn])
        #expect(info.restorableFrom != nil && info.restorableTo != nil)
        #expect(info.restorableFrom! <= info.restorableTo!)
        let text = info.description
        #expect(text.contains("generation \(info.name)"))
        #expect(text.contains("snapshot txn 0"))
        #expect(text.contains("segments: \(info.segments.count),"))

        // A restore never writes over a database.
        let out = TemporaryFolder("restore")
        let (_, directory) = try await restoreLatest(target, into: out)
        await #expect { _ = try await restoreLatest(target, into: out) } throws: {
            ($0 as? ReplicaError)?.code == .invalid
        }
        #expect(try dump(path: directory + "/ats.sqlite") == (try dump(live.pool)))
        // Nor does a standby start over a primary's data folder.
        await #expect { _ = try await StandbyFollower.prepare(target: target, dataDirectory: live.data) } throws: {
            ($0 as? ReplicaError)?.code == .invalid
        }
    }

    @Test("a missing segment is a gap: latest restore refuses and names the missing transaction")
    func gapDetected() async throws {
        let live = try LiveDatabase()
        let targetFolder = TemporaryFolder("target")
        let target = FileReplicaTarget(root: targetFolder.path)
        try createSchema(live.pool)
        let replicator = makeReplicator(live, target)
        var workload = Workload(seed: 6)
        for _ in 0..<4 {
            try run(&workload, on: live.pool, count: 3)
            #expect(await replicator.sync())
        }
        let segments = try await target.list(prefix: "generations/").filter { $0.key.hasSuffix(".segment.zst") }
        let removed = try #require(ReplicaLayout.parseSegment(segments[1].key))
        try await target.delete(segments[1].key)
        await #expect { try await ReplicaRestorer.plan(target: target) } throws: { error in
            guard let error = error as? ReplicaError else { return false }
            return error.code == .corrupted && error.message.contains("missing transaction \(removed.first)")
        }
        let catalog = try await ReplicaCatalog.list(target)
        #expect(catalog[0].gaps == [removed.first...removed.last])
        // Up to the gap still restores.
        let plan = try await ReplicaRestorer.plan(target: target, txn: removed.first - 1)
        #expect(plan.txn == removed.first - 1)
    }
}
