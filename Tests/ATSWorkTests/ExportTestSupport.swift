import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import Logging
import Testing

/// A fresh SQLite store with the real job queue in the same file, and a data folder.
struct ExportFixture {
    let store: SQLiteStore
    let jobs: SQLiteJobQueue
    let folder: URL

    static func make() async throws -> ExportFixture {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: folder.appendingPathComponent("ats.sqlite").path, logger: Logger(label: "test.store"))
        try store.migrate()
        let jobs = SQLiteJobQueue(pool: store.pool, logger: Logger(label: "test.jobs"))
        try jobs.migrate()
        return ExportFixture(store: store, jobs: jobs, folder: folder)
    }

    var dataDirectory: String { folder.appendingPathComponent("data").path }
    var dependencies: WorkDependencies {
        WorkDependencies(store: store, jobs: jobs, dataDirectory: dataDirectory, logger: Logger(label: "test.work"))
    }

    func cleanup() { try? FileManager.default.removeItem(at: folder) }

    func handler(_ type: String) throws -> any JobHandler {
        try #require(Work.handlers(dependencies).first { $0.type == type })
    }

    /// Enqueues `request`, claims it and runs it with its handler as the runner would; returns the result.
    func run(_ request: JobRequest) async throws -> (job: Job, result: JSONObject?) {
        let queued = try await jobs.enqueue(request)
        let job = try #require(try await jobs.claim(queue: request.queue, worker: "test", lease: .seconds(60), now: Date().addingTimeInterval(3600)))
        #expect(job.id == queued.id)
        let context = JobContext(logger: Logger(label: "test.job")) { _ in true }
        let result = try await handler(job.type).run(job, context: context)
        try await jobs.complete(id: job.id, attempt: job.attempts, result: result, now: Date())
        return (job, result)
    }

    /// A file in the fixture's folder.
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

func readAll(_ reader: CSVReader) throws -> [CSVRecord] {
    var records: [CSVRecord] = []
    while let record = try reader.next() { records.append(record) }
    return records
}
