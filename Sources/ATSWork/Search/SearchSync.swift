import ATSDomain
import ATSJobs
import ATSSearch
import ATSStore
import Foundation
import GRDB
import Tracing

/// Keeps the index in step with the store. Every write transaction of the store enqueues (in
/// that same transaction, through the store's write hook) one coalesced `search.sync` job; the
/// job reads the store's change feed from a durable cursor, re-reads each changed candidate,
/// job and client, indexes or removes it, and enqueues `search.embed` jobs for the vectors.
/// The cursor advances only after the index holds the batch, so a crash at any point repeats
/// work and never skips it; a recurring sweep catches a change whose job coalesced into a
/// running one.
extension SearchService {
    public static let syncType = "search.sync"
    public static let embedType = "search.embed"

    /// The job the write hook enqueues: one live at a time, due a quarter second after the
    /// write that asked for it, so a burst of writes is indexed in one pass instead of racing
    /// every single write for the one writer connection.
    public static var syncRequest: JobRequest {
        JobRequest(
            queue: JobQueues.search, type: syncType, priority: 10, runAt: Date().addingTimeInterval(0.25), maxAttempts: 20,
            uniqueKey: syncType)
    }

    static func cursorMigrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("search-sync-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE search_sync (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        change_seq INTEGER NOT NULL,
                        rebuilt_at TEXT
                    );
                    INSERT INTO search_sync (id, change_seq) VALUES (1, 0);
                    """)
        }
        return migrator
    }

    func cursor() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT change_seq FROM search_sync WHERE id = 1") ?? 0 }
    }

    /// Whether the index was never built from the whole store (a new or upgraded database, or
    /// data loaded without the change feed, such as the demo agency).
    public func needsRebuild() async throws -> Bool {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT rebuilt_at FROM search_sync WHERE id = 1") == nil
        }
    }

    func markRebuilt() async throws {
        let now = Timestamp.format(Date())
        try await pool.write { db in
            try db.execute(sql: "UPDATE search_sync SET rebuilt_at = ? WHERE id = 1", arguments: [now])
        }
    }

    /// Asks for a full rebuild at the next start (after a bulk load that bypassed the feed).
    public static func markStale(_ pool: DatabasePool) {
        try? pool.write { db in
            if try db.tableExists("search_sync") {
                try db.execute(sql: "UPDATE search_sync SET rebuilt_at = NULL WHERE id = 1")
            }
        }
    }

    func setCursor(_ sequence: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE search_sync SET change_seq = ? WHERE id = 1", arguments: [sequence])
        }
    }

    /// What one sync pass did.
    public struct SyncReport: Sendable {
        public var changes = 0
        public var indexed = 0
        public var removed = 0
        public var embedJobs = 0
    }

    /// Follows the change feed to its head. `jobs` receives the embedding jobs (nil: vectors are
    /// computed inline, as `ats reindex` does).
    @discardableResult
    public func sync(jobs: (any JobQueue)?, progress: (@Sendable (Int) -> Void)? = nil) async throws -> SyncReport {
        var report = SyncReport()
        var position = try await cursor()
        while true {
            let changes = try await store.changes(after: position, limit: 2_000)
            guard let last = changes.last else { break }
            report.changes += changes.count
            // The documents to refresh, by organization and kind; an application, note or
            // document changes its candidate's filters (jobs, stages).
            var touched: [String: [SearchKind: Set<String>]] = [:]
            for change in changes {
                guard let kind = EntityKind(auditEntity: change.entity) else { continue }
                if let searchKind = SearchDocuments.searchKind(kind) {
                    touched[change.organizationID, default: [:]][searchKind, default: []].insert(change.entityID)
                } else if kind == .application || kind == .document, let candidate = change.candidateID {
                    touched[change.organizationID, default: [:]][.candidate, default: []].insert(candidate)
                }
            }
            for (organizationID, kinds) in touched {
                for (kind, ids) in kinds {
                    let (indexed, removed) = try await refresh(kind: kind, organizationID: organizationID, ids: Array(ids))
                    report.indexed += indexed.count
                    report.removed += removed.count
                    try await vectors.write(kind: kind, organizationID: organizationID, vectors: removed.map { ($0, nil) })
                    report.embedJobs += try await embedLater(
                        kind: kind, organizationID: organizationID, ids: indexed.map(\.id), jobs: jobs)
                }
            }
            position = last.sequence
            try await setCursor(position)
            await bumpGeneration(Array(touched.keys))
            progress?(report.changes)
        }
        return report
    }

    /// Re-reads `ids` from the store and indexes what exists, removes what does not.
    /// `applications` (candidate id -> its applications) saves a query per candidate when the
    /// caller has them all (a full reindex).
    @discardableResult
    func refresh(
        kind: SearchKind, organizationID: String, ids: [String], applications: [String: [ATSStore.Record]]? = nil
    ) async throws -> (documents: [SearchDocument], removed: [String]) {
        var documents: [SearchDocument] = []
        var removed: [String] = []
        for id in ids {
            guard let record = try await store.record(SearchDocuments.entityKind(kind), organizationID: organizationID, id: id) else {
                removed.append(id)
                continue
            }
            documents.append(
                try await document(record, kind: kind, organizationID: organizationID, applications: applications?[id] ?? (applications == nil ? nil : [])))
        }
        if !documents.isEmpty { try await index.upsert(documents) }
        if !removed.isEmpty { try await index.remove(kind: kind, organizationID: organizationID, ids: removed) }
        counters.withLock {
            $0.documentsIndexed += documents.count
            $0.documentsRemoved += removed.count
        }
        return (documents, removed)
    }

    func document(
        _ record: ATSStore.Record, kind: SearchKind, organizationID: String, applications known: [ATSStore.Record]? = nil
    ) async throws -> SearchDocument {
        switch kind {
        case .candidate:
            var applications = known ?? []
            if known == nil {
                let page = try await store.list(
                    .application, organizationID: organizationID,
                    query: ListQuery(equals: ["candidateId": record.id], page: PageRequest(limit: PageRequest.maxLimit)))
                applications = Self.records(page.items, kind: .application)
            }
            return documents.candidate(
                record, organizationID: organizationID, applications: applications,
                cvText: try await cvText(candidateID: record.id, organizationID: organizationID))
        case .job:
            return documents.job(record, organizationID: organizationID)
        case .client:
            return documents.client(record, organizationID: organizationID)
        }
    }

    /// The text extracted from a candidate's CVs (newest first, bounded), searchable at the
    /// lowest weight: a skill named only in the CV still finds the person.
    func cvText(candidateID: String, organizationID: String) async throws -> String? {
        let page = try await store.list(
            .document, organizationID: organizationID,
            query: ListQuery(equals: ["candidateId": candidateID, "kind": "cv"], page: PageRequest(limit: 5)))
        var text = ""
        for document in Self.records(page.items, kind: .document).reversed() {
            guard let extracted = document.fields["extractedText"]?.stringValue, !extracted.isEmpty else { continue }
            text += (text.isEmpty ? "" : "\n") + extracted
            if text.utf8.count > 100_000 { break }
        }
        return text.isEmpty ? nil : text
    }

    static func records(_ items: [StoredDocument], kind: EntityKind) -> [ATSStore.Record] {
        items.compactMap { item -> ATSStore.Record? in
            guard let fields = JSONCoding.decodeObject(Data(item.json.utf8)) else { return nil }
            return ATSStore.Record(kind: kind, id: item.id, createdAt: "", updatedAt: "", fields: fields)
        }
    }

    /// Every application of the organization by candidate: one pass over the list.
    func applicationsByCandidate(_ organizationID: String) async throws -> [String: [ATSStore.Record]] {
        var byCandidate: [String: [ATSStore.Record]] = [:]
        var cursor: ATSDomain.Cursor?
        repeat {
            let page = try await store.list(
                .application, organizationID: organizationID,
                query: ListQuery(page: PageRequest(limit: PageRequest.maxLimit, cursor: cursor)))
            for application in Self.records(page.items, kind: .application) {
                if let candidate = application.fields["candidateId"]?.stringValue {
                    byCandidate[candidate, default: []].append(application)
                }
            }
            cursor = page.nextCursor
        } while cursor != nil
        return byCandidate
    }

    /// Enqueues the embedding of `ids` in batches (or embeds them now without a queue).
    func embedLater(kind: SearchKind, organizationID: String, ids: [String], jobs: (any JobQueue)?) async throws -> Int {
        guard kind != .client, !ids.isEmpty else { return 0 }
        guard let jobs else {
            try await embed(kind: kind, organizationID: organizationID, ids: ids)
            return 0
        }
        let batches = stride(from: 0, to: ids.count, by: settings.embedBatch).map {
            Array(ids[$0..<min($0 + settings.embedBatch, ids.count)])
        }
        let requests = batches.map { batch in
            JobRequest(
                queue: JobQueues.embeddings, type: Self.embedType,
                payload: ["kind": .string(kind.rawValue), "ids": .array(batch.map(JSONValue.string))],
                maxAttempts: 10, organizationID: organizationID)
        }
        _ = try await jobs.enqueue(contentsOf: requests)
        return requests.count
    }

    /// Computes and stores the vectors of `ids` (what `search.embed` runs).
    public func embed(kind: SearchKind, organizationID: String, ids: [String]) async throws {
        var documents: [SearchDocument] = []
        var missing: [String] = []
        for id in ids {
            guard let record = try await store.record(SearchDocuments.entityKind(kind), organizationID: organizationID, id: id) else {
                missing.append(id)
                continue
            }
            documents.append(try await document(record, kind: kind, organizationID: organizationID))
        }
        try await embed(documents, kind: kind, organizationID: organizationID, missing: missing)
    }

    /// Computes and stores the vectors of documents already read.
    func embed(_ documents: [SearchDocument], kind: SearchKind, organizationID: String, missing: [String] = []) async throws {
        var rows: [(id: String, vector: [Float]?)] = missing.map { ($0, nil) }
        if !documents.isEmpty {
            let texts = documents.map(SearchDocuments.embeddingText)
            // A client span: with the HTTP embedder this is the outbound call to the service.
            let embedder = self.embedder
            let vectors = try await tracer.withSpan("embeddings.embed", ofKind: .client) { span in
                span.attributes["ats.embedder"] = embedder.identifier
                span.attributes["ats.embeddings.count"] = texts.count
                return try await embedder.embed(texts)
            }
            rows += zip(documents.map(\.id), vectors).map { ($0, $1) }
        }
        try await vectors.write(kind: kind, organizationID: organizationID, vectors: rows)
        counters.withLock { $0.documentsEmbedded += documents.count }
        await bumpGeneration([organizationID])
    }
}

/// `search.sync`: follows the change feed to its head.
struct SearchSyncHandler: JobHandler {
    let type = SearchService.syncType
    let search: SearchService
    let jobs: any JobQueue

    func run(_ job: Job, context: JobContext) async throws -> JSONObject? {
        let report = try await search.sync(jobs: jobs)
        return [
            "changes": .int(Int64(report.changes)), "indexed": .int(Int64(report.indexed)),
            "removed": .int(Int64(report.removed)), "embedJobs": .int(Int64(report.embedJobs)),
        ]
    }
}

/// `search.embed`: the vectors of a batch of documents, on the rate-limited embeddings queue.
struct SearchEmbedHandler: JobHandler {
    let type = SearchService.embedType
    let search: SearchService

    func run(_ job: Job, context: JobContext) async throws -> JSONObject? {
        guard let organizationID = job.organizationID,
            let kind = job.payload["kind"]?.stringValue.flatMap(SearchKind.init(rawValue:)),
            let ids = job.payload["ids"]?.arrayValue?.compactMap(\.stringValue)
        else {
            throw JobFailure.permanent("the payload needs kind and ids, and the job an organization")
        }
        try await search.embed(kind: kind, organizationID: organizationID, ids: ids)
        return ["embedded": .int(Int64(ids.count))]
    }
}
