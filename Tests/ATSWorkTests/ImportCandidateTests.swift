import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import Testing

@Suite("Candidate CSV import")
struct ImportCandidateTests {
    @Test func mappingMatchesHeaderSpellings() throws {
        let mapping = try CandidateColumnMapping(
            headers: ["First name", "last_name", "E-mail", "Mobile", "Skills", "Years of experience", "preferences.salaryMin", "Notes"])
        #expect(mapping.mapped["First name"] == "firstName")
        #expect(mapping.mapped["last_name"] == "lastName")
        #expect(mapping.mapped["E-mail"] == "email")
        #expect(mapping.mapped["Mobile"] == "phone")
        #expect(mapping.mapped["Skills"] == "technicalSkills")
        #expect(mapping.mapped["Years of experience"] == "experienceYears")
        #expect(mapping.mapped["preferences.salaryMin"] == "preferences.salaryMin")
        #expect(mapping.ignored == ["Notes"])
        let fields = mapping.fields(["Ada", "Lovelace", "ada@example.org", "", "Swift; Go, Rust", "12", "90000", "x"])
        #expect(fields["technicalSkills"] == .array(["Swift", "Go", "Rust"]))
        #expect(fields["experienceYears"] == .int(12))
        #expect(fields["preferences"] == .object(["salaryMin": .int(90000)]))
        #expect(fields["phone"] == nil)
    }

