import ATSCache
import ATSDomain
import ATSStore
import ATSWork
import Foundation
import Testing

/// Matching candidates to a job: the best qualified first, a bounded pool whatever the size of
/// the agency, and cached results that a job edit or an index change replaces.
@Suite("Matching")
struct MatchingTests {
    static let sre: JSONObject = [
        "title": "Senior Site Reliability Engineer", "status": "active", "location": "Zürich, Switzerland",
        "requiredSkills": ["Kubernetes", "Terraform", "Go"],
        "requirements": "Kubernetes in production, Terraform, Go. English and German.",
    ]

    /// An organization with a client, the SRE job, and `fillers` candidates sharing one skill.
    static func agency(_ fixture: SearchFixture, slug: String, fillers: Int) async throws -> (organization: String, job: Record) {
        let organization = try await fixture.store.createOrganization(slug: slug, name: slug.capitalized).id
        let client = try await fixture.create(.client, organizationID: organization, ["name": "Helvetia Cloud"])
        var job = Self.sre
        job["clientId"] = .string(client.id)
        let created = try await fixture.create(.job, organizationID: organization, job)
        let titles = ["Backend Engineer", "Platform Engineer", "Site Reliability Engineer", "DevOps Engineer"]
        for n in 0..<fillers {
            _ = try await fixture.create(
                .candidate, organizationID: organization,
                [
                    "firstName": "Filler", "lastName": .string("Number\(n)"), "currentTitle": .string(titles[n % titles.count]),
                    "technicalSkills": n % 2 == 0 ? ["Kubernetes"] : ["Terraform"], "experienceYears": .int(Int64(n % 12)),
                    "currentLocation": "Berlin, Germany", "status": "active",
                ])
        }
        return (organization, created)
    }

    static let qualified: JSONObject = [
        "firstName": "Priyanka", "lastName": "Raghunathan", "currentTitle": "Site Reliability Engineer",
        "technicalSkills": ["Kubernetes", "Terraform"], "programmingLanguages": ["Go"], "experienceYears": 9,
        "currentLocation": "Zürich, Switzerland", "spokenLanguages": ["English", "German"], "status": "active",
    ]
    static let unqualified: JSONObject = [
        "firstName": "Quentin", "lastName": "Sansskills", "currentTitle": "Site Reliability Engineer",
        "professionalHeadline": "Senior site reliability engineer", "experienceYears": 9,
        "currentLocation": "Zürich, Switzerland", "status": "active",
    ]

    @Test func theBestQualifiedComeFirst() async throws {
        let fixture = try await SearchFixture.make()
        defer { fixture.cleanup() }
        // More candidates share a skill than the pool holds: the one with every skill still leads.
        let (organization, job) = try await Self.agency(fixture, slug: "acme", fillers: 260)
        let best = try await fixture.create(.candidate, organizationID: organization, Self.qualified)
        let none = try await fixture.create(.candidate, organizationID: organization, Self.unqualified)
        try await fixture.drainSearchJobs()

        let matches = try #require(try await fixture.search.matches(forJob: job.id, organizationID: organization, limit: 100))
        #expect(matches.first?.id == best.id, "\(matches.prefix(3))")
        let top = try #require(matches.first)
        #expect(Set(top.skillsMet) == ["Kubernetes", "Terraform", "Go"] && top.skillsMissing.isEmpty)
        #expect(top.similarity > 0, "the vector side scored it")
        if let rank = matches.firstIndex(where: { $0.id == none.id }) {
            #expect(rank > 0 && matches[rank].score < top.score && matches[rank].skillsMet.isEmpty)
        }
        #expect(matches.count <= 100 && matches == matches.sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id })
        // Another organization's job is unknown there.
        let other = try await fixture.store.createOrganization(slug: "globex", name: "Globex").id
        #expect(try await fixture.search.matches(forJob: job.id, organizationID: other, limit: 10) == nil)
    }

    @Test func cachedResultsFollowJobEditsAndTheIndex() async throws {
        let cache = MemoryCache()
        let fixture = try await SearchFixture.make(cache: cache)
        defer { fixture.cleanup() }
        let (organization, job) = try await Self.agency(fixture, slug: "acme", fillers: 20)
        let none = try await fixture.create(.candidate, organizationID: organization, Self.unqualified)
        try await fixture.drainSearchJobs()

        let first = try #require(try await fixture.search.matches(forJob: job.id, organizationID: organization, limit: 50))
        let hits = cache.figures.hits
        let again = try #require(try await fixture.search.matches(forJob: job.id, organizationID: organization, limit: 50))
        #expect(again == first)
        #expect(cache.figures.hits > hits, "the second call is served from the cache")

        // A job edit: the next call scores against the new requirements.
        _ = try await fixture.store.update(.job, organizationID: organization, id: job.id, actor: "test", options: WriteOptions()) { record in
            var fields = record.fields
            fields["requiredSkills"] = ["Kubernetes", "Ansible"]
            return fields
        }
        let edited = try #require(try await fixture.search.matches(forJob: job.id, organizationID: organization, limit: 50))
        #expect(edited.allSatisfy { !$0.skillsMet.contains("Terraform") && !$0.skillsMissing.contains("Terraform") }, "\(edited.prefix(2))")
        #expect(edited.contains { $0.skillsMissing.contains("Ansible") })

        // An index change (a new, better candidate, synced): it shows up first.
        var fields = Self.qualified
        fields["technicalSkills"] = ["Kubernetes", "Ansible"]
        let best = try await fixture.create(.candidate, organizationID: organization, fields)
        try await fixture.drainSearchJobs()
        let fresh = try #require(try await fixture.search.matches(forJob: job.id, organizationID: organization, limit: 50))
        #expect(fresh.first?.id == best.id, "\(fresh.prefix(2))")
        #expect(fresh.contains { $0.id == none.id } || fresh.count == 50)
    }
}
