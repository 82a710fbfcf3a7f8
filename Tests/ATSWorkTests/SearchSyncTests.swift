import ATSDomain
import ATSJobs
import ATSSearch
import ATSStore
import ATSWork
import Foundation
import Testing

/// The index follows the store through jobs enqueued in the writes' own transactions, and
/// never shows one organization's documents to another.
@Suite("Search sync and tenancy")
struct SearchSyncTests {
    @Test func writesReachTheIndexThroughJobsCommittedWithThem() async throws {
        let fixture = try await SearchFixture.make()
        defer { fixture.cleanup() }
        let acme = try await fixture.store.createOrganization(slug: "acme", name: "Acme")
        let ada = try await fixture.create(
            .candidate, organizationID: acme.id,
            ["firstName": "Adalbert", "lastName": "Quennell", "currentTitle": "Platform Engineer", "technicalSkills": ["Kubernetes"]])

        // The sync job exists as soon as the write returns: it committed with the candidate.
        let queued = try await fixture.jobs.jobs(JobQuery(queue: JobQueues.search, limit: 10))
        #expect(queued.jobs.contains { $0.type == SearchService.syncType && !$0.state.isFinished })

        try await fixture.drainSearchJobs()
        func find(_ text: String, semantic: Double = 0) async throws -> [String] {
            try await fixture.search.search(
                HybridQuery(kind: .candidate, organizationID: acme.id, text: text, limit: 10, semantic: semantic)
            ).hits.map(\.id)
        }
        #expect(try await find("Quennell") == [ada.id])
        #expect(try await find("k8s platform", semantic: 1).first == ada.id, "the vector was computed by its job")

        _ = try await fixture.store.update(.candidate, organizationID: acme.id, id: ada.id, actor: "system", options: .init()) { record in
            var fields = record.fields
            fields["lastName"] = "Quennington"
            return fields
        }
        try await fixture.drainSearchJobs()
        #expect(try await find("Quennington") == [ada.id])
        #expect(try await find("Quennell").isEmpty)

        try await fixture.store.delete(.candidate, organizationID: acme.id, id: ada.id, actor: "system")
        try await fixture.drainSearchJobs()
        #expect(try await find("Quennington").isEmpty)
        #expect(try await find("k8s platform", semantic: 1).isEmpty)

        // A stage move changes the candidate's stage filter.
        let bo = try await fixture.create(.candidate, organizationID: acme.id, ["firstName": "Bo", "lastName": "Staging"])
        let client = try await fixture.create(.client, organizationID: acme.id, ["name": "Initech"])
        let job = try await fixture.create(
            .job, organizationID: acme.id,
            ["clientId": .string(client.id), "title": "Analyst", "pipelineStages": ["Sourced", "Interview", "Offer"]])
        let application = try await fixture.create(
            .application, organizationID: acme.id, ["candidateId": .string(bo.id), "jobId": .string(job.id)])
        try await fixture.drainSearchJobs()
        func atStage(_ stage: String) async throws -> [String] {
            var filters = SearchFilters()
            filters.jobID = job.id
            filters.stage = stage
            return try await fixture.search.search(
                HybridQuery(kind: .candidate, organizationID: acme.id, text: "", filters: filters, limit: 10, semantic: 0)
            ).hits.map(\.id)
        }
        #expect(try await atStage("Sourced") == [bo.id])
        _ = try await fixture.store.moveApplication(organizationID: acme.id, id: application.id, to: "Interview", actor: "system", reason: nil)
        try await fixture.drainSearchJobs()
        #expect(try await atStage("Interview") == [bo.id])
        #expect(try await atStage("Sourced").isEmpty)

        // A sync with nothing new changes nothing.
        let report = try await fixture.search.sync(jobs: fixture.jobs)
        #expect(report.changes == 0)
    }

    @Test func searchesSuggestionsAndMatchesStayInTheirOrganization() async throws {
        let fixture = try await SearchFixture.make()
        defer { fixture.cleanup() }
        let acme = try await fixture.store.createOrganization(slug: "acme", name: "Acme")
        let globex = try await fixture.store.createOrganization(slug: "globex", name: "Globex")
        let own = try await fixture.create(
            .candidate, organizationID: acme.id,
            ["firstName": "Berenike", "lastName": "Acmeson", "currentTitle": "Data Engineer", "technicalSkills": ["Data Engineering"]])
        let foreign = try await fixture.create(
            .candidate, organizationID: globex.id,
            ["firstName": "Bertolt", "lastName": "Globexson", "currentTitle": "Data Engineer", "technicalSkills": ["Data Engineering"]])
        let client = try await fixture.create(.client, organizationID: acme.id, ["name": "Acme Data"])
        let job = try await fixture.create(
            .job, organizationID: acme.id,
            ["clientId": .string(client.id), "title": "Data Engineer", "status": "active", "requiredSkills": ["Data Engineering"]])
        try await fixture.drainSearchJobs()

        for semantic in [0.0, 0.5, 1.0] {
            let hits = try await fixture.search.search(
                HybridQuery(kind: .candidate, organizationID: acme.id, text: "data engineer", limit: 50, semantic: semantic)
            ).hits.map(\.id)
            #expect(hits.contains(own.id))
            #expect(!hits.contains(foreign.id), "semantic \(semantic)")
        }
        let suggestions = try await fixture.search.suggest(organizationID: acme.id, prefix: "Ber", limit: 10)
        #expect(suggestions.contains { $0.text.contains("Berenike") })
        #expect(!suggestions.contains { $0.text.contains("Bertolt") || $0.text.contains("Globex") })
        let matches = try #require(try await fixture.search.matches(forJob: job.id, organizationID: acme.id, limit: 10))
        #expect(matches.map(\.id).contains(own.id))
        #expect(!matches.map(\.id).contains(foreign.id))
        #expect(try await fixture.search.matches(forJob: job.id, organizationID: globex.id, limit: 10) == nil)
    }
}
