import ATSDomain
import ATSSearch
import ATSWork
import Foundation
import Hummingbird
import NIOCore

/// Search: hybrid keyword + vector search over candidates and jobs, suggestions as the user
/// types, and matching of candidates to jobs and back. Scoped to the caller's organization.
extension RouteTable {
    static let maxQueryCharacters = 1_000

    func addSearchRoutes() {
        let gateway = self.gateway
        let common = [
            ParameterDoc(name: "q", location: .query, schema: .object(["type": "string", "maxLength": 1000]), summary: "The query: words, \"phrases\", AND, OR, NOT or -word, parentheses; typos are forgiven."),
            ParameterDoc(name: "limit", location: .query, schema: .object(["type": "integer", "minimum": 1, "maximum": 100]), summary: "Hits per page (default 20)."),
            ParameterDoc(name: "offset", location: .query, schema: .object(["type": "integer", "minimum": 0, "maximum": 1000]), summary: "Hits to skip."),
            ParameterDoc(name: "semantic", location: .query, schema: .object(["type": "number", "minimum": 0, "maximum": 1]), summary: "0: keywords only, 1: meaning only (vectors); default 0.3."),
            ParameterDoc(name: "explain", location: .query, schema: .object(["type": "boolean"]), summary: "Each hit's keyword and vector ranks and scores."),
            ParameterDoc(name: "facets", location: .query, schema: .object(["type": "boolean"]), summary: "Counts of statuses, tags, skills and places over all matches."),
            ParameterDoc(name: "status", location: .query, schema: .object(["type": "string", "maxLength": 200]), summary: "Any of these statuses (comma-separated)."),
            ParameterDoc(name: "tags", location: .query, schema: .object(["type": "string", "maxLength": 500]), summary: "All of these tags (comma-separated)."),
            ParameterDoc(name: "skills", location: .query, schema: .object(["type": "string", "maxLength": 500]), summary: "All of these skills (comma-separated; synonyms such as k8s count)."),
            ParameterDoc(name: "location", location: .query, schema: .object(["type": "string", "maxLength": 200]), summary: "Location contains this."),
        ]
        let candidateFilters = [
            ParameterDoc(name: "minExperience", location: .query, schema: .object(["type": "integer", "minimum": 0, "maximum": 70]), summary: "Years of experience at least."),
            ParameterDoc(name: "maxExperience", location: .query, schema: .object(["type": "integer", "minimum": 0, "maximum": 70]), summary: "Years of experience at most."),
            ParameterDoc(name: "availableBy", location: .query, schema: .object(["type": "string", "format": "date"]), summary: "Available from this date or earlier."),
            ParameterDoc(name: "job", location: .query, schema: JSONSchema.id, summary: "Applied to this job."),
            ParameterDoc(name: "stage", location: .query, schema: .object(["type": "string", "maxLength": 60]), summary: "At this pipeline stage (of `job` when given)."),
        ]
        let jobFilters = [
            ParameterDoc(name: "client", location: .query, schema: JSONSchema.id, summary: "This client's jobs.")
        ]

        for (kind, path, name, extra) in [
            (SearchKind.candidate, "/api/v1/search/candidates", "Candidates", candidateFilters),
            (SearchKind.job, "/api/v1/search/jobs", "Jobs", jobFilters),
        ] {
            add(
                Operation(
                    method: .get, path: path, operationID: "search\(name)",
                    summary: "Find \(kind.rawValue)s: keyword and meaning (vectors) fused by rank, with filters and facets.",
                    tag: "search", access: .role(.viewer), parameters: common + extra,
                    success: (200, JSONSchema.ref("SearchResults"), "application/json"), errors: [503]
                ) { request, context in
                    let principal = try gateway.principal(context)
                    let search = try gateway.requireSearch()
                    let query = try Self.hybridQuery(request, kind: kind, organizationID: principal.organizationID)
                    let results = try await Self.searchCall { try await search.search(query) }
                    return try await gateway.searchResponse(results, query: query)
                })
        }

        add(
            Operation(
                method: .get, path: "/api/v1/search/suggest", operationID: "searchSuggest",
                summary: "Names, titles, skills and clients starting with (or close to) what was typed.", tag: "search",
                access: .role(.viewer),
                parameters: [
                    ParameterDoc(name: "q", location: .query, schema: .object(["type": "string", "maxLength": 100]), summary: "What was typed so far."),
                    ParameterDoc(name: "limit", location: .query, schema: .object(["type": "integer", "minimum": 1, "maximum": 50]), summary: "Default 10."),
                ],
                success: (200, JSONSchema.ref("SuggestionList"), "application/json"), errors: [503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let search = try gateway.requireSearch()
                let reader = QueryReader(request)
                let text = Self.clean(Self.formValue(request, "q") ?? reader["q"] ?? "")
                guard text.count <= 100 else { throw Problem.badRequest("query-too-long", "`q` is at most 100 characters here.") }
                let limit = try Self.integer(reader, "limit", 1...50, default: 10)
                let suggestions = text.isEmpty
                    ? [] : try await Self.searchCall { try await search.suggest(organizationID: principal.organizationID, prefix: text, limit: limit) }
                return gateway.json([
                    "items": .array(suggestions.map { item in
                        .object(["text": .string(item.text), "type": .string(item.type), "id": item.id.map(JSONValue.string) ?? .null])
                    })
                ])
            })

        for (kind, path, name, other) in [
            (EntityKind.job, "/api/v1/jobs/{id}/matches", "JobMatches", "candidate"),
            (EntityKind.candidate, "/api/v1/candidates/{id}/matches", "CandidateMatches", "job"),
        ] {
            add(
                Operation(
                    method: .get, path: path, operationID: "get\(name)",
                    summary: kind == .job
                        ? "Candidates for this job, scored 0-100 with the reasons (skills met and missing, seniority, location, languages)."
                        : "Open jobs for this candidate, scored 0-100 with the reasons.",
                    tag: "search", access: .role(.viewer),
                    parameters: [
                        ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "The \(kind.rawValue)'s id."),
                        ParameterDoc(name: "limit", location: .query, schema: .object(["type": "integer", "minimum": 1, "maximum": 100]), summary: "Default 20."),
                    ],
                    success: (200, JSONSchema.ref("MatchList"), "application/json"), errors: [404, 503]
                ) { request, context in
                    let principal = try gateway.principal(context)
                    // Before any work: the stricter matching limit, on top of the general one.
                    if let wait = gateway.matchLimiter.take(principal.rateLimitKey) {
                        throw Problem.tooManyRequests(retryAfter: wait)
                    }
                    let search = try gateway.requireSearch()
                    let id = try gateway.id(context)
                    let limit = try Self.integer(QueryReader(request), "limit", 1...100, default: 20)
                    let found = try await Self.searchCall {
                        kind == .job
                            ? try await search.matches(forJob: id, organizationID: principal.organizationID, limit: limit)
                            : try await search.matches(forCandidate: id, organizationID: principal.organizationID, limit: limit)
                    }
                    guard let matches = found else { throw Problem.notFound("The \(kind.rawValue)") }
                    var items: [String] = []
                    let otherKind: EntityKind = kind == .job ? .candidate : .job
                    for match in matches {
                        guard let document = try await gateway.store.document(otherKind, organizationID: principal.organizationID, id: match.id) else { continue }
                        let reasons: JSONObject = [
                            "skillsMet": .array(match.skillsMet.map(JSONValue.string)),
                            "skillsMissing": .array(match.skillsMissing.map(JSONValue.string)),
                            "seniority": .string(match.seniority), "location": .string(match.location),
                            "languages": .string(match.languages), "similarity": .double(match.similarity),
                        ]
                        items.append(
                            "{\"id\":\(JSONText.serialize(.string(match.id))),\"score\":\(match.score),\"\(other)\":\(document),\"reasons\":\(JSONCoding.encode(reasons))}")
                    }
                    return gateway.json("{\"items\":[" + items.joined(separator: ",") + "]}")
                })
        }
    }

