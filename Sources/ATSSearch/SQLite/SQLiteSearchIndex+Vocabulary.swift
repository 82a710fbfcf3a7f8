import GRDB

/// The in-memory typo vocabularies, one per organization and kind, each with the generation of
/// its organization it reflects. Every write bumps its organization's generation in
/// `search_orgs`; a search that reads another generation than the one held here (another
/// process wrote, or a large batch was not tokenized) reloads that organization's vocabulary
/// from its `fts5vocab` view. Nothing here is shared between organizations, so neither the
/// words nor the moment a vocabulary reloads depend on another tenant's writes.
struct VocabularyState: Sendable {
    /// Organizations whose vocabularies stay loaded; the least recently used goes beyond it, so
    /// an appliance hosting many agencies holds a bounded amount of memory.
    static let organizationLimit = 32

    struct Entry: Sendable {
        var generation: Int64
        var kinds: [SearchKind: Vocabulary] = [:]
        var used: UInt64 = 0
    }

    var organizations: [String: Entry] = [:]
    private var clock: UInt64 = 0

    /// The vocabulary of `kind` if it reflects `generation` of the organization.
    mutating func held(_ organizationID: String, _ kind: SearchKind, generation: Int64) -> Vocabulary? {
        guard let entry = organizations[organizationID], entry.generation == generation,
            let vocabulary = entry.kinds[kind]
        else { return nil }
        clock &+= 1
        organizations[organizationID]?.used = clock
        return vocabulary
    }

    /// Keeps a vocabulary read at `generation`, unless a newer one is already held.
    mutating func store(_ vocabulary: Vocabulary, _ organizationID: String, _ kind: SearchKind, generation: Int64) {
        clock &+= 1
        if var entry = organizations[organizationID] {
            if entry.generation > generation { return }
            if entry.generation < generation { entry = Entry(generation: generation) }
            entry.kinds[kind] = vocabulary
            entry.used = clock
            organizations[organizationID] = entry
        } else {
            organizations[organizationID] = Entry(generation: generation, kinds: [kind: vocabulary], used: clock)
            if organizations.count > Self.organizationLimit,
                let oldest = organizations.min(by: { $0.value.used < $1.value.used })?.key
            {
                organizations[oldest] = nil
            }
        }
    }

    /// After this process wrote `generation` of an organization: fold in the new terms when
    /// nothing else happened to it in between; otherwise (or with `adding == nil`) forget its
    /// vocabularies, to reload lazily.
    mutating func advance(_ organizationID: String, to generation: Int64, adding terms: [SearchKind: [String: Int]]?) {
        guard let terms, var entry = organizations[organizationID], entry.generation == generation - 1 else {
            organizations[organizationID] = nil
            return
        }
        for (kind, words) in terms {
            guard entry.kinds[kind] != nil else { continue }
            for (word, count) in words { entry.kinds[kind]?.add(word, frequency: count) }
        }
        entry.generation = generation
        organizations[organizationID] = entry
    }

    /// Forgets every organization (a full reindex).
    mutating func reset() { organizations = [:] }
}

/// An organization's tables as of one transaction: its number (which names its FTS5 tables)
/// and its generation.
struct OrganizationTables: Sendable {
    var number: Int64
    var generation: Int64
}

extension SQLiteSearchIndex {
    /// The organization's tables, nil when it never indexed a document.
    static func tables(_ organizationID: String, in db: Database) throws -> OrganizationTables? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT n, generation FROM search_orgs WHERE org_id = ?"),
            arguments: [organizationID]
        ).map { OrganizationTables(number: $0[0], generation: $0[1]) }
    }

    /// The organization's number, creating its tables (inside the writer's transaction) on its
    /// first document.
    static func ensureTables(_ organizationID: String, in db: Database) throws -> Int64 {
        if let known = try tables(organizationID, in: db) { return known.number }
        let number = (try Int64.fetchOne(db, sql: "SELECT max(n) FROM search_orgs") ?? 0) + 1
        try db.execute(sql: "INSERT INTO search_orgs (org_id, n) VALUES (?, ?)", arguments: [organizationID, number])
        for kind in SearchKind.allCases { try createTables(kind, number, in: db) }
        return number
    }

    /// Moves the organization's generation (every write to its documents does).
    static func bumpGeneration(_ organizationID: String, in db: Database) throws -> Int64 {
        try Int64.fetchOne(
            db.cachedStatement(
                sql: "UPDATE search_orgs SET generation = generation + 1 WHERE org_id = ? RETURNING generation"),
            arguments: [organizationID]) ?? 0
    }

    /// The vocabulary of `kind` in the organization, as of the transaction `db` reads in. An
    /// organization without documents has an empty one.
    func vocabulary(_ kind: SearchKind, organizationID: String, _ db: Database) throws -> Vocabulary {
        guard let tables = try Self.tables(organizationID, in: db) else { return Vocabulary() }
        return try vocabulary(kind, organizationID: organizationID, tables, db)
    }

    func vocabulary(_ kind: SearchKind, organizationID: String, _ tables: OrganizationTables, _ db: Database) throws
        -> Vocabulary
    {
        if let held = vocabularies.withLock({ $0.held(organizationID, kind, generation: tables.generation) }) {
            return held
        }
        var loaded = Vocabulary()
        let rows = try Row.fetchCursor(db, sql: "SELECT term, doc FROM \(Self.vocabTable(kind, tables.number))")
        while let row = try rows.next() {
            let term: String = row[0]
            let docs: Int = row[1]
            loaded.add(term, frequency: docs)
        }
        logger.debug("search vocabulary loaded", metadata: ["kind": "\(kind.rawValue)", "terms": "\(loaded.count)"])
        vocabularies.withLock { $0.store(loaded, organizationID, kind, generation: tables.generation) }
        return loaded
    }
}
