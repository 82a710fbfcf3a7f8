import ATSCache
import ATSDomain
import ATSSearch
import ATSStore
import ATSVector
import Foundation

/// A candidate for a job (or a job for a candidate), scored 0-100 with its reasons.
public struct Match: Sendable, Hashable {
    public var id: String
    public var score: Int
    public var skillsMet: [String]
    public var skillsMissing: [String]
    public var seniority: String
    public var location: String
    public var languages: String
    public var similarity: Double
}

/// Matching: the hybrid search finds the plausible ones; each is then scored on what a
/// recruiter checks first: required skills (through the taxonomy, so "k8s" meets
/// "Kubernetes"), seniority against the title, location (or remote), languages the job text
/// asks for, and how close the texts are.
extension SearchService {
    static let weights = (skills: 0.45, similarity: 0.2, seniority: 0.15, location: 0.12, languages: 0.08)

    /// How many candidates a job's matching scores: the best of the keyword side (its required
    /// skills and title) and of the vector side (its text), merged. Scoring reads each one's
    /// record, so this bounds the cost of a call whatever the size of the agency.
    static let matchPool = (keyword: 200, vector: 200)

    /// Candidates for a job, best first. nil when the job does not exist in the organization.
    public func matches(forJob jobID: String, organizationID: String, limit: Int) async throws -> [Match]? {
        guard let job = try await store.record(.job, organizationID: organizationID, id: jobID) else { return nil }
        let all = try await cachedMatches(of: job, organizationID: organizationID) {
            try await self.computeMatches(forJob: job, organizationID: organizationID)
        }
        return Array(all.prefix(limit))
    }

    /// Open jobs for a candidate, best first. nil when the candidate does not exist.
    public func matches(forCandidate candidateID: String, organizationID: String, limit: Int) async throws -> [Match]? {
        guard let candidate = try await store.record(.candidate, organizationID: organizationID, id: candidateID) else { return nil }
        let all = try await cachedMatches(of: candidate, organizationID: organizationID) {
            try await self.computeMatches(forCandidate: candidate, organizationID: organizationID)
        }
        return Array(all.prefix(limit))
    }

    // MARK: Cache

    /// The whole ranked list (up to 100) under the organization's search generation and the
    /// record's version: a write to the index or an edit of the record itself gives a new key,
    /// so a result is never older than either. Concurrent callers of one key compute once.
    func cachedMatches(of record: Record, organizationID: String, compute: @escaping @Sendable () async throws -> [Match])
        async throws -> [Match]
    {
        guard let cache else { return try await compute() }
        let generation = try await cache.generation(generationKey(organizationID))
        let key = "m:\(organizationID):\(epoch()).\(generation):\(record.kind.rawValue):\(record.id):\(Self.version(of: record))"
        let bytes = try await cache.fetch(key, ttl: settings.resultTTL) { MatchCoding.encode(try await compute()) }
        if let bytes, let matches = MatchCoding.decode(bytes) { return matches }
        return try await compute()
    }

