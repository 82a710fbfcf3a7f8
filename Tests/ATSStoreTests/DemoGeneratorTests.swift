import ATSDemo
import ATSDomain
import ATSStore
import Foundation
import Logging
import Testing

/// The repository's `Data/reference`, found from this file so tests run from any directory.
private let referenceDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Data/reference")

private let demoNow = Date(timeIntervalSince1970: 1_780_000_000)  // 2026-05-28

private enum Fixture {
    static let reference: ReferenceData = {
        do {
            return try ReferenceData.load(from: referenceDirectory)
        } catch {
            fatalError("reference data does not load: \(error)")
        }
    }()

    static let users = DemoUsers.placeholder(seed: 42, now: demoNow)
    static let configuration = DemoConfiguration(now: demoNow)
    /// The default-sized agency, generated once for the read-only checks.
    static let dataset: DemoDataset = {
        do {
            return try DemoAgency.generate(reference: reference, configuration: configuration, users: users)
        } catch {
            fatalError("demo does not generate: \(error)")
        }
    }()
}

@Suite("DemoGeneratorTests")
struct DemoGeneratorTests {
    let dataset = Fixture.dataset
    let configuration = Fixture.configuration

    // MARK: Reference data

    @Test func referenceDataLoadsAndStaysSmall() throws {
        let reference = Fixture.reference
        #expect(reference.families.count == 12)
        #expect(reference.countries.count == 11)
        #expect(reference.skills.categories.map(\.field) == SkillTaxonomy.fields)
        var total = 0
        for name in ReferenceData.fileNames {
            let size = try FileManager.default.attributesOfItem(
                atPath: referenceDirectory.appendingPathComponent(name).path)[.size] as? Int ?? 0
            total += size
        }
        #expect(total > 10_000)
        #expect(total < 300_000)
    }

    @Test(arguments: [
        ("k8s", "Kubernetes"), ("KUBE", "Kubernetes"), ("JS", "JavaScript"), ("ecmascript", "JavaScript"),
        ("Postgres", "PostgreSQL"), ("psql", "PostgreSQL"), ("ML", "Machine Learning"), ("golang", "Go"),
        ("AWS", "Amazon Web Services"), ("TDD", "Test-Driven Development"), ("Teamfähigkeit", "Teamwork"),
        ("esprit d'équipe", "Teamwork"),
    ])
    func synonymsResolveToCanonicalSkills(term: String, skill: String) {
        #expect(Fixture.reference.skills.canonicalName(for: term) == skill)
        #expect(Fixture.reference.skills.expansions(of: term).first == skill)
    }

    @Test func noSynonymNamesTwoSkills() {
        var owner: [String: String] = [:]
        for skill in Fixture.reference.skills.allSkills {
            for term in skill.allNames {
                let key = term.lowercased()
                #expect(owner[key] == nil || owner[key] == skill.name, "\(term) names \(owner[key] ?? "") and \(skill.name)")
                owner[key] = skill.name
            }
        }
    }

    @Test func locateHonoursTheEnvironmentThenTheCurrentDirectory() {
        let repository = referenceDirectory.deletingLastPathComponent().deletingLastPathComponent()
        let explicit = ReferenceData.locate(
            environment: ["ATS_REFERENCE_DIR": referenceDirectory.path], currentDirectory: "/nonexistent")
        #expect(explicit?.standardizedFileURL.path == referenceDirectory.standardizedFileURL.path)
        let fromCurrent = ReferenceData.locate(environment: [:], currentDirectory: repository.path)
        #expect(fromCurrent.map(ReferenceData.isReferenceDirectory) == true)
        #expect(ReferenceData.isReferenceDirectory(URL(fileURLWithPath: "/nonexistent")) == false)
    }

    @Test func brokenReferenceDataIsReportedWithItsFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-ref-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ReferenceData.fileNames {
            try FileManager.default.copyItem(
                at: referenceDirectory.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let roles = folder.appendingPathComponent("roles.json")
        let text = try String(contentsOf: roles, encoding: .utf8).replacingOccurrences(of: "\"Kubernetes\"", with: "\"Kubernetis\"")
        try text.write(to: roles, atomically: true, encoding: .utf8)
        #expect {
            _ = try ReferenceData.load(from: folder)
        } throws: { error in
            (error as? DemoError)?.code == .referenceData && "\(error)".contains("Kubernetis")
        }
    }

    // MARK: Determinism

