import ATSSearch
import ATSVector
import Foundation
import GRDB
import Logging
import Synchronization

/// The embeddings of the search tier: durable in the store's database (table `search_vectors`,
/// one row per document and model, a version that grows with every write), and held in memory
/// as one vector index per organization and kind (exact below the HNSW threshold, HNSW above).
///
/// Any process may write vectors (the embedding jobs run in `ats serve` or in `ats worker`); each
/// process's indexes follow the table by version, at most every `refreshInterval`. A restart
/// loads the index files saved at the last shutdown and reads only the rows written since.
public final class VectorStore: Sendable {
    public struct Settings: Sendable {
        public var threshold: Int
        public var parameters: HNSWIndex.Parameters
        /// Where index files are saved (DATA/search); nil: nothing saved, rebuilt from the table.
        public var directory: String?
        public var refreshInterval: Duration

        public init(
            threshold: Int = 20_000, parameters: HNSWIndex.Parameters = .init(), directory: String? = nil,
            refreshInterval: Duration = .milliseconds(250)
        ) {
            self.threshold = threshold
            self.parameters = parameters
            self.directory = directory
            self.refreshInterval = refreshInterval
        }
    }

    struct Key: Hashable, Sendable {
        let organizationID: String
        let kind: SearchKind
        var fileName: String { "vectors-\(organizationID)-\(kind.rawValue).idx" }
    }

    struct State {
        var indexes: [Key: AdaptiveVectorIndex] = [:]
        var version: Int64 = 0
        /// The sequence's `reset` this process has applied.
        var reset: Int64 = 0
        var refreshedAt: ContinuousClock.Instant?
    }

    let pool: DatabasePool
    let model: String
    let dimensions: Int
    let settings: Settings
    let logger: Logger
    let state = Mutex(State())
    /// One refresh at a time; others use what is loaded.
    let refreshing = Atomic<Bool>(false)

    public init(pool: DatabasePool, model: String, dimensions: Int, settings: Settings, logger: Logger) {
        self.pool = pool
        self.model = model
        self.dimensions = dimensions
        self.settings = settings
        self.logger = logger
    }

