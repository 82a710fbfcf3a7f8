/// The full-text half of the search tier. A backend keeps one index per organization and kind,
/// answers boolean, phrase, prefix and typo-tolerant queries with filters and facets, and never
/// lets one tenant's documents reach another tenant's results or suggestions - nor anything
/// derived from them: typo vocabularies and corrections, prefix decisions, ranking statistics
/// (scores, order), totals and facet counts are each organization's own, so no answer of one
/// organization moves when another writes or deletes (the conformance suite proves it).
public protocol SearchIndex: Sendable {
    /// Adds or replaces documents (keyed by kind, organization and id).
    func upsert(_ documents: [SearchDocument]) async throws
    /// Drops documents; unknown ids are ignored.
    func remove(kind: SearchKind, organizationID: String, ids: [String]) async throws
    /// Drops every document of the organization (nil: of all) - for a full reindex.
    func removeAll(organizationID: String?) async throws
    /// Ranked hits, total, facets and corrections; throws `SearchQueryError` for unacceptable input.
    func search(_ query: SearchQuery) async throws -> SearchResults
    /// The ids matching `filters` only (no text), for the vector side's filtered search; at most `limit`.
    func filteredIDs(kind: SearchKind, organizationID: String, filters: SearchFilters, limit: Int) async throws
        -> [String]
    /// Names, titles, skills, clients and jobs of one organization that start with (or are a
    /// typo away from) `prefix`, most frequent first.
    func suggest(organizationID: String, prefix: String, limit: Int) async throws -> [Suggestion]
    /// How many documents of a kind the organization has indexed.
    func count(kind: SearchKind, organizationID: String) async throws -> Int
}

/// The kinds of documents the index holds; each has its own fixed fields and weights.
public enum SearchKind: String, Sendable, CaseIterable, Hashable {
    case candidate, job, client
}

/// One document to index: its searchable texts plus the attributes filters and facets use.
public struct SearchDocument: Sendable, Hashable {
    public var kind: SearchKind
    public var organizationID: String
    public var id: String
    /// Searchable texts by field name; see `SearchSchema` for the names each kind has. Unknown
    /// names are ignored.
    public var fields: [String: String]
    /// Filterable/facetable attributes; values are normalized by the index (case-folded).
    public var status: String?
    public var tags: [String]
    /// Canonical skill names (facets + filter).
    public var skills: [String]
    public var location: String?
    public var experienceYears: Int?
    /// `yyyy-MM-dd`.
    public var availableFrom: String?
    public var clientID: String?
    /// Candidate: the jobs applied to.
    public var jobIDs: [String]
    /// Candidate: the current stages of those applications, either `"jobID:stage"` pairs or
    /// plain stage names in the same order as `jobIDs`.
    public var stages: [String]
    /// Orders a search without text (newest first); any sortable timestamp text.
    public var updatedAt: String

    public init(
        kind: SearchKind, organizationID: String, id: String, fields: [String: String] = [:],
        status: String? = nil, tags: [String] = [], skills: [String] = [], location: String? = nil,
        experienceYears: Int? = nil, availableFrom: String? = nil, clientID: String? = nil,
        jobIDs: [String] = [], stages: [String] = [], updatedAt: String = ""
    ) {
        self.kind = kind
        self.organizationID = organizationID
        self.id = id
        self.fields = fields
        self.status = status
        self.tags = tags
        self.skills = skills
        self.location = location
        self.experienceYears = experienceYears
        self.availableFrom = availableFrom
        self.clientID = clientID
        self.jobIDs = jobIDs
        self.stages = stages
        self.updatedAt = updatedAt
    }
}

