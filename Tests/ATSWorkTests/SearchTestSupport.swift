import ATSCache
import ATSDemo
import ATSDomain
import ATSJobs
import ATSSearch
import ATSStore
import ATSVector
import ATSWork
import Foundation
import Logging
import Testing

/// A store, its job queue and the search tier on one SQLite file, wired as the server wires
/// them: every write transaction enqueues the index sync.
struct SearchFixture {
    let store: SQLiteStore
    let jobs: SQLiteJobQueue
    let search: SearchService
    let folder: URL

    static func make(threshold: Int = 20_000, cache: (any Cache)? = nil) async throws -> SearchFixture {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "test.search")
        logger.logLevel = .critical
        let store = try SQLiteStore(path: folder.appendingPathComponent("ats.sqlite").path, logger: logger)
        try store.migrate()
        let jobs = SQLiteJobQueue(pool: store.pool, logger: logger)
        try jobs.migrate()
        store.setWriteHook { db in _ = try jobs.enqueue(SearchService.syncRequest, in: db, now: Date()) }
        let references = try ReferenceData.load(from: try #require(ReferenceData.locate()))
        var synonyms: [String: String] = [:]
        for skill in references.skills.allSkills {
            for name in skill.allNames where name.lowercased() != skill.name.lowercased() {
                synonyms[name.lowercased()] = skill.name.lowercased()
            }
        }
        let embedder = HashingEmbedder(dimensions: 384, synonyms: synonyms)
        let index = SQLiteSearchIndex(pool: store.pool, logger: logger)
        try index.migrate()
        let vectors = VectorStore(
            pool: store.pool, model: embedder.identifier, dimensions: embedder.dimensions,
            settings: VectorStore.Settings(threshold: threshold, directory: folder.appendingPathComponent("search").path),
            logger: logger)
        let search = SearchService(
            store: store, pool: store.pool, index: index, embedder: embedder, vectors: vectors, references: references,
            cache: cache, logger: logger)
        try search.migrate()
        return SearchFixture(store: store, jobs: jobs, search: search, folder: folder)
    }

    func cleanup() { try? FileManager.default.removeItem(at: folder) }

    /// Runs the queued sync and embedding jobs the way the runner would, until none is left.
    func drainSearchJobs() async throws {
        let context = JobContext(logger: Logger(label: "test.job")) { _ in true }
        let handlers = Work.handlers(
            WorkDependencies(store: store, jobs: jobs, dataDirectory: folder.path, logger: Logger(label: "test"), search: search))
        for _ in 0..<50 {
            var ran = false
            for queue in [JobQueues.search, JobQueues.embeddings] {
                while let job = try await jobs.claim(queue: queue, worker: "test", lease: .seconds(60), now: Date().addingTimeInterval(5)) {
                    let handler = try #require(handlers.first { $0.type == job.type })
                    let result = try await handler.run(job, context: context)
                    try await jobs.complete(id: job.id, attempt: job.attempts, result: result, now: Date())
                    ran = true
                }
            }
            if !ran { return }
        }
    }

    func create(_ kind: EntityKind, organizationID: String, _ input: JSONObject) async throws -> Record {
        let fields = try EntitySchema.of(kind).validateCreate(input)
        return try await store.create(kind, organizationID: organizationID, fields: fields, actor: "system", options: WriteOptions(allowDuplicate: true))
    }
}
