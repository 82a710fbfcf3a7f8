import ATSDomain
import ATSSearch
import ATSStore
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

    /// Candidates for a job, best first. nil when the job does not exist in the organization.
    public func matches(forJob jobID: String, organizationID: String, limit: Int) async throws -> [Match]? {
        guard let job = try await store.record(.job, organizationID: organizationID, id: jobID) else { return nil }
        let profile = JobProfile(job, documents: documents, languages: knownLanguages)
        let hits = try await search(
            HybridQuery(kind: .candidate, organizationID: organizationID, text: profile.queryText, limit: 100, semantic: 0.6))
        var matches: [Match] = []
        for hit in hits.hits {
            guard let candidate = try await store.record(.candidate, organizationID: organizationID, id: hit.id) else { continue }
            matches.append(score(job: profile, candidate: candidate, id: hit.id, similarity: hit.vectorScore ?? 0))
        }
        return Array(matches.sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }.prefix(limit))
    }

    /// Open jobs for a candidate, best first. nil when the candidate does not exist.
    public func matches(forCandidate candidateID: String, organizationID: String, limit: Int) async throws -> [Match]? {
        guard let candidate = try await store.record(.candidate, organizationID: organizationID, id: candidateID) else { return nil }
        let f = candidate.fields
        var skills: [String] = []
        for field in SearchDocuments.skillFields where field != "softSkills" { skills += (f[field]?.stringArray ?? []) }
        let text = ([f.searchText("currentTitle"), f.searchText("professionalHeadline")].compactMap { $0 } + skills.prefix(12))
            .joined(separator: " ")
        var filters = SearchFilters()
        filters.status = ["active"]
        let hits = try await search(
            HybridQuery(kind: .job, organizationID: organizationID, text: Self.orQuery(text), filters: filters, limit: 100, semantic: 0.6))
        var matches: [Match] = []
        for hit in hits.hits {
            guard let job = try await store.record(.job, organizationID: organizationID, id: hit.id) else { continue }
            let profile = JobProfile(job, documents: documents, languages: knownLanguages)
            matches.append(score(job: profile, candidate: candidate, id: hit.id, similarity: hit.vectorScore ?? 0))
        }
        return Array(matches.sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }.prefix(limit))
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
    let queryText: String

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
        queryText = SearchService.orQuery(([title] + skills).joined(separator: " "))
    }
}