    @Test func sameSeedAndNowGiveTheSameAgency() throws {
        let again = try DemoAgency.generate(reference: Fixture.reference, configuration: configuration, users: Fixture.users)
        #expect(again.records == dataset.records)
        #expect(again.stageEvents == dataset.stageEvents)
        // Batch size changes how records are cut, never what they are.
        var small = configuration
        small.batchSize = 333
        let batched = try DemoAgency.generate(reference: Fixture.reference, configuration: small, users: Fixture.users)
        #expect(batched.records == dataset.records)
        #expect(batched.stageEvents == dataset.stageEvents)
    }

    @Test func anotherSeedGivesAnotherAgency() throws {
        var other = configuration
        other.seed = 7
        other.candidates = 200
        other.applications = 300
        other.notes = 100
        let data = try DemoAgency.generate(reference: Fixture.reference, configuration: other, users: Fixture.users)
        #expect(data.candidates.first?.id != dataset.candidates.first?.id)
        #expect(data.clients.map(\.fields) != dataset.clients.map(\.fields))
    }

    @Test func moreCandidatesLeaveClientsAndJobsAlone() throws {
        var bigger = configuration
        bigger.candidates = 2_500
        bigger.applications = 100
        bigger.notes = 10
        let data = try DemoAgency.generate(reference: Fixture.reference, configuration: bigger, users: Fixture.users)
        #expect(data.clients == dataset.clients)
        #expect(data.jobs == dataset.jobs)
        #expect(Array(data.candidates.prefix(2_000)) == dataset.candidates)
    }

    // MARK: Shape

    @Test func countsMatchTheConfiguration() {
        #expect(dataset.candidates.count == configuration.candidates)
        #expect(dataset.clients.count == configuration.clients)
        #expect(dataset.projects.count == configuration.projects)
        #expect(dataset.jobs.count == configuration.jobs)
        #expect(dataset.applications.count == configuration.applications)
        #expect(dataset.notes.count == configuration.notes)
        #expect((30...90).contains(dataset.clientContacts.count))
        #expect(dataset.interviews.count > 500)
        #expect(dataset.counts[.candidate] == configuration.candidates)
    }

