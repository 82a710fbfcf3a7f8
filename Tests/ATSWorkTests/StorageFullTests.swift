import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

/// A full disk, made deterministic: SQLite's `max_page_count` on the writer connection makes
/// it report SQLITE_FULL exactly as it does when the volume runs out of space.
@Suite("Storage full")
struct StorageFullTests {
    /// Caps the database at its current size plus `extraPages` pages (0: no cap).
    static func cap(_ store: SQLiteStore, extraPages: Int) async throws {
        try await store.pool.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = \(extraPages == 0 ? 1_073_741_823 : pages + extraPages)")
        }
    }

    static func candidate(_ index: Int) throws -> JSONObject {
        try EntitySchema.of(.candidate).validateCreate([
            "firstName": .string("Full\(index)"), "lastName": .string("Disk"), "email": .string("full\(index)@example.com"),
            "summary": .string(String(repeating: "Seasoned engineer. ", count: 40)),
        ])
    }

    @Test("SQLITE_FULL is storageFull: nothing half-written, the hook hears it, the same write succeeds once space is back")
    func storeReportsAFullDisk() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let store = fixture.store
        let heard = Atomic<Int>(0)
        store.onStorageFull { heard.add(1, ordering: .relaxed) }
        let organization = try await store.createOrganization(slug: "full", name: "Full")
        try await Self.cap(store, extraPages: 8)

        // Given a database that cannot grow, when candidates are created until one fails,
        var acknowledged: [String] = []
        var failure: StoreError?
        for index in 0..<500 {
            do {
                let record = try await store.create(
                    .candidate, organizationID: organization.id, fields: try Self.candidate(index), actor: "test",
                    options: WriteOptions())
                acknowledged.append(record.id)
            } catch let error as StoreError {
                failure = error
                break
            }
        }
        // then the failure says the disk is full (not "busy or unreachable"),
        let error = try #require(failure)
        #expect(error.code == .storageFull)
        #expect(error.message.contains("full"))
        #expect(heard.load(ordering: .relaxed) == 1)
        // every acknowledged write is there and the failed one left nothing (no row, no audit entry),
        let count = try await store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM candidates") ?? -1
        }
        #expect(count == acknowledged.count)
        let failedIndex = acknowledged.count
        let leftovers = try await store.pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT (SELECT COUNT(*) FROM candidates WHERE doc LIKE ?) + (SELECT COUNT(*) FROM audit_log WHERE entity_id NOT IN (SELECT id FROM candidates) AND entity = 'candidate')",
                arguments: ["%full\(failedIndex)@%"]) ?? -1
        }
        #expect(leftovers == 0)
        // a job enqueued on the same full file says so too,
        do {
            _ = try await fixture.jobs.enqueue(
                JobRequest(queue: "maintenance", type: "test.full", payload: ["pad": .string(String(repeating: "x", count: 200_000))]))
            Issue.record("the enqueue should have failed")
        } catch let error as JobQueueError {
            #expect(error.code == .storageFull)
        }
        // and once space is back the same write succeeds, on an intact database.
        try await Self.cap(store, extraPages: 0)
        _ = try await store.create(
            .candidate, organizationID: organization.id, fields: try Self.candidate(failedIndex), actor: "test", options: WriteOptions())
        let check = try await store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(check == "ok")
    }
}

/// The monitor's episodes and early collection, over an injected volume.
@Suite("Storage monitor")
struct StorageMonitorTests {
    final class Volume: Sendable {
        let space = Mutex(StorageMonitor.Space(free: 1000, total: 10 << 20))
        let probeWorks = Mutex(false)
        let collections = Mutex<[Int]>([])

        func monitor(lowDiskPercent: Double = 5) -> StorageMonitor {
            StorageMonitor(
                configuration: .init(
                    path: "/nonexistent", lowDiskPercent: lowDiskPercent, lowDiskGraceSeconds: 120, collectInterval: .seconds(60),
                    recheckInterval: .seconds(1)),
                logger: Logger(label: "test.storage"),
                collect: { grace in
                    self.collections.withLock { $0.append(grace) }
                    return FileWork.CollectionReport()
                },
                space: { self.space.withLock { $0 } }, probe: { self.probeWorks.withLock { $0 } })
        }
    }

    @Test("a failure opens an episode that /readyz reports until free space is back, then it ends by itself")
    func episodeEndsWhenSpaceIsFreed() {
        let volume = Volume()
        let monitor = volume.monitor()
        let start = Date()
        #expect(monitor.readiness(now: start) == nil)
        monitor.reportFull("store", now: start)
        monitor.reportFull("blobs", now: start)
        #expect(monitor.counts == ["store": 1, "blobs": 1])
        #expect(monitor.readiness(now: start)?.contains("disk full") == true)
        // A few bytes freed is not enough (the margin is at least 64 KiB).
        volume.space.withLock { $0.free = 5000 }
        #expect(monitor.readiness(now: start.addingTimeInterval(2)) != nil)
        // Freed: the next check (at most once per second) ends the episode.
        volume.space.withLock { $0.free = 4 << 20 }
        #expect(monitor.readiness(now: start.addingTimeInterval(2.5)) != nil)
        #expect(monitor.readiness(now: start.addingTimeInterval(3.5)) == nil)
        #expect(!monitor.isFull)
        #expect(monitor.counts["store"] == 1)
    }

    @Test("a quota that statvfs does not show: the probe write decides")
    func probeDecidesWhenStatvfsShowsSpace() {
        let volume = Volume()
        volume.space.withLock { $0.free = 5 << 20 }
        let monitor = volume.monitor()
        let start = Date()
        monitor.reportFull("blobs", now: start)
        #expect(monitor.readiness(now: start.addingTimeInterval(2)) != nil)
        volume.probeWorks.withLock { $0 = true }
        #expect(monitor.readiness(now: start.addingTimeInterval(4)) == nil)
    }

    @Test("the collector runs at once with the short grace after a failure or when space is low, at most once a minute")
    func earlyCollection() async {
        let volume = Volume()
        volume.space.withLock { $0.free = 8 << 20 }  // 80% free: not low
        let monitor = volume.monitor()
        let start = Date()
        #expect(await monitor.collectIfShort(now: start) == nil)
        monitor.reportFull("store", now: start)
        #expect(await monitor.collectIfShort(now: start) != nil)
        #expect(volume.collections.withLock { $0 } == [120])
        #expect(await monitor.collectIfShort(now: start.addingTimeInterval(30)) == nil)
        // Space back, episode over, but the volume is under 5% free: it still collects early.
        volume.space.withLock { $0.free = 100 << 10 }
        #expect(monitor.isLow())
        #expect(await monitor.collectIfShort(now: start.addingTimeInterval(61)) != nil)
        #expect(volume.collections.withLock { $0 }.count == 2)
    }
}