    // MARK: Parameters

    /// Control characters out, whitespace runs folded.
    static func clean(_ text: String) -> String {
        let scalars = text.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? " " : Character($0) }
        return String(scalars).split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    static func integer(_ reader: QueryReader, _ name: String, _ range: ClosedRange<Int>, default value: Int) throws -> Int {
        guard let raw = reader[name] else { return value }
        guard let number = Int(raw), range.contains(number) else {
            throw Problem.badRequest("invalid-parameter", "`\(name)` must be an integer from \(range.lowerBound) to \(range.upperBound).")
        }
        return number
    }

    static func list(_ reader: QueryReader, _ name: String) -> [String] {
        (reader[name] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A query-string value decoded as HTML forms encode it: `+` is a space (browsers and
    /// most HTTP clients send `java+kafka`), `%2B` a plus (`c%2B%2B`).
    static func formValue(_ request: Request, _ name: String) -> String? {
        guard let query = request.uri.query else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            let spaced = parts[1].replacingOccurrences(of: "+", with: " ")
            return spaced.removingPercentEncoding ?? spaced
        }
        return nil
    }

    static func hybridQuery(_ request: Request, kind: SearchKind, organizationID: String) throws -> HybridQuery {
        let reader = QueryReader(request)
        let raw = formValue(request, "q") ?? reader["q"] ?? ""
        guard raw.count <= maxQueryCharacters else {
            throw Problem.badRequest("query-too-long", "A query is at most \(maxQueryCharacters) characters.")
        }
        var query = HybridQuery(kind: kind, organizationID: organizationID, text: clean(raw))
        query.limit = try integer(reader, "limit", 1...100, default: 20)
        query.offset = try integer(reader, "offset", 0...1000, default: 0)
        if let semantic = reader["semantic"] {
            guard let value = Double(semantic), (0...1).contains(value) else {
                throw Problem.badRequest("invalid-parameter", "`semantic` must be a number from 0 to 1.")
            }
            query.semantic = value
        }
        if let explain = reader["explain"] {
            guard ["true", "false"].contains(explain) else { throw Problem.badRequest("invalid-parameter", "`explain` is true or false.") }
            query.explain = explain == "true"
        }
        if let facets = reader["facets"] {
            guard ["true", "false"].contains(facets) else { throw Problem.badRequest("invalid-parameter", "`facets` is true or false.") }
            query.facets = facets == "true"
        }
        var filters = SearchFilters()
        filters.status = list(reader, "status")
        filters.tags = list(reader, "tags")
        filters.skills = list(reader, "skills")
        filters.location = reader["location"].map(clean).flatMap { $0.isEmpty ? nil : $0 }
        for text in filters.status + filters.tags + filters.skills + [filters.location ?? ""] where text.count > 200 {
            throw Problem.badRequest("invalid-parameter", "A filter value is at most 200 characters.")
        }
        if kind == .candidate {
            if reader["minExperience"] != nil { filters.minExperience = try integer(reader, "minExperience", 0...70, default: 0) }
            if reader["maxExperience"] != nil { filters.maxExperience = try integer(reader, "maxExperience", 0...70, default: 70) }
            if let date = reader["availableBy"] {
                guard Timestamp.isDay(date) else { throw Problem.badRequest("invalid-parameter", "`availableBy` is a date, yyyy-MM-dd.") }
                filters.availableBy = date
            }
            if let job = reader["job"] {
                guard let id = Identifier.canonical(job) else { throw Problem.badRequest("invalid-parameter", "`job` is not an id.") }
                filters.jobID = id
            }
            if let stage = reader["stage"] {
                guard (1...60).contains(stage.count) else { throw Problem.badRequest("invalid-parameter", "`stage` is 1 to 60 characters.") }
                filters.stage = stage
            }
        } else if let client = reader["client"] {
            guard let id = Identifier.canonical(client) else { throw Problem.badRequest("invalid-parameter", "`client` is not an id.") }
            filters.clientID = id
        }
        query.filters = filters
        return query
    }

    /// A query the index refuses is the caller's to fix: 400, never 500.
    static func searchCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SearchQueryError {
            throw Problem.badRequest(error.reason, error.message)
        } catch is SearchIndexError {
            // The index's database is busy or unreadable: try again shortly, not our 500.
            throw Problem(
                .serviceUnavailable, "search-unavailable", "Search unavailable",
                detail: "The search index cannot answer right now; try again in a moment.", headers: [.retryAfter: "1"])
        }
    }

    static let searchSchemas: [(String, JSONValue)] = {
        let rankScore = JSONValue.object([
            "type": .array(["object", "null"]),
            "properties": .object(["rank": JSONSchema.integer, "score": .object(["type": "number"])]),
            "additionalProperties": false,
        ])
        let hit = JSONSchema.strict(
            [
                "id": JSONSchema.id, "score": .object(["type": "number"]), "document": .object(["type": "object"]),
                "highlights": .object(["type": "object", "additionalProperties": JSONSchema.string]),
                "explain": .object([
                    "type": "object", "properties": .object(["keyword": rankScore, "vector": rankScore]),
                    "additionalProperties": false,
                ]),
            ], required: ["id", "score", "document", "highlights"])
        let counts = JSONValue.object(["type": "object", "additionalProperties": JSONSchema.integer])
        let results = JSONSchema.strict(
            [
                "hits": .object(["type": "array", "items": JSONSchema.ref("SearchHit")]),
                "total": JSONSchema.integer,
                "facets": .object(["type": "object", "additionalProperties": counts]),
                "corrections": .object(["type": "object", "additionalProperties": .object(["type": "array", "items": JSONSchema.string])]),
                "query": JSONSchema.strict(
                    ["q": JSONSchema.string, "semantic": .object(["type": "number"]), "parsed": JSONSchema.string],
                    required: ["q", "semantic", "parsed"]),
            ], required: ["hits", "total", "facets", "corrections", "query"])
        let suggestion = JSONSchema.strict(
            [
                "text": JSONSchema.string, "type": JSONSchema.string,
                "id": .object(["type": .array(["string", "null"])]),
            ], required: ["text", "type", "id"])
        let reasons = JSONSchema.strict(
            [
                "skillsMet": .object(["type": "array", "items": JSONSchema.string]),
                "skillsMissing": .object(["type": "array", "items": JSONSchema.string]),
                "seniority": JSONSchema.string, "location": JSONSchema.string, "languages": JSONSchema.string,
                "similarity": .object(["type": "number"]),
            ], required: ["skillsMet", "skillsMissing", "seniority", "location", "languages", "similarity"])
        let match = JSONValue.object([
            "type": "object",
            "properties": .object([
                "id": JSONSchema.id, "score": .object(["type": "integer", "minimum": 0, "maximum": 100]),
                "candidate": .object(["type": "object"]), "job": .object(["type": "object"]), "reasons": reasons,
            ]),
            "required": .array(["id", "score", "reasons"]),
            "additionalProperties": false,
        ])
        return [
            ("SearchHit", hit),
            ("SearchResults", results),
            ("Suggestion", suggestion),
            ("SuggestionList", JSONSchema.strict(["items": .object(["type": "array", "items": JSONSchema.ref("Suggestion")])], required: ["items"])),
            ("Match", match),
            ("MatchList", JSONSchema.strict(["items": .object(["type": "array", "items": JSONSchema.ref("Match")])], required: ["items"])),
        ]
    }()
}

extension Gateway {
    /// The search tier, or 503 when this server runs without it.
    func requireSearch() throws -> SearchService {
        guard let search = work?.search else {
            throw Problem(.serviceUnavailable, "search-unavailable", "Search unavailable", detail: "This server runs without the search tier.")
        }
        return search
    }

