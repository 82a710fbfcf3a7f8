import ATSDomain
import ATSHTTP
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("JSON API")
struct APITests {
    @Test("A candidate goes through create, read, update, list and delete")
    func candidateLifecycle() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let created = try await client.call(
                .post, "/api/v1/candidates", key: key,
                json: [
                    "firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "currentTitle": "Engineer",
                    "technicalSkills": ["COBOL", "Compilers"], "tags": ["navy"],
                    "preferences": .object(["remote": "hybrid", "salaryMin": 90000]),
                ])
            #expect(created.status == .created)
            #expect(created.headers[.location] == "/api/v1/candidates/\(created.id)")
            #expect(created.json["status"] == "new")
            #expect(created.headers[.xRequestIDForTests] != nil)

            let read = try await client.call(.get, "/api/v1/candidates/\(created.id)", key: key)
            #expect(read.status == .ok)
            #expect(read.json["firstName"] == "Grace")

            let patched = try await client.call(
                .patch, "/api/v1/candidates/\(created.id)", key: key,
                json: ["currentTitle": "Rear Admiral", "tags": .null, "preferences": .object(["salaryMin": .null, "willingToRelocate": true])])
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(patched.json["currentTitle"] == "Rear Admiral")
            #expect(patched.json["tags"] == nil)
            #expect(patched.json["preferences"]?.objectValue == ["remote": "hybrid", "willingToRelocate": true])

            let list = try await client.call(.get, "/api/v1/candidates?status=new&limit=10", key: key)
            #expect(list.status == .ok)
            #expect(list.items.map { $0["id"]?.stringValue } == [created.id])

