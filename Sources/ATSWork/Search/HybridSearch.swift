import ATSDomain
import ATSSearch
import ATSVector
import Foundation
import Tracing

/// A search as the API asks for it.
public struct HybridQuery: Sendable, Hashable {
    public var kind: SearchKind
    public var organizationID: String
    public var text: String
    public var filters: SearchFilters
    public var limit: Int
    public var offset: Int
    /// 0: keyword only, 1: vectors only; in between, both fused by reciprocal rank.
    public var semantic: Double
    public var explain: Bool
    /// Facet counts over the whole match set (costly on large sets: asked for, not default).
    public var facets: Bool

    public init(
        kind: SearchKind, organizationID: String, text: String, filters: SearchFilters = SearchFilters(), limit: Int = 20,
        offset: Int = 0, semantic: Double = 0.3, explain: Bool = false, facets: Bool = false
    ) {
        self.facets = facets
        self.kind = kind
        self.organizationID = organizationID
        self.text = text
        self.filters = filters
        self.limit = limit
        self.offset = offset
        self.semantic = semantic
        self.explain = explain
    }
}

/// One ranked result, with how each side ranked it.
public struct HybridHit: Sendable, Hashable {
    public var id: String
    public var score: Double
    public var highlights: [String: String]
    public var keywordRank: Int?
    public var keywordScore: Double?
    public var vectorRank: Int?
    public var vectorScore: Double?
}

public struct HybridResults: Sendable, Hashable {
    public var hits: [HybridHit]
    public var total: Int
    public var facets: [String: [String: Int]]
    public var corrections: [String: [String]]
    public var parsed: String
}

extension SearchService {
    /// Keyword and vector search fused by reciprocal rank: each side contributes
    /// `weight / (k + rank)`, with weights `1 - semantic` and `semantic`. Results are cached under
    /// the organization's search generation, which every indexed change moves.
    public func search(_ query: HybridQuery) async throws -> HybridResults {
        guard let cache else { return try await compute(query) }
        let generation = try await cache.generation(generationKey(query.organizationID))
        let key = "s:\(query.organizationID):\(epoch()).\(generation):\(Self.describe(query))"
        if let bytes = try await cache.get(key), let cached = ResultCoding.decode(bytes) {
            counters.withLock { $0.cachedQueries += 1 }
            return cached
        }
        let results = try await compute(query)
        try? await cache.set(key, ResultCoding.encode(results), ttl: settings.resultTTL)
        return results
    }

    /// The cache key's text of a query: normalized, so spacing and case do not split entries.
    static func describe(_ query: HybridQuery) -> String {
        let text = query.text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let f = query.filters
        var parts: [String] = [query.kind.rawValue, text, String(query.limit), String(query.offset)]
        parts.append(String(query.semantic))
        parts.append(String(query.explain))
        parts.append(String(query.facets))
        parts.append(f.status.sorted().joined(separator: ","))
        parts.append(f.tags.sorted().joined(separator: ","))
        parts.append(f.skills.map { $0.lowercased() }.sorted().joined(separator: ","))
        parts.append(f.location ?? "")
        parts.append(f.minExperience.map { String($0) } ?? "")
        parts.append(f.maxExperience.map { String($0) } ?? "")
        parts.append(f.availableBy ?? "")
        parts.append(f.clientID ?? "")
        parts.append(f.jobID ?? "")
        parts.append(f.stage ?? "")
        return parts.map { "\($0.utf8.count):\($0)" }.joined()
    }

    static let minimumSimilarity: Float = 0.2
    static let relativeSimilarity: Float = 0.6

