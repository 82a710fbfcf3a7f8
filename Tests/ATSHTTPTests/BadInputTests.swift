import ATSDomain
import ATSHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Bad input gets a clear problem, and nothing stored changes")
struct BadInputTests {
    @Test("Each class of bad input answers its 4xx problem")
    func classes() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let ids = try await seedPipeline(client, key: key)
            let cases: [(String, HTTPRequest.Method, String, String?, HTTPResponse.Status, String)] = [
                ("malformed JSON", .post, "/api/v1/candidates", "{\"firstName\": ", .badRequest, "/problems/malformed-json"),
                ("not an object", .post, "/api/v1/candidates", "[1,2]", .badRequest, "/problems/malformed-json"),
                ("empty body", .post, "/api/v1/candidates", "", .badRequest, "/problems/malformed-json"),
                ("wrong type", .post, "/api/v1/candidates", "{\"firstName\": 5, \"lastName\": \"X\"}", .unprocessableContent, "/problems/validation"),
                ("missing field", .post, "/api/v1/candidates", "{\"firstName\": \"A\"}", .unprocessableContent, "/problems/validation"),
                ("unknown field", .post, "/api/v1/candidates", "{\"firstName\": \"A\", \"lastName\": \"B\", \"salary\": 1}", .unprocessableContent, "/problems/validation"),
                ("read-only field", .post, "/api/v1/candidates", "{\"firstName\": \"A\", \"lastName\": \"B\", \"id\": \"x\"}", .unprocessableContent, "/problems/validation"),
                ("bad enum", .post, "/api/v1/candidates", "{\"firstName\": \"A\", \"lastName\": \"B\", \"status\": \"hired\"}", .unprocessableContent, "/problems/validation"),
                ("bad email", .post, "/api/v1/candidates", "{\"firstName\": \"A\", \"lastName\": \"B\", \"email\": \"nope\"}", .unprocessableContent, "/problems/validation"),
                ("huge number", .post, "/api/v1/candidates", "{\"firstName\": \"A\", \"lastName\": \"B\", \"experienceYears\": 1e300}", .unprocessableContent, "/problems/validation"),
                ("invalid id", .get, "/api/v1/candidates/not-an-id", nil, .badRequest, "/problems/invalid-id"),
                ("missing row", .get, "/api/v1/candidates/\(Identifier.make())", nil, .notFound, "/problems/not-found"),
                ("dangling reference", .post, "/api/v1/applications", "{\"candidateId\": \"\(Identifier.make())\", \"jobId\": \"\(ids.job)\"}", .unprocessableContent, "/problems/invalid-reference"),
                ("bad limit", .get, "/api/v1/candidates?limit=500", nil, .badRequest, "/problems/invalid-parameter"),
                ("bad cursor", .get, "/api/v1/candidates?cursor=garbage", nil, .badRequest, "/problems/invalid-cursor"),
                ("bad sort", .get, "/api/v1/candidates?sort=salary", nil, .badRequest, "/problems/invalid-parameter"),
                ("bad filter", .get, "/api/v1/candidates?status=hired", nil, .badRequest, "/problems/invalid-parameter"),
                ("bad time", .get, "/api/v1/candidates?updatedSince=yesterday", nil, .badRequest, "/problems/invalid-parameter"),
                ("no route", .get, "/api/v1/nothing-here", nil, .notFound, "/problems/no-route"),
                ("oversize body", .post, "/api/v1/candidates", "{\"firstName\": \"" + String(repeating: "a", count: 70_000) + "\"}", .contentTooLarge, "/problems/body-too-large"),
            ]
            for (name, method, uri, body, status, type) in cases {
                let reply = try await client.call(method, uri, key: key, raw: body)
                #expect(reply.status == status, "\(name): \(reply.text)")
                #expect(reply.problemType == type, "\(name): \(reply.text)")
                #expect(reply.headers[.contentType] == "application/problem+json", "\(name)")
                #expect(reply.json["detail"]?.stringValue?.isEmpty == false, "\(name)")
            }
            let fields = try await client.call(.post, "/api/v1/candidates", key: key, raw: "{\"firstName\": 5, \"email\": \"x\"}")
            let named = Set(fields.json["errors"]?.arrayValue?.compactMap { $0.objectValue?["field"]?.stringValue } ?? [])
            #expect(named == ["firstName", "email", "lastName"])

            // Nothing was written by any of the rejected requests.
            let candidates = try await client.call(.get, "/api/v1/candidates", key: key)
            #expect(candidates.items.count == 1)
            let applications = try await client.call(.get, "/api/v1/applications", key: key)
            #expect(applications.items.isEmpty)
        }
    }

    @Test("A rejected update leaves the row as it was")
    func rejectedUpdate() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let ids = try await seedPipeline(client, key: key)
            let before = try await client.call(.get, "/api/v1/candidates/\(ids.candidate)", key: key)
            for body in ["{\"lastName\": null}", "{\"email\": 3}", "{\"ownerId\": \"\(Identifier.make())\"}", "{\"createdAt\": \"2020-01-01T00:00:00Z\"}"] {
                let reply = try await client.call(.patch, "/api/v1/candidates/\(ids.candidate)", key: key, raw: body)
                #expect(reply.status == .unprocessableContent, "\(body): \(reply.text)")
            }
            let after = try await client.call(.get, "/api/v1/candidates/\(ids.candidate)", key: key)
            #expect(after.text == before.text)
            let job = try await client.call(.patch, "/api/v1/jobs/\(ids.job)", key: key, json: ["pipelineStages": ["A", "B"]])
            #expect(job.status == .ok || job.status == .unprocessableContent)
            let stillDeletable = try await client.call(.delete, "/api/v1/clients/\(ids.client)", key: key)
            #expect(stillDeletable.status == .conflict, "a client with jobs is not deleted: \(stillDeletable.text)")
        }
    }
}

