import ATSCache
import ATSDemo
import ATSDomain
import ATSSearch
import ATSStore
import ATSVector
import Foundation
import GRDB
import Logging
import Synchronization
import Tracing

/// The search tier as the API uses it: keyword search on the full-text index, vector search on
/// the embeddings, both fused by reciprocal rank, suggestions, matching of candidates and jobs,
/// and the cache of results. Every call is scoped by organization.
public final class SearchService: Sendable {
    public struct Settings: Sendable {
        /// Documents per `search.embed` job.
        public var embedBatch: Int
        /// How long a cached result lives (a write moves the generation before that).
        public var resultTTL: Duration
        /// Reciprocal rank fusion's constant.
        public var fusionK: Double
        public init(embedBatch: Int = 256, resultTTL: Duration = .seconds(300), fusionK: Double = 60) {
            self.embedBatch = embedBatch
            self.resultTTL = resultTTL
            self.fusionK = fusionK
        }
    }

    public let store: any Store
    public let index: any SearchIndex
    public let embedder: any Embedder
    public let vectors: VectorStore
    public let documents: SearchDocuments
    public let references: ReferenceData?
    let pool: DatabasePool
    let cache: (any Cache)?
    /// Moves when the server's cache must forget everything (another process wrote).
    let epoch: @Sendable () -> UInt64
    let settings: Settings
    let logger: Logger
    /// Spans for the keyword and vector sides of a search.
    let tracer: any Tracer
    let counters = Mutex(SearchFigures())

    public init(
        store: any Store, pool: DatabasePool, index: any SearchIndex, embedder: any Embedder, vectors: VectorStore,
        references: ReferenceData?, cache: (any Cache)?, epoch: @escaping @Sendable () -> UInt64 = { 0 },
        settings: Settings = .init(), tracer: (any Tracer)? = nil, logger: Logger
    ) {
        self.tracer = tracer ?? NoOpTracer()
        self.store = store
        self.pool = pool
        self.index = index
        self.embedder = embedder
        self.vectors = vectors
        self.references = references
        self.documents = SearchDocuments(taxonomy: references?.skills)
        self.cache = cache
        self.epoch = epoch
        self.settings = settings
        self.logger = logger
    }

    /// Creates the search tables (the index's, the vectors', the sync cursor). Idempotent.
    public func migrate() throws {
        try Self.cursorMigrator().migrate(pool)
        try VectorStore.migrator().migrate(pool)
    }

    /// Totals for `/metrics`.
    public var figures: SearchFigures { counters.withLock { $0 } }

    // MARK: Generations

    func generationKey(_ organizationID: String) -> String { "g:\(organizationID):search" }

    func bumpGeneration(_ organizations: [String]) async {
        guard let cache else { return }
        for organization in organizations {
            _ = try? await cache.bumpGeneration(generationKey(organization))
        }
    }

    // MARK: Full reindex

    /// Rebuilds the index and the vectors of every organization from the store, reporting
    /// `(done, total)` as it goes. The sync cursor moves to the feed's head first, so changes
    /// made meanwhile are picked up by the next sync.
    public func reindex(progress: @Sendable (Int, Int) -> Void) async throws {
        let head = try await store.latestChangeSequence()
        try await setCursor(head)
        try await index.removeAll(organizationID: nil)
        try await vectors.removeAll(organizationID: nil)
        let organizations = try await store.organizations()
        // What will be indexed: one pass over the lists.
        var plan: [(String, SearchKind, [String])] = []
        var total = 0
        for organization in organizations {
            for kind in SearchKind.allCases {
                var ids: [String] = []
                var cursor: ATSDomain.Cursor?
                repeat {
                    let page = try await store.list(
                        SearchDocuments.entityKind(kind), organizationID: organization.id,
                        query: ListQuery(page: PageRequest(limit: PageRequest.maxLimit, cursor: cursor)))
                    ids += page.items.map(\.id)
                    cursor = page.nextCursor
                } while cursor != nil
                total += ids.count
                plan.append((organization.id, kind, ids))
            }
        }
        var done = 0
        progress(0, total)
        for (organizationID, kind, ids) in plan {
            let applications = kind == .candidate ? try await applicationsByCandidate(organizationID) : nil
            for start in stride(from: 0, to: ids.count, by: settings.embedBatch) {
                try Task.checkCancellation()
                let batch = Array(ids[start..<min(start + settings.embedBatch, ids.count)])
                let (indexed, _) = try await refresh(kind: kind, organizationID: organizationID, ids: batch, applications: applications)
                if kind != .client { try await embed(indexed, kind: kind, organizationID: organizationID) }
                done += batch.count
                progress(done, total)
            }
        }
        try await vectors.refresh()
        vectors.save()
        try await markRebuilt()
        await bumpGeneration(organizations.map(\.id))
    }
}

/// What the search tier counts, for `/metrics`.
public struct SearchFigures: Sendable {
    public var queries = 0
    public var cachedQueries = 0
    public var vectorQueries = 0
    public var embeddingFailures = 0
    public var documentsIndexed = 0
    public var documentsRemoved = 0
    public var documentsEmbedded = 0
}