    /// A record's version for cache keys: its update time and a digest of its fields (two edits
    /// within one timestamp still differ).
    static func version(of record: Record) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in record.json.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return record.updatedAt + "." + String(hash, radix: 16)
    }

    // MARK: Computing

    /// The keyword side finds those sharing the job's skills and title; the vector side those
    /// close in meaning; every candidate of the merged pool is scored (similarity included,
    /// for those the vectors did not rank), best first.
    func computeMatches(forJob job: Record, organizationID: String) async throws -> [Match] {
        let profile = JobProfile(job, documents: documents, languages: knownLanguages)
        var pool: [String] = []
        var seen = Set<String>()
        if !profile.keywordQuery.isEmpty {
            // No highlights, facets or typo corrections (terms are quoted): only the ranked ids.
            var offset = 0
            while offset < Self.matchPool.keyword {
                let page = try await index.search(
                    SearchQuery(
                        kind: .candidate, organizationID: organizationID, text: profile.keywordQuery,
                        limit: min(100, Self.matchPool.keyword - offset), offset: offset, facets: false, highlight: false))
                for hit in page.hits where seen.insert(hit.id).inserted { pool.append(hit.id) }
                offset += page.hits.count
                if page.hits.count < 100 || offset >= page.total { break }
            }
        }
        var similarity: [String: Double] = [:]
        let text = profile.semanticText
        if !text.isEmpty {
            do {
                if let vector = try await queryVector(text) {
                    let near = try await vectors.search(
                        kind: .candidate, organizationID: organizationID, vector: vector, k: Self.matchPool.vector, allowed: nil)
                    for match in near {
                        similarity[match.id] = Double(match.score)
                        if seen.insert(match.id).inserted { pool.append(match.id) }
                    }
                    // The keyword hits the nearest did not include: their own similarity, exactly.
                    let rest = Set(pool.filter { similarity[$0] == nil })
                    if !rest.isEmpty {
                        let scored = try await vectors.search(
                            kind: .candidate, organizationID: organizationID, vector: vector, k: rest.count, allowed: rest)
                        for match in scored { similarity[match.id] = Double(match.score) }
                    }
                }
            } catch let error as EmbedderError {
                // The meaning side is lost; keywords and the structured fields still score.
                counters.withLock { $0.embeddingFailures += 1 }
                logger.warning("embedding the job failed; keyword matches only", metadata: ["reason": "\(error.reason)"])
            }
        }
        // One read for the whole pool: a record at a time was most of a call's time.
        let candidates = try await store.records(.candidate, organizationID: organizationID, ids: pool)
        let matches = candidates.map { score(job: profile, candidate: $0, id: $0.id, similarity: similarity[$0.id] ?? 0) }
        return Self.ranked(matches)
    }

    func computeMatches(forCandidate candidate: Record, organizationID: String) async throws -> [Match] {
        let f = candidate.fields
        var skills: [String] = []
        for field in SearchDocuments.skillFields where field != "softSkills" { skills += (f[field]?.stringArray ?? []) }
        let text = ([f.searchText("currentTitle"), f.searchText("professionalHeadline")].compactMap { $0 } + skills.prefix(12))
            .joined(separator: " ")
        var filters = SearchFilters()
        filters.status = ["active"]
        let hits = try await search(
            HybridQuery(kind: .job, organizationID: organizationID, text: Self.orQuery(text), filters: filters, limit: 100, semantic: 0.6))
        let similarity = Dictionary(hits.hits.map { ($0.id, $0.vectorScore ?? 0) }, uniquingKeysWith: { a, _ in a })
        let jobs = try await store.records(.job, organizationID: organizationID, ids: hits.hits.map(\.id))
        let matches = jobs.map { job in
            score(
                job: JobProfile(job, documents: documents, languages: knownLanguages), candidate: candidate, id: job.id,
                similarity: similarity[job.id] ?? 0)
        }
        return Self.ranked(matches)
    }

    /// Best first (ties by id, so pages are stable); the most a caller can ask for.
    static func ranked(_ matches: [Match]) -> [Match] {
        Array(matches.sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }.prefix(100))
    }

    /// Words joined by OR, so a long profile finds documents sharing any of them.
    static func orQuery(_ text: String) -> String {
        let words = text.split { !$0.isLetter && !$0.isNumber && $0 != "+" && $0 != "#" }.map(String.init)
        var seen = Set<String>()
        let unique = words.filter { $0.count > 1 && seen.insert($0.lowercased()).inserted }
        return unique.prefix(30).joined(separator: " OR ")
    }

    var knownLanguages: [String] {
        let names = ["English", "French", "German", "Spanish", "Italian", "Dutch", "Portuguese", "Swiss German", "Polish", "Chinese", "Japanese", "Arabic", "Russian"]
        return names
    }

    func score(job: JobProfile, candidate: Record, id: String, similarity: Double) -> Match {
        let f = candidate.fields
        var have = Set<String>()
        for field in SearchDocuments.skillFields { for skill in (f[field]?.stringArray ?? []) { have.insert(documents.canonical(skill).lowercased()) } }
        let met = job.skills.filter { have.contains($0.lowercased()) }
        let missing = job.skills.filter { !have.contains($0.lowercased()) }
        let skillScore = job.skills.isEmpty ? 0.5 : Double(met.count) / Double(job.skills.count)

        let years = f["experienceYears"]?.intValue.map { Int($0) }
        let (seniorityScore, seniority): (Double, String) = {
            guard let years else { return (0.5, "experience not recorded") }
            let range = job.expectedYears
            if range.contains(years) { return (1, "\(years) years fits a \(job.level) role") }
            if years < range.lowerBound {
                return (max(0, 1 - Double(range.lowerBound - years) / 4), "\(years) years, a \(job.level) role asks \(range.lowerBound)+")
            }
            return (0.7, "\(years) years, more than a \(job.level) role needs")
        }()

        let (locationScore, location): (Double, String) = {
            if job.remote == "remote" { return (1, "remote role") }
            let here = f.searchText("currentLocation")?.lowercased() ?? ""
            let relocate = f["preferences"]?.objectValue?["willingToRelocate"]?.boolValue ?? false
            guard let there = job.location?.lowercased() else { return (0.7, "no location on the job") }
            let city = there.split(separator: ",").first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? there
            if !here.isEmpty, here.contains(city) || there.contains(here.split(separator: ",").first.map(String.init) ?? "\u{0}") {
                return (1, "same place")
            }
            if relocate { return (0.7, "willing to relocate") }
            if job.remote == "hybrid" { return (0.4, "hybrid role elsewhere") }
            return (here.isEmpty ? 0.4 : 0.1, here.isEmpty ? "candidate location unknown" : "different place")
        }()

        let spoken = Set((f["spokenLanguages"]?.stringArray ?? []).map { $0.lowercased() })
        let (languageScore, languages): (Double, String) = {
            guard !job.languages.isEmpty else { return (1, "no language asked") }
            let lacking = job.languages.filter { !spoken.contains($0.lowercased()) }
            if lacking.isEmpty { return (1, "speaks \(job.languages.joined(separator: ", "))") }
            return (1 - Double(lacking.count) / Double(job.languages.count), "lacks \(lacking.joined(separator: ", "))")
        }()

        let w = Self.weights
        let total = w.skills * skillScore + w.similarity * max(0, min(1, similarity)) + w.seniority * seniorityScore
            + w.location * locationScore + w.languages * languageScore
        return Match(
            id: id, score: Int((total * 100).rounded()), skillsMet: met, skillsMissing: missing, seniority: seniority,
            location: location, languages: languages, similarity: similarity)
    }
}

