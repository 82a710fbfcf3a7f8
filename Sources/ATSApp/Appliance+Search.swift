import ATSCache
import ATSDemo
import ATSJobs
import ATSSearch
import ATSStore
import ATSVector
import ATSWork
import Foundation
import GRDB
import Logging
import Tracing

/// The search tier's composition: the FTS5 index and the vectors in the store's database, the
/// embedder the configuration names, and the write hook that keeps the index following the store.
extension Appliance {
    /// The embedder: the built-in one (no network) or an OpenAI-compatible service.
    public static func makeEmbedder(_ configuration: Configuration, references: ReferenceData?) -> any Embedder {
        if configuration["ATS_EMBEDDER"] == "http", let url = configuration.embeddingsURL {
            return HTTPEmbedder(
                baseURL: url, model: configuration["ATS_EMBEDDINGS_MODEL"],
                apiKey: configuration["ATS_EMBEDDINGS_KEY"].isEmpty ? nil : configuration["ATS_EMBEDDINGS_KEY"],
                dimensions: Int(configuration["ATS_EMBEDDINGS_DIMENSIONS"]) ?? 1536,
                batchSize: Int(configuration["ATS_EMBEDDINGS_BATCH"]) ?? 64)
        }
        var synonyms: [String: String] = [:]
        for skill in references?.skills.allSkills ?? [] {
            for name in skill.allNames where name.lowercased() != skill.name.lowercased() {
                synonyms[name.lowercased()] = skill.name.lowercased()
            }
        }
        return HashingEmbedder(dimensions: 384, synonyms: synonyms)
    }

    /// The reference data (skills taxonomy) when it can be found; search works without it,
    /// only without synonyms.
    static func references(_ configuration: Configuration) -> ReferenceData? {
        guard let directory = configuration.referenceDirectory.map({ URL(fileURLWithPath: $0) }) ?? ReferenceData.locate() else {
            return nil
        }
        return try? ReferenceData.load(from: directory)
    }

    /// The search service over `served` (the store as handlers see it), migrated.
    public static func makeSearch(
        _ configuration: Configuration, store: SQLiteStore, served: any Store, cache: (any Cache)?,
        epoch: @escaping @Sendable () -> UInt64 = { 0 }, tracer: (any Tracer)? = nil, logger: Logger
    ) throws -> SearchService {
        let references = references(configuration)
        let embedder = makeEmbedder(configuration, references: references)
        let index = SQLiteSearchIndex(pool: store.pool, logger: logger)
        try index.migrate()
        var parameters = HNSWIndex.Parameters()
        parameters.m = Int(configuration["ATS_HNSW_M"]) ?? parameters.m
        parameters.efConstruction = Int(configuration["ATS_HNSW_EF_CONSTRUCTION"]) ?? parameters.efConstruction
        parameters.efSearch = Int(configuration["ATS_HNSW_EF_SEARCH"]) ?? parameters.efSearch
        let vectors = VectorStore(
            pool: store.pool, model: embedder.identifier, dimensions: embedder.dimensions,
            settings: VectorStore.Settings(
                threshold: Int(configuration["ATS_HNSW_THRESHOLD"]) ?? 20_000, parameters: parameters,
                directory: (configuration.dataDirectory as NSString).appendingPathComponent("search")),
            logger: logger)
        let search = SearchService(
            store: served, pool: store.pool, index: index, embedder: embedder, vectors: vectors, references: references,
            cache: cache, epoch: epoch, tracer: tracer, logger: logger)
        try search.migrate()
        vectors.load()
        return search
    }

    /// Every write transaction of the store enqueues the (coalesced) index sync in itself, so
    /// the index can never be left behind by a crash. `jobs` wakes this process's runner.
    public static func followWrites(store: SQLiteStore, jobs: SQLiteJobQueue) {
        store.setWriteHook { db in
            _ = try jobs.enqueue(SearchService.syncRequest, in: db, now: Date())
        }
    }
}

extension Configuration {
    /// The OpenAI-compatible embeddings base URL, when the HTTP embedder is configured.
    public var embeddingsURL: String? { self["ATS_EMBEDDINGS_URL"].isEmpty ? nil : self["ATS_EMBEDDINGS_URL"] }
}
