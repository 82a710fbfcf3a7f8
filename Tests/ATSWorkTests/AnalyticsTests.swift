import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import Testing

/// A hand-made history with figures worked out on paper.
///
/// Pipeline Sourced, Screening, Interview, Offer, Hired; slaDays 5; day 0 = 2026-01-01.
/// - A1 (LinkedIn): Sourced d0, Screening d1, Interview d3, Offer d5, Hired d10 (hired)
/// - A2 (LinkedIn): Sourced d0, Screening d2, Interview d6, still there (active)
/// - A3 (Referral): Sourced d0, Screening d4 (rejected)
/// - A4 (Referral): Sourced d2, Offer d8 (a jump), Hired d16 (hired)
/// Now is day 20.
@Suite("Analytics from the stage history")
struct AnalyticsTests {
    static let day0 = Timestamp.parse("2026-01-01T00:00:00Z")!
    static func day(_ n: Double) -> String { Timestamp.format(day0.addingTimeInterval(n * 86400)) }
    static let now = day0.addingTimeInterval(20 * 86400)

    struct History {
        let org: String
        let job: String
        let client: String
        let applications: [String]
        let actor: String
    }

    static func load(into store: any Store) async throws -> History {
        let org = try await store.createOrganization(slug: "ana-\(UUID().uuidString.prefix(6).lowercased())", name: "Analytics")
        let user = try await store.createUser(
            organizationID: org.id, email: "rec@example.org", name: "Rita Recruiter", role: .recruiter, passwordHash: "x", actor: "test")
        let actor = "user:\(user.id)"
        let client = Identifier.make()
        let job = Identifier.make()
        var records = [
            Record(kind: .client, id: client, createdAt: day(0), updatedAt: day(0), fields: ["name": "Globex", "status": "active"]),
            Record(
                kind: .job, id: job, createdAt: day(0), updatedAt: day(0),
                fields: [
                    "clientId": .string(client), "title": "Platform Engineer", "status": "active", "slaDays": 5, "openings": 1,
                    "pipelineStages": ["Sourced", "Screening", "Interview", "Offer", "Hired"],
                ]),
        ]
        let plans: [(source: String, status: String, moves: [(String, Double)])] = [
            ("LinkedIn", "hired", [("Sourced", 0), ("Screening", 1), ("Interview", 3), ("Offer", 5), ("Hired", 10)]),
            ("LinkedIn", "active", [("Sourced", 0), ("Screening", 2), ("Interview", 6)]),
            ("Referral", "rejected", [("Sourced", 0), ("Screening", 4)]),
            ("Referral", "hired", [("Sourced", 2), ("Offer", 8), ("Hired", 16)]),
        ]
        var events: [StageEvent] = []
        var applications: [String] = []
        for (index, plan) in plans.enumerated() {
            let candidate = Identifier.make()
            let application = Identifier.make()
            applications.append(application)
            records.append(
                Record(
                    kind: .candidate, id: candidate, createdAt: day(0), updatedAt: day(0),
                    fields: ["firstName": .string("C\(index)"), "lastName": "Doe", "status": "active", "archived": false, "gdprConsent": false]))
            let last = plan.moves.last!
            records.append(
                Record(
                    kind: .application, id: application, createdAt: day(plan.moves[0].1), updatedAt: day(last.1),
                    fields: [
                        "candidateId": .string(candidate), "jobId": .string(job), "stage": .string(last.0), "status": .string(plan.status),
                        "source": .string(plan.source), "stageChangedAt": .string(day(last.1)),
                    ]))
            var from: String?
            for (stage, at) in plan.moves {
                events.append(
                    StageEvent(id: Identifier.make(), applicationID: application, fromStage: from, toStage: stage, actor: actor, at: day(at)))
                from = stage
            }
        }
        try await store.importRecords(organizationID: org.id, records: records, stageEvents: events)
        return History(org: org.id, job: job, client: client, applications: applications, actor: actor)
    }

    func stages(_ value: JSONValue?) -> [(String, Int64, Double?)] {
        (value?.arrayValue ?? []).compactMap { item in
            guard let object = item.objectValue else { return nil }
            return (object["stage"]?.stringValue ?? "", object["reached"]?.intValue ?? -1, object["conversion"]?.doubleValue)
        }
    }

    @Test func figuresMatchTheHandMadeHistory() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let history = try await Self.load(into: fixture.store)
        let all = try await AnalyticsWork.refresh(organizationID: history.org, store: fixture.store, now: Self.now)
        #expect(Set(all.keys) == Set(AnalyticsWork.names))

        // Funnel: A4 jumped from Sourced to Offer, so it counts for Screening and Interview too.
        let funnel = try #require(all["funnel"]?.document)
        let job = try #require(funnel["jobs"]?.arrayValue?.first?.objectValue)
        #expect(job["applications"] == .int(4))
        #expect(job["hired"] == .int(2))
        let jobStages = stages(job["stages"])
        #expect(jobStages.map(\.0) == ["Sourced", "Screening", "Interview", "Offer", "Hired"])
        #expect(jobStages.map(\.1) == [4, 4, 3, 2, 2])
        #expect(jobStages.map(\.2) == [1.0, 0.75, 0.667, 1.0, nil])
        let client = try #require(funnel["clients"]?.arrayValue?.first?.objectValue)
        #expect(client["clientId"] == .string(history.client))
        #expect(client["name"] == "Globex")
        #expect(stages(client["stages"]).map(\.1) == [4, 4, 3, 2, 2])

