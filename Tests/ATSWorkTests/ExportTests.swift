import ATSDemo
import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import Testing

@Suite("Exports of the demo agency")
struct ExportTests {
    static func demo(_ fixture: ExportFixture) async throws -> String {
        let reference = try ReferenceData.load(from: try #require(ReferenceData.locate()))
        let summary = try await DemoAgency.load(
            into: fixture.store, reference: reference,
            configuration: DemoConfiguration(candidates: 120, clients: 4, projects: 2, jobs: 6, applications: 150, notes: 30, batchSize: 500))
        return summary.organizationID
    }

    /// Every row the list endpoint would give for `query`, through the cursors.
    static func listAll(_ store: any Store, _ kind: EntityKind, org: String, equals: [String: String] = [:], tag: String? = nil)
        async throws -> [String]
    {
        var ids: [String] = []
        var cursor: Cursor?
        repeat {
            let page = try await store.list(
                kind, organizationID: org, query: ListQuery(equals: equals, tag: tag, page: PageRequest(limit: 200, cursor: cursor)))
            ids += page.items.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        return ids
    }

    @Test func filteredCandidateCSVMatchesTheList() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let org = try await Self.demo(fixture)
        let request = try ExportRequest(parsing: ["kind": "candidates", "format": "csv", "filters": .object(["status": "active"])])
        let (job, result) = try await fixture.run(ExportWork.jobRequest(request, organizationID: org, actor: "user:test"))
        let expected = try await Self.listAll(fixture.store, .candidate, org: org, equals: ["status": "active"])
        #expect(!expected.isEmpty)
        #expect(result?["rows"] == .int(Int64(expected.count)))
        let path = ExportFiles.path(dataDirectory: fixture.dataDirectory, organizationID: org, jobID: job.id, format: .csv)
        let records = try readAll(CSVReader(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))))
        let columns = ExportColumns(kind: .candidate).names
        #expect(records.first?.fields == columns.map { Optional($0) })
        #expect(records.dropFirst().allSatisfy { $0.fields.count == columns.count && !$0.hasInvalidUTF8 })
        let status = try #require(columns.firstIndex(of: "status"))
        #expect(records.dropFirst().allSatisfy { $0.fields[status] == "active" })
        #expect(Set(records.dropFirst().compactMap { $0.fields[0] }) == Set(expected))
        // Skills are joined, nested preferences flattened.
        #expect(columns.contains("preferences.salaryMin"))
        let skills = try #require(columns.firstIndex(of: "technicalSkills"))
        #expect(records.dropFirst().contains { ($0.fields[skills] ?? "").contains("; ") })
        // Nothing half-written is left beside the file.
        let folder = ExportFiles.folder(dataDirectory: fixture.dataDirectory, organizationID: org)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["\(job.id).csv"])
    }

    @Test func applicationJSONWithAJobFilter() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let org = try await Self.demo(fixture)
        let jobs = try await Self.listAll(fixture.store, .job, org: org)
        var chosen: (id: String, count: Int)?
        for id in jobs {
            let count = try await Self.listAll(fixture.store, .application, org: org, equals: ["jobId": id]).count
            if count > (chosen?.count ?? 0) { chosen = (id, count) }
        }
        let target = try #require(chosen)
        let request = try ExportRequest(parsing: ["kind": "applications", "format": "json", "filters": .object(["job": .string(target.id)])])
        let (job, result) = try await fixture.run(ExportWork.jobRequest(request, organizationID: org, actor: "user:test"))
        #expect(result?["rows"] == .int(Int64(target.count)))
        let path = ExportFiles.path(dataDirectory: fixture.dataDirectory, organizationID: org, jobID: job.id, format: .json)
        let parsed = try JSONText.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        let items = try #require(parsed.arrayValue)
        #expect(items.count == target.count)
        #expect(items.allSatisfy { $0.objectValue?["jobId"] == .string(target.id) })
    }

    @Test func emptyExportsAreStillValidFiles() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let org = try await fixture.store.createOrganization(slug: "empty", name: "Empty")
        for format in ExportFormat.allCases {
            let path = fixture.folder.appendingPathComponent("jobs.\(format.rawValue)").path
            let result = try await ExportWriter.write(
                ExportRequest(kind: .jobs, format: format, filters: ["tag": "none"]), organizationID: org.id, store: fixture.store, to: path)
            #expect(result.rows == 0)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            if format == .json { #expect(try JSONText.parse(bytes) == .array([])) } else { #expect(try readAll(CSVReader(bytes: bytes)).count == 1) }
        }
    }

    @Test func badRequestsAreRefusedWithEveryReason() {
        #expect(throws: ValidationError.self) { try ExportRequest(parsing: ["kind": "clients"]) }
        do {
            _ = try ExportRequest(parsing: ["kind": "candidates", "format": "xlsx", "filters": .object(["stage": "Offer", "updatedSince": "yesterday"])])
            Issue.record("accepted a bad request")
        } catch {
            #expect(Set(error.errors.map(\.field)) == ["format", "filters.stage", "filters.updatedSince"])
        }
        let jobs = try? ExportRequest(parsing: ["kind": "applications", "filters": .object(["stage": "Offer", "status": "active"])])
        #expect(jobs?.filters == ["stage": "Offer", "status": "active"])
        #expect(jobs?.format == .csv)
    }
}
