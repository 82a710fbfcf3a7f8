import ATSDomain
import ATSJobs
import ATSStore
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

/// A fresh, migrated, empty queue, and what the suite needs besides the protocol.
struct QueueUnderTest: Sendable {
    let queue: any JobQueue
    /// Enqueues inside a store transaction that commits, or rolls back when `rollBack`.
    let enqueueInTransaction: @Sendable (_ request: JobRequest, _ rollBack: Bool) async throws -> Job
    let cleanup: @Sendable () async -> Void
}

/// One way to get a queue. The conformance suite runs once per factory; a Redis or PostgreSQL
/// backend joins by adding itself to `all`.
struct JobQueueFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> QueueUnderTest

    var testDescription: String { name }

    struct RolledBack: Error {}

    static let sqlite = JobQueueFactory(name: "SQLite") {
        let (store, folder) = try makeStore()
        let queue = SQLiteJobQueue(pool: store.pool, logger: Logger(label: "test.jobs"))
        try queue.migrate()
        return QueueUnderTest(
            queue: queue,
            enqueueInTransaction: { request, rollBack in
                let box = Mutex<Job?>(nil)
                do {
                    try await store.pool.write { db in
                        // A store row and its follow-up job in one transaction.
                        try db.execute(
                            sql: "INSERT INTO organizations (id, slug, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                            arguments: [Identifier.make(), "org-\(UUID().uuidString.prefix(8))", "Org", "x", "x"])
                        let job = try SQLiteJobQueue.enqueue(request, in: db, now: Date())
                        box.withLock { $0 = job }
                        if rollBack { throw RolledBack() }
                    }
                } catch is RolledBack {}
                return box.withLock { $0! }
            },
            cleanup: { try? FileManager.default.removeItem(at: folder) })
    }

    static let all: [JobQueueFactory] = [.sqlite]

    static func makeStore() throws -> (SQLiteStore, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteStore(
            path: folder.appendingPathComponent("ats.sqlite").path, logger: Logger(label: "test.store"))
        try store.migrate()
        return (store, folder)
    }
}

func withQueue(_ factory: JobQueueFactory, _ body: (QueueUnderTest) async throws -> Void) async throws {
    let subject = try await factory.make()
    do {
        try await body(subject)
    } catch {
        await subject.cleanup()
        throw error
    }
    await subject.cleanup()
}

/// Polls until `condition` holds or `timeout` passes; true when it held.
func eventually(
    timeout: Duration = .seconds(10), every: Duration = .milliseconds(10), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: every)
    }
    return try await condition()
}