        // Time-to-hire: A1 10 days, A4 14 days.
        let hire = try #require(all["time-to-hire"]?.document)
        #expect(hire["count"] == .int(2))
        #expect(hire["medianDays"] == .double(12))
        #expect(hire["p90Days"] == .double(14))

        // Time in stage (finished stays): Sourced 1, 2, 4, 6; Screening 2, 4; Interview 2; Offer 5, 8.
        let inStage = try #require(all["time-in-stage"]?.document["stages"]?.arrayValue)
        let medians = Dictionary(uniqueKeysWithValues: inStage.compactMap { item -> (String, Double)? in
            guard let object = item.objectValue, let stage = object["stage"]?.stringValue, let median = object["medianDays"]?.doubleValue
            else { return nil }
            return (stage, median)
        })
        #expect(medians == ["Sourced": 3, "Screening": 3, "Interview": 2, "Offer": 6.5])

        // Sources: A4 skipped the interview stage but went past it.
        let sources = try #require(all["sources"]?.document["sources"]?.arrayValue).compactMap(\.objectValue)
        let linkedIn = try #require(sources.first { $0["source"] == "LinkedIn" })
        let referral = try #require(sources.first { $0["source"] == "Referral" })
        #expect(linkedIn["applications"] == .int(2) && linkedIn["reachedInterview"] == .int(2) && linkedIn["hired"] == .int(1))
        #expect(referral["applications"] == .int(2) && referral["reachedInterview"] == .int(1) && referral["hired"] == .int(1))
        #expect(referral["hireRate"] == .double(0.5))

        // Recruiter activity: 4 applications created, 9 moves, all by one recruiter.
        let recruiters = try #require(all["recruiters"]?.document["recruiters"]?.arrayValue).compactMap(\.objectValue)
        #expect(recruiters.count == 1)
        #expect(recruiters.first?["actor"] == .string(history.actor))
        #expect(recruiters.first?["name"] == "Rita Recruiter")
        #expect(recruiters.first?["applicationsCreated"] == .int(4))
        #expect(recruiters.first?["moves"] == .int(9))

        // SLA: only A2 (active, in Interview since day 6: 14 days against 5).
        let sla = try #require(all["sla-breaches"]?.document)
        #expect(sla["total"] == .int(1))
        let breach = try #require(sla["items"]?.arrayValue?.first?.objectValue)
        #expect(breach["applicationId"] == .string(history.applications[1]))
        #expect(breach["daysInStage"] == .double(14))
        #expect(breach["overdueDays"] == .double(9))
    }

    @Test func snapshotsAreStoredAndServedUntilTheNextRefresh() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let history = try await Self.load(into: fixture.store)
        #expect(try await fixture.store.analyticsSnapshot(organizationID: history.org, name: "funnel") == nil)
        // None yet: computed once, synchronously, and stored.
        let first = try await AnalyticsWork.snapshot(name: "funnel", organizationID: history.org, store: fixture.store, now: Self.now)
        #expect(first.computedAt == Timestamp.format(Self.now))
        let stored = try await fixture.store.analyticsSnapshot(organizationID: history.org, name: "sla-breaches")
        #expect(stored?.computedAt == first.computedAt)
        // Later reads answer the stored one, not a new computation.
        let again = try await AnalyticsWork.snapshot(name: "funnel", organizationID: history.org, store: fixture.store)
        #expect(again.computedAt == first.computedAt)
        // Another organization sees nothing of it.
        let other = try await fixture.store.createOrganization(slug: "other", name: "Other")
        let empty = try await AnalyticsWork.snapshot(name: "funnel", organizationID: other.id, store: fixture.store)
        #expect(empty.document["jobs"] == .array([]))
    }

    @Test func refreshRequestsCollapseAndTheJobRuns() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let history = try await Self.load(into: fixture.store)
        let now = Date()
        let request = AnalyticsWork.refreshRequest(organizationID: history.org, now: now)
        #expect(request.uniqueKey == "analytics:\(history.org)")
        #expect(request.queue == JobQueues.analytics)
        #expect(request.runAt == now.addingTimeInterval(30))
        let first = try await fixture.jobs.enqueue(request)
        let second = try await fixture.jobs.enqueue(AnalyticsWork.refreshRequest(organizationID: history.org))
        #expect(first.id == second.id)
        let (_, result) = try await fixture.run(AnalyticsWork.refreshRequest(organizationID: history.org))
        #expect(result?["computedAt"]?.stringValue != nil)
        #expect(try await fixture.store.analyticsSnapshot(organizationID: history.org, name: "sources") != nil)
    }
}