/// Restrictions applied in the database together with the text, so a filtered search still
/// fills its page when enough documents match.
public struct SearchFilters: Sendable, Hashable {
    /// Any of these statuses.
    public var status: [String] = []
    /// All of these tags.
    public var tags: [String] = []
    /// All of these skills (case-insensitive).
    public var skills: [String] = []
    /// Case-insensitive substring of the location.
    public var location: String? = nil
    public var minExperience: Int? = nil
    public var maxExperience: Int? = nil
    /// `availableFrom` is set and on or before this `yyyy-MM-dd` date.
    public var availableBy: String? = nil
    public var clientID: String? = nil
    /// Candidates who applied to this job.
    public var jobID: String? = nil
    /// With `jobID`: at this stage in that job; alone: any application at this stage.
    public var stage: String? = nil

    public init() {}

    /// True when nothing restricts the match set.
    public var isEmpty: Bool {
        status.isEmpty && tags.isEmpty && skills.isEmpty && location == nil && minExperience == nil
            && maxExperience == nil && availableBy == nil && clientID == nil && jobID == nil && stage == nil
    }
}

/// One search request: the user's raw text, filters, the page and what to compute besides hits.
public struct SearchQuery: Sendable, Hashable {
    public var kind: SearchKind
    public var organizationID: String
    /// The user's raw query; empty means filters only, newest first.
    public var text: String
    public var filters: SearchFilters
    /// Clamped to 1...100.
    public var limit: Int
    /// Clamped to 0...1000.
    public var offset: Int
    /// Compute facet counts over the whole match set.
    public var facets: Bool
    public var highlight: Bool

    public init(
        kind: SearchKind, organizationID: String, text: String, filters: SearchFilters = SearchFilters(),
        limit: Int = 20, offset: Int = 0, facets: Bool = false, highlight: Bool = false
    ) {
        self.kind = kind
        self.organizationID = organizationID
        self.text = text
        self.filters = filters
        self.limit = limit
        self.offset = offset
        self.facets = facets
        self.highlight = highlight
    }
}

/// One ranked document.
public struct SearchHit: Sendable, Hashable {
    public var id: String
    /// Higher is better: `-bm25` with the field weights, plus 1000 when every term matched as
    /// typed (so exact matches outrank typo and prefix matches); 0 for a search without text.
    public var score: Double
    /// Field -> snippet, HTML-escaped, with the matched terms in `<mark>..</mark>`.
    public var highlights: [String: String]

    public init(id: String, score: Double, highlights: [String: String] = [:]) {
        self.id = id
        self.score = score
        self.highlights = highlights
    }
}

/// A page of hits and what the whole match set looks like.
public struct SearchResults: Sendable, Hashable {
    public var hits: [SearchHit]
    /// Matches in all (before limit/offset).
    public var total: Int
    /// "status", "tags", "skills", "location" -> value -> count (top 20 each) over the match set.
    public var facets: [String: [String: Int]]
    /// Query term -> vocabulary terms it also matched (typos).
    public var corrections: [String: [String]]
    /// The normalized query, for explain.
    public var parsed: String

    public init(
        hits: [SearchHit], total: Int, facets: [String: [String: Int]] = [:],
        corrections: [String: [String]] = [:], parsed: String = ""
    ) {
        self.hits = hits
        self.total = total
        self.facets = facets
        self.corrections = corrections
        self.parsed = parsed
    }
}

/// One completion for the search box.
public struct Suggestion: Sendable, Hashable {
    /// What to show.
    public var text: String
    /// "candidate" | "title" | "skill" | "client" | "job".
    public var type: String
    /// The document for candidate/client/job.
    public var id: String?

    public init(text: String, type: String, id: String? = nil) {
        self.text = text
        self.type = type
        self.id = id
    }
}

/// A query the parser cannot accept (too long, ...): the HTTP edge maps it to a 400 problem.
public struct SearchQueryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable machine-readable cause, e.g. "query-too-long".
    public var reason: String
    public var message: String

    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "SearchQueryError.\(reason): \(message)" }
}

/// What a backend reports when it cannot answer (its native errors never cross the protocol).
public struct SearchIndexError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "SearchIndexError: \(message)" }
}