    func compute(_ query: HybridQuery) async throws -> HybridResults {
        var query = query
        // A skill filter names the canonical skill, as the documents do ("k8s" -> Kubernetes).
        query.filters.skills = query.filters.skills.map(documents.canonical)
        let wanted = min(query.offset + query.limit, 1_100)
        let pool = max(wanted, 30)
        let semantic = min(1, max(0, query.semantic))
        let text = query.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let useKeyword = semantic < 1 || text.isEmpty
        let useVectors = semantic > 0 && !text.isEmpty && query.kind != .client
        counters.withLock {
            $0.queries += 1
            if useVectors { $0.vectorQueries += 1 }
        }

        var keyword: SearchResults?
        if useKeyword {
            keyword = try await tracer.withSpan("search.keyword", ofKind: .internal) { _ in
                if !useVectors {
                    // Keywords alone: the index pages itself.
                    return try await index.search(
                        SearchQuery(
                            kind: query.kind, organizationID: query.organizationID, text: text, filters: query.filters,
                            limit: query.limit, offset: query.offset, facets: query.facets, highlight: true))
                }
                // Fused: the top `pool` of the keyword side, read 100 at a time (the index's page).
                var results = try await index.search(
                    SearchQuery(
                        kind: query.kind, organizationID: query.organizationID, text: text, filters: query.filters,
                        limit: min(pool, 100), offset: 0, facets: query.facets, highlight: true))
                while results.hits.count < min(pool, results.total), results.hits.count < 1_100 {
                    let more = try await index.search(
                        SearchQuery(
                            kind: query.kind, organizationID: query.organizationID, text: text, filters: query.filters,
                            limit: min(100, pool - results.hits.count), offset: results.hits.count, facets: false, highlight: true))
                    if more.hits.isEmpty { break }
                    results.hits += more.hits
                }
                return results
            }
        }
        var vectorMatches: [VectorMatch] = []
        if useVectors {
            let allowed: Set<String>? =
                query.filters.isEmpty
                ? nil
                : Set(try await index.filteredIDs(kind: query.kind, organizationID: query.organizationID, filters: query.filters, limit: 200_000))
            // An embeddings service that is down costs the meaning side only: keywords still answer.
            do {
                if let vector = try await tracer.withSpan("search.embed_query", ofKind: .internal, { _ in try await queryVector(text) }) {
                    vectorMatches = try await tracer.withSpan("search.vector", ofKind: .internal) { span in
                        span.attributes["ats.search.k"] = pool
                        return try await vectors.search(
                            kind: query.kind, organizationID: query.organizationID, vector: vector, k: pool, allowed: allowed)
                    }
                }
            } catch let error as EmbedderError {
                counters.withLock { $0.embeddingFailures += 1 }
                logger.warning("embedding the query failed; keyword results only", metadata: ["reason": "\(error.reason)"])
            }
        }

        if useKeyword, let best = vectorMatches.first?.score {
            // Beside keywords, a document only the vectors found must be close in meaning: near
            // the best vector hit and above a floor, or a query for one rare name would bring
            // every candidate along.
            let matched = Set((keyword?.hits ?? []).map(\.id))
            let floor = max(Self.minimumSimilarity, best * Self.relativeSimilarity)
            vectorMatches = vectorMatches.filter { matched.contains($0.id) || $0.score >= floor }
        }
        var fused: [String: HybridHit] = [:]
        let k = settings.fusionK
        for (rank, hit) in (keyword?.hits ?? []).enumerated() {
            var entry = fused[hit.id] ?? HybridHit(id: hit.id, score: 0, highlights: hit.highlights)
            entry.keywordRank = rank + 1
            entry.keywordScore = hit.score
            entry.score += (useVectors ? 1 - semantic : 1) / (k + Double(rank + 1))
            fused[hit.id] = entry
        }
        for (rank, match) in vectorMatches.enumerated() {
            var entry = fused[match.id] ?? HybridHit(id: match.id, score: 0, highlights: [:])
            entry.vectorRank = rank + 1
            entry.vectorScore = Double(match.score)
            entry.score += (useKeyword ? semantic : 1) / (k + Double(rank + 1))
            fused[match.id] = entry
        }
        let ranked = fused.values.sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
        // Keywords alone came back as the requested page already.
        let page = useVectors ? Array(ranked.dropFirst(query.offset).prefix(query.limit)) : ranked
        let total = useKeyword ? max(keyword?.total ?? 0, ranked.count) : vectorMatches.count
        return HybridResults(
            hits: page, total: total, facets: keyword?.facets ?? [:], corrections: keyword?.corrections ?? [:],
            parsed: keyword?.parsed ?? text)
    }

    /// The query's vector; cached, so a remote embedder is asked once per distinct query.
    func queryVector(_ text: String) async throws -> [Float]? {
        let key = "qv:\(embedder.identifier):\(text.lowercased())"
        if let cache, let bytes = try? await cache.get(key), bytes.count == embedder.dimensions * 4 {
            return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        guard let vector = try await embedder.embed([text]).first else { return nil }
        if let cache {
            let bytes = vector.withUnsafeBytes { Array($0) }
            try? await cache.set(key, bytes, ttl: .seconds(3600))
        }
        return vector
    }

    /// Names, titles, skills and clients as the user types.
    public func suggest(organizationID: String, prefix: String, limit: Int) async throws -> [Suggestion] {
        try await index.suggest(organizationID: organizationID, prefix: prefix, limit: limit)
    }
}

/// Search results as cache bytes (JSON: small, and read back exactly).
enum ResultCoding {
    static func encode(_ results: HybridResults) -> [UInt8] {
        let hits: [JSONValue] = results.hits.map { hit in
            var object: JSONObject = [
                "id": .string(hit.id), "score": .double(hit.score),
                "highlights": .object(hit.highlights.mapValues(JSONValue.string)),
            ]
            if let rank = hit.keywordRank { object["kr"] = .int(Int64(rank)) }
            if let score = hit.keywordScore { object["ks"] = .double(score) }
            if let rank = hit.vectorRank { object["vr"] = .int(Int64(rank)) }
            if let score = hit.vectorScore { object["vs"] = .double(score) }
            return .object(object)
        }
        let document: JSONObject = [
            "hits": .array(hits), "total": .int(Int64(results.total)),
            "facets": .object(results.facets.mapValues { .object($0.mapValues { .int(Int64($0)) }) }),
            "corrections": .object(results.corrections.mapValues { .array($0.map(JSONValue.string)) }),
            "parsed": .string(results.parsed),
        ]
        return Array(JSONCoding.encode(document).utf8)
    }

    static func decode(_ bytes: [UInt8]) -> HybridResults? {
        guard let object = JSONCoding.decodeObject(bytes) else { return nil }
        let hits = (object["hits"]?.arrayValue ?? []).compactMap { value -> HybridHit? in
            guard let hit = value.objectValue, let id = hit["id"]?.stringValue else { return nil }
            return HybridHit(
                id: id, score: hit["score"]?.doubleValue ?? 0,
                highlights: (hit["highlights"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
                keywordRank: hit["kr"]?.intValue.map { Int($0) }, keywordScore: hit["ks"]?.doubleValue,
                vectorRank: hit["vr"]?.intValue.map { Int($0) }, vectorScore: hit["vs"]?.doubleValue)
        }
        return HybridResults(
            hits: hits, total: Int(object["total"]?.intValue ?? 0),
            facets: (object["facets"]?.objectValue ?? [:]).mapValues { ($0.objectValue ?? [:]).compactMapValues { $0.intValue.map { Int($0) } } },
            corrections: (object["corrections"]?.objectValue ?? [:]).mapValues { ($0.arrayValue ?? []).compactMap(\.stringValue) },
            parsed: object["parsed"]?.stringValue ?? "")
    }
}