/// What matching reads of a job.
struct JobProfile {
    let title: String
    let skills: [String]
    let location: String?
    let remote: String?
    let level: String
    let expectedYears: ClosedRange<Int>
    let languages: [String]
    /// The required skills and the title, each quoted (an exact term: no typo expansion), OR'd.
    let keywordQuery: String
    /// What the job is about, for the vector side.
    let semanticText: String

    init(_ job: Record, documents: SearchDocuments, languages known: [String]) {
        let f = job.fields
        title = f.searchText("title") ?? ""
        var seen = Set<String>()
        skills = (f["requiredSkills"]?.stringArray ?? []).map(documents.canonical).filter { seen.insert($0.lowercased()).inserted }
        location = f.searchText("location")
        remote = f.searchText("remote")
        let lower = title.lowercased()
        if lower.contains("principal") || lower.contains("head") || lower.contains("director") || lower.contains("lead") || lower.contains("staff") {
            (level, expectedYears) = ("lead", 8...40)
        } else if lower.contains("senior") || lower.contains("sr.") {
            (level, expectedYears) = ("senior", 5...40)
        } else if lower.contains("junior") || lower.contains("graduate") || lower.contains("intern") || lower.contains("trainee") {
            (level, expectedYears) = ("junior", 0...3)
        } else {
            (level, expectedYears) = ("mid-level", 2...10)
        }
        let text = [f.searchText("requirements"), f.searchText("description")].compactMap { $0 }.joined(separator: " ").lowercased()
        languages = known.filter { text.contains($0.lowercased()) }
        keywordQuery = Self.quotedOr([title] + skills.prefix(20))
        semanticText = ([title] + skills).joined(separator: " ")
    }

    /// `"a" OR "b c"`: quotes keep a skill's words together and out of the query syntax (and
    /// out of typo expansion). Within the parser's limits on words and length.
    static func quotedOr(_ phrases: [String]) -> String {
        var seen = Set<String>()
        var quoted: [String] = []
        var words = 0
        var length = 0
        for phrase in phrases {
            let parts = phrase.split { !$0.isLetter && !$0.isNumber && $0 != "+" && $0 != "#" && $0 != "." }.prefix(6)
            let text = parts.joined(separator: " ")
            guard !parts.isEmpty, seen.insert(text.lowercased()).inserted else { continue }
            guard words + parts.count <= QueryParser.maxTerms / 2, length + text.count + 6 <= QueryParser.maxLength / 2 else { break }
            words += parts.count
            length += text.count + 6
            quoted.append("\"" + text + "\"")
        }
        return quoted.joined(separator: " OR ")
    }
}

/// Match lists as cache bytes (JSON, read back exactly).
enum MatchCoding {
    static func encode(_ matches: [Match]) -> [UInt8] {
        let items: [JSONValue] = matches.map { match in
            .object([
                "id": .string(match.id), "score": .int(Int64(match.score)),
                "met": .array(match.skillsMet.map(JSONValue.string)), "missing": .array(match.skillsMissing.map(JSONValue.string)),
                "seniority": .string(match.seniority), "location": .string(match.location),
                "languages": .string(match.languages), "similarity": .double(match.similarity),
            ])
        }
        return Array(JSONCoding.encode(["items": .array(items)]).utf8)
    }

    static func decode(_ bytes: [UInt8]) -> [Match]? {
        guard let items = JSONCoding.decodeObject(bytes)?["items"]?.arrayValue else { return nil }
        var matches: [Match] = []
        for item in items {
            guard let o = item.objectValue, let id = o["id"]?.stringValue, let score = o["score"]?.intValue else { return nil }
            matches.append(
                Match(
                    id: id, score: Int(score), skillsMet: (o["met"]?.arrayValue ?? []).compactMap(\.stringValue),
                    skillsMissing: (o["missing"]?.arrayValue ?? []).compactMap(\.stringValue),
                    seniority: o["seniority"]?.stringValue ?? "", location: o["location"]?.stringValue ?? "",
                    languages: o["languages"]?.stringValue ?? "", similarity: o["similarity"]?.doubleValue ?? 0))
        }
        return matches
    }
}