    @Test func explicitMappingWinsAndBadMappingsAreExplained() throws {
        let mapping = try CandidateColumnMapping(
            headers: ["Given", "Family", "Email"], explicit: ["Given": "firstName", "Family": "lastName", "Email": nil])
        #expect(mapping.mapped == ["Given": "firstName", "Family": "lastName"])
        #expect(throws: ImportError.self) { try CandidateColumnMapping(headers: ["email"]) }
        #expect(throws: ImportError.self) {
            try CandidateColumnMapping(headers: ["first", "last"], explicit: ["first": "nickname"])
        }
        #expect(throws: ImportError.self) {
            try CandidateColumnMapping(headers: ["first", "last", "Surname"])
        }
        #expect(throws: ImportError.self) { try CandidateImport.parseMapping(.object(["a": .int(1)])) }
    }

    @Test func importReportsDuplicatesAndInvalidRowsWithTheirRowNumbers() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let org = try await fixture.store.createOrganization(slug: "imp", name: "Importers")
        let existing = try await fixture.store.create(
            .candidate, organizationID: org.id,
            fields: try EntitySchema.of(.candidate).validateCreate(["firstName": "Old", "lastName": "Timer", "email": "old@example.org"]),
            actor: "test", options: WriteOptions())
        let csv = """
            First name,Last name,Email,Status,Summary\r
            Ada,Lovelace,ada@example.org,active,"Wrote the first program,\r
            on two lines"\r
            Bob,Broken,not-an-email,active,\r
            Ada,Again,ADA@example.org,,\r
            Too,Few\r
            Carl,Copy,old@example.org,passive,\r
            ,Nameless,n@example.org,,\r
            Dora,Diaz,dora@example.org,Do not contact,fine\r

            """
        let path = try fixture.write("people.csv", [0xEF, 0xBB, 0xBF] + Array(csv.utf8))
        let summary = try await CandidateImport.run(
            path: path, organizationID: org.id, store: fixture.store, actor: "test", options: ImportOptions(batchSize: 2))
        #expect(summary.rows == 7)
        #expect(summary.imported == 2)
        #expect(summary.duplicates == 2)
        #expect(summary.invalid == 3)
        #expect(summary.skipped == 0)
        let byRow = Dictionary(grouping: summary.errors, by: \.row)
        #expect(byRow[3]?.first?.field == "email")
        #expect(byRow[3]?.first?.line == 4)
        #expect(byRow[4]?.first?.kind == .duplicate)
        #expect(byRow[5]?.first?.message.contains("2 cells") == true)
        #expect(byRow[6]?.first?.kind == .duplicate)
        #expect(byRow[6]?.first?.existingID == existing.id)
        #expect(byRow[7]?.first?.field == "firstName")
        #expect(byRow[2] == nil && byRow[8] == nil)
        let dora = try await fixture.store.list(.candidate, organizationID: org.id, query: ListQuery(equals: ["status": "do_not_contact"]))
        #expect(dora.items.count == 1)
        let all = try await fixture.store.list(.candidate, organizationID: org.id, query: ListQuery())
        #expect(all.items.count == 3)
        #expect(all.items.contains { $0.json.contains("Wrote the first program,\\r\\non two lines") })
    }

    @Test func importFailsClearlyOnAnUnreadableHeader() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let org = try await fixture.store.createOrganization(slug: "enc", name: "Encodings")
        let latin1 = try fixture.write("latin1.csv", Array("firstName,lastName\n".utf8) + [0x4A, 0xF6, 0x72, 0x67] + Array(",M\n".utf8))
        let summary = try await CandidateImport.run(path: latin1, organizationID: org.id, store: fixture.store, actor: "test")
        #expect(summary.invalid == 1)
        #expect(summary.errors.first?.message.contains("UTF-8") == true)
        let utf16 = try fixture.write("utf16.csv", [0xFF, 0xFE] + Array("f\0".utf8))
        await #expect(throws: ImportError.self) {
            try await CandidateImport.run(path: utf16, organizationID: org.id, store: fixture.store, actor: "test")
        }
        let empty = try fixture.write("empty.csv", [])
        await #expect(throws: ImportError.self) {
            try await CandidateImport.run(path: empty, organizationID: org.id, store: fixture.store, actor: "test")
        }
    }

    @Test func rowsPastTheLimitAreSkippedAndErrorsAreCapped() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let org = try await fixture.store.createOrganization(slug: "cap", name: "Capped")
        var text = "firstName,lastName,email\n"
        for index in 0..<1500 { text += "P\(index),Q,\(index % 2 == 0 ? "bad" : "p\(index)@example.org")\n" }
        let path = try fixture.write("cap.csv", Array(text.utf8))
        let summary = try await CandidateImport.run(
            path: path, organizationID: org.id, store: fixture.store, actor: "test",
            options: ImportOptions(maxRows: 1000, maxReportedErrors: 100))
        #expect(summary.rows == 1500)
        #expect(summary.skipped == 500)
        #expect(summary.imported == 500)
        #expect(summary.invalid == 500)
        #expect(summary.errors.count == 100)
        #expect(summary.errorsTruncated)
    }

    @Test func importJobRunsThroughTheQueue() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let org = try await fixture.store.createOrganization(slug: "job", name: "Jobbers")
        let path = try fixture.write("q.csv", Array("Vorname;x,Nachname,Mail\nA,B,a@example.org\nA,B,a@example.org\n".utf8))
        let request = CandidateImportJob.jobRequest(
            organizationID: org.id, path: path, mapping: ["Vorname;x": "firstName"], actor: "user:test")
        #expect(request.queue == JobQueues.imports && request.maxAttempts == 1)
        let (_, result) = try await fixture.run(request)
        #expect(result?["imported"] == .int(1))
        #expect(result?["duplicates"] == .int(1))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// 100,000 rows through the whole path (parse, validate, batch insert with duplicate checks):
    /// memory stays at a chunk and a batch; the counts must come out exact.
    @Test(.timeLimit(.minutes(2))) func largeImportCompletes() async throws {
        let fixture = try await ExportFixture.make()
        defer { fixture.cleanup() }
        let org = try await fixture.store.createOrganization(slug: "big", name: "Big")
        let rows = 100_000
        let path = fixture.folder.appendingPathComponent("big.csv").path
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        var chunk = "First Name,Last Name,Email,Skills\r\n"
        for index in 0..<rows {
            chunk += "First\(index),Last,person\(index)@example.org,\"Swift, SQL\"\r\n"
            if chunk.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
        try handle.write(contentsOf: Data(chunk.utf8))
        try handle.close()
        let clock = ContinuousClock()
        let start = clock.now
        let summary = try await CandidateImport.run(
            path: path, organizationID: org.id, store: fixture.store, actor: "test",
            options: ImportOptions(maxRows: 1_000_000, batchSize: 1000))
        print("imported \(summary.imported) rows in \(start.duration(to: clock.now))")
        #expect(summary.rows == rows)
        #expect(summary.imported == rows)
        #expect(summary.invalid == 0 && summary.duplicates == 0)
    }
}