            let deleted = try await client.call(.delete, "/api/v1/candidates/\(created.id)", key: key)
            #expect(deleted.status == .noContent)
            let gone = try await client.call(.get, "/api/v1/candidates/\(created.id)", key: key)
            #expect(gone.status == .notFound)
            #expect(gone.headers[.contentType] == "application/problem+json")
        }
    }

    @Test("Every entity kind has working CRUD routes")
    func everyKind() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let ids = try await seedPipeline(client, key: key)
            let application = try await client.call(
                .post, "/api/v1/applications", key: key, json: ["candidateId": .string(ids.candidate), "jobId": .string(ids.job)])
            #expect(application.status == .created, "\(application.text)")
            let project = try await client.call(.post, "/api/v1/projects", key: key, json: ["clientId": .string(ids.client), "name": "Mandate"])
            let template = try await client.call(.post, "/api/v1/email-templates", key: key, json: ["name": "Hi", "subject": "Hello {{candidate.firstName}}", "body": "Hi"])
            let bodies: [(EntityKind, JSONObject)] = [
                (.clientContact, ["clientId": .string(ids.client), "firstName": "Bill", "lastName": "Lumbergh"]),
                (.interview, ["applicationId": .string(application.id), "scheduledAt": "2026-12-01T10:00:00+01:00"]),
                (.note, ["body": "Strong candidate", "candidateId": .string(ids.candidate)]),
                (.document, ["candidateId": .string(ids.candidate), "filename": "cv.pdf"]),
                (.message, ["to": "ada@example.com", "subject": "Hi", "body": "Hello", "templateId": .string(template.id)]),
                (.savedSearch, ["name": "Swift people", "query": "swift", "filters": .object(["status": "active"])]),
            ]
            #expect(project.status == .created)
            for (kind, body) in bodies {
                let created = try await client.call(.post, "/api/v1/\(kind.pathSegment)", key: key, json: body)
                #expect(created.status == .created, "\(kind): \(created.text)")
                let read = try await client.call(.get, "/api/v1/\(kind.pathSegment)/\(created.id)", key: key)
                #expect(read.status == .ok, "\(kind)")
                let list = try await client.call(.get, "/api/v1/\(kind.pathSegment)", key: key)
                #expect(list.items.contains { $0["id"]?.stringValue == created.id }, "\(kind)")
                let deleted = try await client.call(.delete, "/api/v1/\(kind.pathSegment)/\(created.id)", key: key)
                #expect(deleted.status == .noContent, "\(kind): \(deleted.text)")
            }
            let interview = try await client.call(
                .post, "/api/v1/interviews", key: key, json: ["applicationId": .string(application.id), "scheduledAt": "2026-12-01T10:00:00Z"])
            #expect(interview.json["candidateId"]?.stringValue == ids.candidate)
            #expect(interview.json["scheduledAt"] == "2026-12-01T10:00:00.000Z")
        }
    }

    @Test("Applications move through their job's pipeline and keep a history")
    func pipeline() async throws {
        try await withAgency { agency, client in
            let key = agency.key("acme", .recruiter)
            let ids = try await seedPipeline(client, key: key)
            let application = try await client.call(
                .post, "/api/v1/applications", key: key, json: ["candidateId": .string(ids.candidate), "jobId": .string(ids.job)])
            #expect(application.json["stage"] == "Sourced")

            let moved = try await client.call(.post, "/api/v1/applications/\(application.id)/move", key: key, json: ["stage": "Interview"])
            #expect(moved.status == .ok, "\(moved.text)")
            #expect(moved.json["stage"] == "Interview")

            let bad = try await client.call(.post, "/api/v1/applications/\(application.id)/move", key: key, json: ["stage": "Nirvana"])
            #expect(bad.status == .unprocessableContent)
            #expect(bad.problemType == "/problems/invalid-stage")

            let history = try await client.call(.get, "/api/v1/applications/\(application.id)/history", key: key)
            #expect(history.items.map { $0["toStage"]?.stringValue } == ["Sourced", "Interview"])
            #expect(history.items.last?["fromStage"] == "Sourced")
            #expect(history.items.last?["actor"]?.stringValue?.hasPrefix("key:") == true)

            let duplicate = try await client.call(
                .post, "/api/v1/applications", key: key, json: ["candidateId": .string(ids.candidate), "jobId": .string(ids.job)])
            #expect(duplicate.status == .conflict)

            let byStage = try await client.call(.get, "/api/v1/applications?job=\(ids.job)&stage=Interview", key: key)
            #expect(byStage.items.count == 1)

            let note = try await client.call(.post, "/api/v1/applications/\(application.id)/notes", key: key, json: ["body": "Went well"])
            #expect(note.status == .created, "\(note.text)")
            let notes = try await client.call(.get, "/api/v1/applications/\(application.id)/notes", key: key)
            #expect(notes.items.count == 1)
        }
    }

    @Test("Duplicates are detected by normalized email and phone, and can be merged")
    func duplicatesAndMerge() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let first = try await client.call(
                .post, "/api/v1/candidates", key: key,
                json: ["firstName": "Jane", "lastName": "Doe", "email": "Jane.Doe@Example.com", "phone": "+41 79 123 45 67", "tags": ["a"]])
            let byEmail = try await client.call(
                .post, "/api/v1/candidates", key: key, json: ["firstName": "J", "lastName": "Doe", "email": " jane.doe@example.com"])
            #expect(byEmail.status == .conflict)
            #expect(byEmail.problemType == "/problems/duplicate-candidate")
            #expect(byEmail.json["existingId"]?.stringValue == first.id)
            let byPhone = try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "J", "lastName": "Doe", "phone": "079 123 45 67"])
            #expect(byPhone.status == .conflict)

            let second = try await client.call(
                .post, "/api/v1/candidates?allowDuplicate=true", key: key,
                json: ["firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com", "currentTitle": "CTO", "tags": ["b"]])
            #expect(second.status == .created)
            let ids = try await seedPipeline(client, key: key)
            _ = try await client.call(.post, "/api/v1/applications", key: key, json: ["candidateId": .string(second.id), "jobId": .string(ids.job)])
            _ = try await client.call(.post, "/api/v1/candidates/\(second.id)/notes", key: key, json: ["body": "met at fair"])

            let merged = try await client.call(.post, "/api/v1/candidates/\(first.id)/merge", key: key, json: ["duplicateId": .string(second.id)])
            #expect(merged.status == .ok, "\(merged.text)")
            #expect(merged.json["currentTitle"] == "CTO")
            #expect(Set(merged.json["tags"]?.stringArray ?? []) == ["a", "b"])
            let gone = try await client.call(.get, "/api/v1/candidates/\(second.id)", key: key)
            #expect(gone.status == .notFound)
            let applications = try await client.call(.get, "/api/v1/applications?candidate=\(first.id)", key: key)
            #expect(applications.items.count == 1)
            let notes = try await client.call(.get, "/api/v1/candidates/\(first.id)/notes", key: key)
            #expect(notes.items.count == 1)
        }
    }

    @Test("Bulk actions report one result per id")
    func bulk() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            var ids: [String] = []
            for index in 0..<3 {
                ids.append(try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "C\(index)", "lastName": "X"]).id)
            }
            let missing = Identifier.make()
            let tagged = try await client.call(
                .post, "/api/v1/candidates/bulk", key: key,
                json: ["action": "tag", "ids": .array((ids + [missing]).map(JSONValue.string)), "tags": ["hot"]])
            #expect(tagged.status == .ok, "\(tagged.text)")
            #expect(tagged.json["updated"] == 3)
            let outcomes = tagged.json["results"]?.arrayValue?.compactMap { $0.objectValue?["outcome"]?.stringValue }
            #expect(outcomes == ["updated", "updated", "updated", "not_found"])
            let hot = try await client.call(.get, "/api/v1/candidates?tag=hot", key: key)
            #expect(hot.items.count == 3)
            let archived = try await client.call(.post, "/api/v1/candidates/bulk", key: key, json: ["action": "archive", "ids": .array([.string(ids[0])])])
            #expect(archived.json["updated"] == 1)
            let active = try await client.call(.get, "/api/v1/candidates?archived=false", key: key)
            #expect(active.items.count == 2)
        }
    }

    @Test("Lists page with cursors in both orders")
    func pagination() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            var created: [String] = []
            for index in 0..<7 {
                created.append(try await client.call(.post, "/api/v1/clients", key: key, json: ["name": "Client \(index)"]).id)
            }
            for sort in ["createdAt", "-createdAt"] {
                var seen: [String] = []
                var cursor: String?
                repeat {
                    let uri = "/api/v1/clients?limit=3&sort=\(sort)" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let page = try await client.call(.get, uri, key: key)
                    #expect(page.status == .ok)
                    seen += page.items.compactMap { $0["id"]?.stringValue }
                    cursor = page.json["nextCursor"]?.stringValue
                } while cursor != nil
                #expect(seen == (sort == "createdAt" ? created : created.reversed()))
            }
        }
    }
}

extension HTTPField.Name {
    static let xRequestIDForTests = HTTPField.Name("X-Request-Id")!
}