    @Test func everyDocumentPassesItsSchema() throws {
        let readOnly: [EntityKind: Set<String>] = [
            .application: ["stageChangedAt"], .interview: ["candidateId", "jobId"], .note: ["authorId"],
        ]
        for record in dataset.records {
            let hidden = readOnly[record.kind] ?? []
            let input = record.fields.filter { !hidden.contains($0.key) }
            let output: JSONObject
            do {
                output = try EntitySchema.of(record.kind).validateCreate(input)
            } catch {
                Issue.record("\(record.kind) \(record.id): \(error.errors)")
                continue
            }
            // Already normalized: validating again changes nothing.
            #expect(output == input, "\(record.kind) \(record.id) is not normalized")
            for field in hidden { #expect(record.fields[field] != nil, "\(record.kind) lacks \(field)") }
            #expect(Identifier.isValid(record.id))
        }
    }

    @Test func idsAreUniqueAndTimesLieInTheHistory() {
        let records = dataset.records
        #expect(Set(records.map(\.id)).count == records.count)
        let earliest = Timestamp.format(demoNow.addingTimeInterval(-Double(configuration.historyDays) * 86_400))
        let latest = Timestamp.format(demoNow)
        for record in records {
            #expect(record.createdAt <= record.updatedAt, "\(record.kind) \(record.id)")
            #expect(record.createdAt >= earliest && record.createdAt <= latest, "\(record.kind) \(record.id)")
            #expect(record.updatedAt <= latest, "\(record.kind) \(record.id)")
        }
    }

    @Test func candidateEmailsAndPhonesAreUnique() {
        let emails = dataset.candidates.compactMap { $0["email"]?.stringValue }.map(Normalize.email)
        #expect(emails.count == dataset.candidates.count)
        #expect(Set(emails).count == emails.count)
        let phones = dataset.candidates.compactMap { $0["phone"]?.stringValue }.map(Normalize.phone)
        #expect(phones.count > dataset.candidates.count * 9 / 10)
        #expect(Set(phones).count == phones.count)
    }

    @Test func candidatesSpeakThreeLanguagesAndLookTheirPart() throws {
        var natives: [String: Int] = [:]
        for candidate in dataset.candidates {
            natives[candidate["spokenLanguages"]?.stringArray.first ?? "", default: 0] += 1
            let summary = try #require(candidate["summary"]?.stringValue)
            let sentences = summary.split(separator: ".").count
            #expect((3...9).contains(sentences), "\(summary)")
            let years = try #require(candidate["experienceYears"]?.intValue)
            #expect((1...25).contains(years))
            #expect(!(candidate["technicalSkills"]?.stringArray.isEmpty ?? true))
            #expect(candidate["ownerId"].flatMap(\.stringValue).map(Fixture.users.recruiters.contains) == true)
        }
        for language in ["English", "French", "German"] {
            let share = Double(natives[language] ?? 0) / Double(dataset.candidates.count)
            #expect((0.28...0.39).contains(share), "\(language): \(share)")
        }
        let statuses = Dictionary(grouping: dataset.candidates) { $0["status"]?.stringValue ?? "" }.mapValues(\.count)
        #expect((statuses["active"] ?? 0) + (statuses["passive"] ?? 0) + (statuses["new"] ?? 0) > dataset.candidates.count * 9 / 10)
        #expect((statuses["do_not_contact"] ?? 0) > 0)
    }

    @Test func referencesPointInsideTheAgency() {
        let ids: [EntityKind: Set<String>] = [
            .client: Set(dataset.clients.map(\.id)), .project: Set(dataset.projects.map(\.id)),
            .job: Set(dataset.jobs.map(\.id)), .candidate: Set(dataset.candidates.map(\.id)),
            .application: Set(dataset.applications.map(\.id)),
        ]
        let users = Set([Fixture.users.admin, Fixture.users.viewer] + Fixture.users.recruiters + Fixture.users.hiringManagers)
        for record in dataset.records {
            for (field, kind) in EntitySchema.of(record.kind).references {
                if let id = record[field]?.stringValue {
                    #expect(ids[kind]?.contains(id) == true, "\(record.kind).\(field) \(id)")
                }
            }
            for field in ["ownerId", "authorId"] {
                if let id = record[field]?.stringValue { #expect(users.contains(id)) }
            }
            for id in (record["hiringManagerIds"]?.stringArray ?? []) + (record["interviewerIds"]?.stringArray ?? []) {
                #expect(users.contains(id))
            }
        }
    }

    @Test func applicationsAreUniquePerCandidateAndJob() {
        let pairs = dataset.applications.map { "\($0["candidateId"]?.stringValue ?? "")|\($0["jobId"]?.stringValue ?? "")" }
        #expect(Set(pairs).count == pairs.count)
    }

    @Test func stageHistoriesWalkUpToTheCurrentStage() {
        let stages = defaultPipelineStages
        let history = Dictionary(grouping: dataset.stageEvents, by: \.applicationID)
        #expect(history.count == dataset.applications.count)
        var statuses: [String: Int] = [:]
        for application in dataset.applications {
            let events = history[application.id] ?? []
            let stage = application["stage"]?.stringValue ?? ""
            let status = application["status"]?.stringValue ?? ""
            statuses[status, default: 0] += 1
            guard let index = stages.firstIndex(of: stage), events.count == index + 1 else {
                Issue.record("application \(application.id) at \(stage) has \(events.count) events")
                continue
            }
            for (position, event) in events.enumerated() {
                #expect(event.toStage == stages[position])
                #expect(event.fromStage == (position == 0 ? nil : stages[position - 1]))
                #expect(event.actor == "user:\(application["ownerId"]?.stringValue ?? "")")
                if position > 0 { #expect(events[position - 1].at < event.at) }
            }
            #expect(events.first?.at == application.createdAt)
            #expect(application["stageChangedAt"]?.stringValue == events.last?.at)
            #expect((stage == "Hired") == (status == "hired"))
        }
        #expect((statuses["rejected"] ?? 0) > 0 && (statuses["withdrawn"] ?? 0) > 0 && (statuses["hired"] ?? 0) > 0)
        #expect((statuses["active"] ?? 0) > dataset.applications.count / 3)
    }

    @Test func interviewsBelongToApplicationsAtInterviewOrLater() {
        let applications = Dictionary(uniqueKeysWithValues: dataset.applications.map { ($0.id, $0) })
        var interviewed = Set<String>()
        for interview in dataset.interviews {
            guard let id = interview["applicationId"]?.stringValue, let application = applications[id] else {
                Issue.record("interview \(interview.id) has no application")
                continue
            }
            interviewed.insert(id)
            #expect(interview["candidateId"] == application["candidateId"])
            #expect(interview["jobId"] == application["jobId"])
            let stage = defaultPipelineStages.firstIndex(of: application["stage"]?.stringValue ?? "") ?? 0
            #expect(stage >= 3)
            if interview["status"]?.stringValue == "completed" { #expect(interview["feedback"] != nil) }
        }
        let atInterview = dataset.applications.filter {
            (defaultPipelineStages.firstIndex(of: $0["stage"]?.stringValue ?? "") ?? 0) >= 3
        }
        #expect(Set(atInterview.map(\.id)) == interviewed)
    }

    @Test func notesHaveOneTargetAndAnAuthor() {
        for note in dataset.notes {
            let targets = ["candidateId", "applicationId", "jobId"].filter { note[$0] != nil }
            #expect(targets.count == 1)
            #expect(note["authorId"] != nil)
        }
        let kinds = Set(dataset.notes.flatMap { note in ["candidateId", "applicationId", "jobId"].filter { note[$0] != nil } })
        #expect(kinds.count == 3)
    }

    @Test func tinyAgenciesStillGenerate() throws {
        let tiny = DemoConfiguration(candidates: 3, clients: 1, projects: 1, jobs: 2, applications: 50, notes: 5, now: demoNow)
        let data = try DemoAgency.generate(reference: Fixture.reference, configuration: tiny, users: Fixture.users)
        #expect(data.candidates.count == 3)
        #expect(data.applications.count <= 3)
        let empty = DemoConfiguration(candidates: 0, clients: 1, projects: 0, jobs: 0, applications: 10, notes: 3, now: demoNow)
        let none = try DemoAgency.generate(reference: Fixture.reference, configuration: empty, users: Fixture.users)
        #expect(none.applications.isEmpty && none.notes.isEmpty)
    }

    // MARK: End to end

    @Test func loadsIntoSQLiteStoreOnce() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: folder.appendingPathComponent("ats.sqlite").path, logger: Logger(label: "test.demo"))
        try store.migrate()
        let small = DemoConfiguration(candidates: 300, applications: 600, notes: 200, now: demoNow, batchSize: 250)
        let summary = try await DemoAgency.load(into: store, reference: Fixture.reference, configuration: small)
        #expect(summary.counts[.candidate] == 300)
        #expect(summary.counts[.application] == 600)
        #expect(summary.counts[.job] == 80)
        #expect(summary.users == DemoAgency.users.count)

        let organization = try #require(try await store.organization(slug: DemoAgency.slug))
        #expect(organization.id == summary.organizationID)
        let admin = try #require(try await store.user(organizationID: organization.id, email: DemoAgency.adminEmail))
        #expect(admin.role == .admin)
        #expect(Secrets.verifyPassword(DemoAgency.password, hash: admin.passwordHash))
        let page = try await store.list(.candidate, organizationID: organization.id, query: ListQuery(page: PageRequest(limit: 200)))
        #expect(page.items.count == 200)
        let applications = try await store.list(.application, organizationID: organization.id, query: ListQuery(page: PageRequest(limit: 1)))
        let first = try #require(applications.items.first)
        let record = try #require(try await store.record(.application, organizationID: organization.id, id: first.id))
        let history = try await store.stageHistory(organizationID: organization.id, applicationID: first.id)
        #expect(history.last?.toStage == record["stage"]?.stringValue)

        await #expect {
            _ = try await DemoAgency.load(into: store, reference: Fixture.reference, configuration: small)
        } throws: { error in
            (error as? DemoError)?.code == .alreadyExists
        }
    }

    /// `ATS_DEMO_DUMP=1 swift test --filter DemoGeneratorTests/dump` prints a few documents to read.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ATS_DEMO_DUMP"] != nil))
    func dump() {
        let samples = [dataset.clients[0], dataset.clientContacts[0], dataset.projects[0], dataset.jobs[0], dataset.jobs[1]]
            + Array(dataset.candidates.prefix(4)) + [dataset.applications[0], dataset.interviews[0]]
            + Array(dataset.notes.prefix(3))
        for record in samples { print("\(record.kind): \(record.json)\n") }
        print(dataset.stageEvents.prefix(4).map { "\($0)" }.joined(separator: "\n"))
    }

    /// `ATS_DEMO_SCALE=100000 swift test --filter DemoGeneratorTests/scale` times a large agency.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ATS_DEMO_SCALE"] != nil))
    func scale() async throws {
        let count = Int(ProcessInfo.processInfo.environment["ATS_DEMO_SCALE"] ?? "") ?? 100_000
        let big = DemoConfiguration(candidates: count, now: demoNow)
        let clock = ContinuousClock()
        let generated = try clock.measure {
            let data = try DemoAgency.generate(reference: Fixture.reference, configuration: big, users: Fixture.users)
            #expect(data.candidates.count == count)
        }
        print("demo: generated \(count) candidates in \(generated)")
        if ProcessInfo.processInfo.environment["ATS_DEMO_SKIP_LOAD"] != nil { return }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: folder.appendingPathComponent("ats.sqlite").path, logger: Logger(label: "test.demo"))
        try store.migrate()
        let summary = try await DemoAgency.load(into: store, reference: Fixture.reference, configuration: big)
        print("demo: loaded \(summary)")
        #expect(summary.counts[.candidate] == count)
    }
}
