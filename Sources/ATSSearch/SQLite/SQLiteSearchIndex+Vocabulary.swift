import GRDB

/// The in-memory typo vocabularies and the index generation they reflect. Every write bumps
/// the generation in `search_meta`; a search that reads another generation than the one held
/// here (another process wrote, or a large batch was not tokenized) reloads from `fts5vocab`.
struct VocabularyState: Sendable {
    var generation: Int64?
    var kinds: [SearchKind: Vocabulary] = [:]

    /// After this process wrote `generation`: fold in the new terms when nothing else happened
    /// in between; otherwise (or with `adding == nil`) forget everything, to reload lazily.
    mutating func advance(to generation: Int64, adding terms: [SearchKind: [String: Int]]?) {
        guard let terms, let held = self.generation, held == generation - 1 else {
            self.generation = nil
            kinds = [:]
            return
        }
        for (kind, words) in terms {
            guard kinds[kind] != nil else { continue }
            for (word, count) in words { kinds[kind]?.add(word, frequency: count) }
        }
        self.generation = generation
    }
}

extension SQLiteSearchIndex {
    /// The vocabulary of `kind` as of the transaction `db` reads in.
    func vocabulary(_ kind: SearchKind, _ db: Database) throws -> Vocabulary {
        let generation =
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM search_meta WHERE key = 'generation'")) ?? 0
        if let held = vocabularies.withLock({ $0.generation == generation ? $0.kinds[kind] : nil }) {
            return held
        }
        var loaded = Vocabulary()
        let rows = try Row.fetchCursor(
            db, sql: "SELECT term, doc FROM \(Self.vocabTable(kind))")
        while let row = try rows.next() {
            let term: String = row[0]
            let docs: Int = row[1]
            loaded.add(term, frequency: docs)
        }
        logger.debug("search vocabulary loaded", metadata: ["kind": "\(kind.rawValue)", "terms": "\(loaded.count)"])
        vocabularies.withLock { state in
            if state.generation != generation {
                state.generation = generation
                state.kinds = [:]
            }
            state.kinds[kind] = loaded
        }
        return loaded
    }
}