    /// The results with each hit's stored document, written as one JSON text.
    func searchResponse(_ results: HybridResults, query: HybridQuery) async throws -> Response {
        let kind: EntityKind = query.kind == .candidate ? .candidate : query.kind == .job ? .job : .client
        var hits: [String] = []
        hits.reserveCapacity(results.hits.count)
        for hit in results.hits {
            guard let document = try await store.document(kind, organizationID: query.organizationID, id: hit.id) else { continue }
            var text = "{\"id\":" + JSONText.serialize(.string(hit.id)) + ",\"score\":" + JSONText.serialize(.double(hit.score))
            text += ",\"document\":" + document
            text += ",\"highlights\":" + JSONCoding.encode(hit.highlights.mapValues(JSONValue.string))
            if query.explain {
                func side(_ rank: Int?, _ score: Double?) -> JSONValue {
                    guard let rank else { return .null }
                    return .object(["rank": .int(Int64(rank)), "score": .double(score ?? 0)])
                }
                text += ",\"explain\":" + JSONCoding.encode([
                    "keyword": side(hit.keywordRank, hit.keywordScore), "vector": side(hit.vectorRank, hit.vectorScore),
                ])
            }
            hits.append(text + "}")
        }
        let rest: JSONObject = [
            "total": .int(Int64(results.total)),
            "facets": .object(results.facets.mapValues { .object($0.mapValues { .int(Int64($0)) }) }),
            "corrections": .object(results.corrections.mapValues { .array($0.map(JSONValue.string)) }),
            "query": .object(["q": .string(query.text), "semantic": .double(query.semantic), "parsed": .string(results.parsed)]),
        ]
        var tail = JSONCoding.encode(rest)
        tail.removeFirst()
        return json("{\"hits\":[" + hits.joined(separator: ",") + "]," + tail)
    }
}