    // MARK: Schema

    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("search-vectors-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE search_vectors (
                        kind TEXT NOT NULL,
                        org_id TEXT NOT NULL,
                        doc_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        vector BLOB,
                        PRIMARY KEY (kind, org_id, doc_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX search_vectors_version ON search_vectors(version);
                    """)
        }
        // Versions come from a counter that only grows (never max()+1, which restarts after a
        // delete); `reset` records the version at the last removeAll, so every process drops
        // what it holds and reloads.
        migrator.registerMigration("search-vectors-v2-sequence") { db in
            try db.execute(
                sql: """
                    CREATE TABLE search_vector_sequence (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        value INTEGER NOT NULL,
                        reset INTEGER NOT NULL
                    );
                    INSERT INTO search_vector_sequence (id, value, reset)
                        VALUES (1, (SELECT coalesce(max(version), 0) FROM search_vectors), 0);
                    """)
        }
        return migrator
    }

    // MARK: Writes (jobs)

    /// Stores vectors (nil: the document is gone), each with a new version.
    public func write(kind: SearchKind, organizationID: String, vectors: [(id: String, vector: [Float]?)]) async throws {
        guard !vectors.isEmpty else { return }
        let model = self.model
        try await pool.write { db in
            var version = try Int64.fetchOne(db, sql: "SELECT value FROM search_vector_sequence WHERE id = 1") ?? 0
            try db.execute(
                sql: "UPDATE search_vector_sequence SET value = value + ? WHERE id = 1", arguments: [vectors.count])
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO search_vectors (kind, org_id, doc_id, model, version, vector) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (kind, org_id, doc_id) DO UPDATE SET model = excluded.model, version = excluded.version,
                        vector = excluded.vector
                    """)
            for (id, vector) in vectors {
                version += 1
                try statement.execute(arguments: [
                    kind.rawValue, organizationID, id, model, version, vector.map(Self.blob),
                ])
            }
        }
        // Written here: the next search reads it at once (other processes' within refreshInterval).
        state.withLock { $0.refreshedAt = nil }
    }

    /// Forgets every vector of the organization (nil: of all), for a full reindex.
    public func removeAll(organizationID: String?) async throws {
        try await pool.write { db in
            if let organizationID {
                try db.execute(sql: "DELETE FROM search_vectors WHERE org_id = ?", arguments: [organizationID])
            } else {
                try db.execute(sql: "DELETE FROM search_vectors")
            }
            try db.execute(sql: "UPDATE search_vector_sequence SET reset = value WHERE id = 1")
        }
        state.withLock { state in
            if let organizationID {
                state.indexes = state.indexes.filter { $0.key.organizationID != organizationID }
            } else {
                state.indexes = [:]
            }
            state.version = 0
        }
        refreshingDue()
    }

    // MARK: Reads (requests)

    /// The nearest documents of `kind` in the organization; `allowed` restricts the candidates.
    public func search(
        kind: SearchKind, organizationID: String, vector: [Float], k: Int, allowed: Set<String>?
    ) async throws -> [VectorMatch] {
        guard vector.count == dimensions else { return [] }
        try await refreshIfDue()
        let index = state.withLock { $0.indexes[Key(organizationID: organizationID, kind: kind)] }
        return index?.search(vector, k: k, allowed: allowed) ?? []
    }

    /// The stored vector of one document (for matching), nil when it has none yet.
    public func vector(kind: SearchKind, organizationID: String, id: String) async throws -> [Float]? {
        let model = self.model
        let data = try await pool.read { db in
            try Data.fetchOne(
                db, sql: "SELECT vector FROM search_vectors WHERE kind = ? AND org_id = ? AND doc_id = ? AND model = ?",
                arguments: [kind.rawValue, organizationID, id, model])
        }
        return data.map(Self.floats)
    }

    public func count(kind: SearchKind, organizationID: String) -> Int {
        state.withLock { $0.indexes[Key(organizationID: organizationID, kind: kind)]?.count ?? 0 }
    }

    /// Reads the rows written since the last refresh into the in-memory indexes.
    public func refresh() async throws {
        guard refreshing.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        defer { refreshing.store(false, ordering: .releasing) }
        let reset = try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT reset FROM search_vector_sequence WHERE id = 1") ?? 0
        }
        var since = state.withLock { state -> Int64 in
            if reset > state.reset {
                // Vectors were removed wholesale (a reindex) since this process loaded them.
                state.indexes = [:]
                state.version = 0
                state.reset = reset
            }
            return state.version
        }
        let model = self.model
        while true {
            let after = since
            let rows = try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT kind, org_id, doc_id, model, version, vector FROM search_vectors
                        WHERE version > ? ORDER BY version LIMIT 5000
                        """, arguments: [after])
            }
            for row in rows {
                since = row["version"]
                guard let kind = SearchKind(rawValue: row["kind"]) else { continue }
                let key = Key(organizationID: row["org_id"], kind: kind)
                let id: String = row["doc_id"]
                let index = indexFor(key)
                if let data = row["vector"] as Data?, (row["model"] as String) == model {
                    let vector = Self.floats(data)
                    if vector.count == dimensions { index.upsert(id: id, vector: vector) }
                } else {
                    index.remove(id: id)
                }
            }
            let reached = since
            state.withLock { $0.version = max($0.version, reached) }
            if rows.count < 5000 { break }
        }
        state.withLock { $0.refreshedAt = .now }
    }

    func refreshingDue() {
        state.withLock { $0.refreshedAt = nil }
    }

    func refreshIfDue() async throws {
        let due = state.withLock { state in
            guard let at = state.refreshedAt else { return true }
            return at.duration(to: .now) >= settings.refreshInterval
        }
        if due { try await refresh() }
    }

    func indexFor(_ key: Key) -> AdaptiveVectorIndex {
        state.withLock { state in
            if let index = state.indexes[key] { return index }
            let index = AdaptiveVectorIndex(dimensions: dimensions, threshold: settings.threshold, parameters: settings.parameters)
            state.indexes[key] = index
            return index
        }
    }

    // MARK: Files

    /// Saves every index and the version they reflect (at shutdown, after a reindex).
    public func save() {
        guard let directory = settings.directory else { return }
        let (indexes, version, reset) = state.withLock { ($0.indexes, $0.version, $0.reset) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (key, index) in indexes {
                try index.save(to: (directory as NSString).appendingPathComponent(key.fileName))
            }
            let manifest = "\(model)\n\(dimensions)\n\(version):\(reset)\n" + indexes.keys.map { "\($0.organizationID) \($0.kind.rawValue)" }.joined(separator: "\n")
            let path = (directory as NSString).appendingPathComponent("vectors.manifest")
            try Data(manifest.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            logger.warning("saving the vector indexes failed", metadata: ["error_type": "\(type(of: error))"])
        }
    }

    /// Loads the saved indexes when they were saved for this model; the rows written since
    /// are read by the next refresh. Anything unreadable: rebuilt from the table instead.
    public func load() {
        guard let directory = settings.directory else { return }
        let path = (directory as NSString).appendingPathComponent("vectors.manifest")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // `version:reset` (an older manifest has the version alone: no reset seen yet).
        let positions = lines.count >= 3 ? lines[2].split(separator: ":").compactMap { Int64($0) } : []
        guard lines.count >= 3, lines[0] == model, Int(lines[1]) == dimensions, (1...2).contains(positions.count) else { return }
        let (version, reset) = (positions[0], positions.count == 2 ? positions[1] : 0)
        var indexes: [Key: AdaptiveVectorIndex] = [:]
        for line in lines.dropFirst(3) where !line.isEmpty {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let kind = SearchKind(rawValue: String(parts[1])) else { return }
            let key = Key(organizationID: String(parts[0]), kind: kind)
            do {
                indexes[key] = try AdaptiveVectorIndex.load(from: (directory as NSString).appendingPathComponent(key.fileName))
            } catch {
                logger.warning("a saved vector index is unreadable; rebuilding from the table", metadata: ["error_type": "\(type(of: error))"])
                return
            }
        }
        state.withLock { state in
            state.indexes = indexes
            state.version = version
            state.reset = reset
        }
    }

    // MARK: Encoding

    static func blob(_ vector: [Float]) -> Data {
        vector.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    static func floats(_ data: Data) -> [Float] {
        let count = data.count / MemoryLayout<Float>.size
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            _ = data.copyBytes(to: buffer)
            initialized = count
        }
    }
}