@Suite("Tenancy")
struct TenancyTests {
    @Test("Organization B cannot read, list, change or delete anything of organization A through any route")
    func isolation() async throws {
        try await withAgency { agency, client in
            let a = agency.key("acme")
            let b = agency.key("globex")
            let ids = try await seedPipeline(client, key: a)
            let application = try await client.call(.post, "/api/v1/applications", key: a, json: ["candidateId": .string(ids.candidate), "jobId": .string(ids.job)])
            let interview = try await client.call(.post, "/api/v1/interviews", key: a, json: ["applicationId": .string(application.id), "scheduledAt": "2026-12-01T10:00:00Z"])
            let note = try await client.call(.post, "/api/v1/notes", key: a, json: ["body": "secret", "candidateId": .string(ids.candidate)])
            let contact = try await client.call(.post, "/api/v1/client-contacts", key: a, json: ["clientId": .string(ids.client), "firstName": "X", "lastName": "Y"])
            let project = try await client.call(.post, "/api/v1/projects", key: a, json: ["clientId": .string(ids.client), "name": "P"])
            let document = try await client.call(.post, "/api/v1/documents", key: a, json: ["candidateId": .string(ids.candidate), "filename": "cv.pdf"])
            let template = try await client.call(.post, "/api/v1/email-templates", key: a, json: ["name": "T", "subject": "S", "body": "B"])
            let message = try await client.call(.post, "/api/v1/messages", key: a, json: ["to": "x@example.com", "subject": "S", "body": "B"])
            let search = try await client.call(.post, "/api/v1/saved-searches", key: a, json: ["name": "S"])
            let owned: [(EntityKind, String)] = [
                (.candidate, ids.candidate), (.client, ids.client), (.job, ids.job), (.application, application.id),
                (.interview, interview.id), (.note, note.id), (.clientContact, contact.id), (.project, project.id),
                (.document, document.id), (.emailTemplate, template.id), (.message, message.id), (.savedSearch, search.id),
            ]
            for (kind, id) in owned {
                #expect(!id.isEmpty, "\(kind) was created")
                let base = "/api/v1/\(kind.pathSegment)"
                #expect(try await client.call(.get, "\(base)/\(id)", key: b).status == .notFound, "GET \(kind)")
                #expect(try await client.call(.patch, "\(base)/\(id)", key: b, json: [:]).status == .notFound, "PATCH \(kind)")
                #expect(try await client.call(.delete, "\(base)/\(id)", key: b).status == .notFound, "DELETE \(kind)")
                let list = try await client.call(.get, base, key: b)
                #expect(list.status == .ok && list.items.isEmpty, "list \(kind)")
                #expect(try await client.call(.get, "\(base)/\(id)", key: a).status == .ok, "A still has \(kind)")
            }
            // Workflow routes and references across tenants.
            #expect(try await client.call(.post, "/api/v1/applications/\(application.id)/move", key: b, json: ["stage": "Offer"]).status == .notFound)
            #expect(try await client.call(.get, "/api/v1/applications/\(application.id)/history", key: b).status == .notFound)
            #expect(try await client.call(.get, "/api/v1/candidates/\(ids.candidate)/notes", key: b).status == .notFound)
            #expect(try await client.call(.post, "/api/v1/candidates/\(ids.candidate)/notes", key: b, json: ["body": "x"]).status == .notFound)
            let mine = try await client.call(.post, "/api/v1/candidates", key: b, json: ["firstName": "B", "lastName": "B"])
            #expect(try await client.call(.post, "/api/v1/candidates/\(mine.id)/merge", key: b, json: ["duplicateId": .string(ids.candidate)]).status == .notFound)
            let bulk = try await client.call(.post, "/api/v1/candidates/bulk", key: b, json: ["action": "archive", "ids": [.string(ids.candidate)]])
            #expect(bulk.json["updated"] == 0)
            let crossRef = try await client.call(.post, "/api/v1/applications", key: b, json: ["candidateId": .string(mine.id), "jobId": .string(ids.job)])
            #expect(crossRef.status == .unprocessableContent, "a job of A cannot be referenced from B")
            let audit = try await client.call(.get, "/api/v1/audit-log", key: b)
            #expect(!audit.text.contains(ids.candidate))
            let users = try await client.call(.get, "/api/v1/users", key: b)
            #expect(users.status == .ok)
            // Users and API keys of A, by id, answer B like missing ones.
            let userA = try await client.call(.post, "/api/v1/users", key: a, json: ["email": "x@acme.example", "name": "X", "role": "viewer", "password": "long-enough-1"])
            let keyA = try await client.call(.post, "/api/v1/api-keys", key: a, json: ["name": "k", "role": "viewer"])
            for path in ["/api/v1/users/\(userA.id)", "/api/v1/api-keys/\(keyA.id)"] {
                #expect(try await client.call(.get, path, key: b).status == .notFound, "GET \(path)")
                #expect(try await client.call(.delete, path, key: b).status == .notFound, "DELETE \(path)")
            }
            #expect(try await client.call(.patch, "/api/v1/users/\(userA.id)", key: b, json: ["name": "Y"]).status == .notFound)
            #expect(try await client.call(.get, "/api/v1/users/\(userA.id)", key: a).status == .ok)
            let stillWorks = try #require(keyA.json["key"]?.stringValue)
            #expect(try await client.call(.get, "/api/v1/candidates", key: stillWorks).status == .ok, "B could not revoke A's key")
            let keys = try await client.call(.get, "/api/v1/api-keys", key: b)
            #expect(keys.items.count == Role.allCases.count, "B sees its own keys only")
        }
    }
}
