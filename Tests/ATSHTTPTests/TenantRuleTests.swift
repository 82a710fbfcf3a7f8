import ATSDomain
import ATSHTTP
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Who may write what, and what one organization can learn of another: the rules a hostile
/// client probed (issue 12, item 6).
@Suite("Tenant and role rules")
struct TenantRuleTests {
    /// Signs a user of acme in; returns the session token.
    static func signIn(_ client: any TestClientProtocol, _ role: Role) async throws -> String {
        let login = try await client.call(
            .post, "/api/v1/auth/login", key: nil,
            json: ["organization": "acme", "email": .string("\(role.rawValue)@acme.example"), "password": .string("password-\(role.rawValue)")])
        #expect(login.status == .ok, "\(login.text)")
        return try #require(login.json["token"]?.stringValue)
    }

    @Test("A hiring manager's note must be about their own jobs in every field that names something")
    func hiringManagerNoteSubjects() async throws {
        try await withAgency(withUsers: true) { agency, client in
            let recruiter = agency.key("acme", .recruiter)
            let session = try await Self.signIn(client, .hiringManager)
            let managerID = try #require(agency.users["acme"]?[.hiringManager]?.id)
            // Their job with Ada applied; another job with Grace applied; Linus applied nowhere.
            let own = try await seedPipeline(client, key: recruiter)
            let other = try await seedPipeline(client, key: recruiter)
            let loner = try await client.call(.post, "/api/v1/candidates", key: recruiter, json: ["firstName": "Linus", "lastName": "T"])
            #expect(try await client.call(.patch, "/api/v1/jobs/\(own.job)", key: recruiter, json: ["hiringManagerIds": [.string(managerID)]]).status == .ok)
            let ownApplication = try await client.call(
                .post, "/api/v1/applications", key: recruiter, json: ["candidateId": .string(own.candidate), "jobId": .string(own.job)])
            let otherApplication = try await client.call(
                .post, "/api/v1/applications", key: recruiter, json: ["candidateId": .string(other.candidate), "jobId": .string(other.job)])
            #expect(ownApplication.status == .created && otherApplication.status == .created)

            // The candidate route refuses a candidate with no application on their jobs ...
            #expect(try await client.call(.post, "/api/v1/candidates/\(other.candidate)/notes", key: session, json: ["body": "x"]).status == .forbidden)
            // ... and so does POST /notes, whatever own job comes with it.
            for body: JSONObject in [
                ["body": "x", "jobId": .string(own.job), "candidateId": .string(other.candidate)],
                ["body": "x", "jobId": .string(own.job), "candidateId": .string(loner.id)],
                ["body": "x", "candidateId": .string(loner.id)],
                ["body": "x", "jobId": .string(own.job), "applicationId": .string(otherApplication.id)],
                ["body": "x", "applicationId": .string(ownApplication.id), "candidateId": .string(other.candidate)],
                ["body": "x", "candidateId": .string(own.candidate), "jobId": .string(other.job)],
                ["body": "x"],
            ] {
                let reply = try await client.call(.post, "/api/v1/notes", key: session, json: body)
                #expect(reply.status == .forbidden, "\(body): \(reply.text)")
                #expect(reply.headers[.contentType] == "application/problem+json")
            }
            let notes = try await client.call(.get, "/api/v1/candidates/\(other.candidate)/notes", key: recruiter)
            #expect(notes.items.isEmpty, "nothing was written about the other job's candidate")

            // Every field about their own job's work: allowed.
            for body: JSONObject in [
                ["body": "ok", "jobId": .string(own.job)],
                ["body": "ok", "candidateId": .string(own.candidate)],
                ["body": "ok", "applicationId": .string(ownApplication.id)],
                ["body": "ok", "jobId": .string(own.job), "candidateId": .string(own.candidate), "applicationId": .string(ownApplication.id)],
            ] {
                let reply = try await client.call(.post, "/api/v1/notes", key: session, json: body)
                #expect(reply.status == .created, "\(body): \(reply.text)")
            }
            // A recruiter is not bound by it.
            let recruiterNote = try await client.call(
                .post, "/api/v1/notes", key: recruiter, json: ["body": "x", "jobId": .string(own.job), "candidateId": .string(loner.id)])
            #expect(recruiterNote.status == .created)
        }
    }

    @Test("A zip of a candidate's documents is a write: recruiter and up")
    func zipNeedsARecruiter() async throws {
        try await withAgency { agency, client in
            let ids = try await seedPipeline(client, key: agency.key())
            let path = "/api/v1/candidates/\(ids.candidate)/documents"
            #expect(try await client.upload(path, key: agency.key(), file: Array("note".utf8), filename: "a.txt", type: nil, fields: ["kind": "other"]).status == .created)
            for role in [Role.viewer, .hiringManager] {
                let reply = try await client.call(.post, "\(path)/zip", key: agency.key("acme", role))
                #expect(reply.status == .forbidden, "\(role)")
                #expect(reply.problemType == "/problems/forbidden")
            }
            #expect(try await client.call(.post, "\(path)/zip", key: agency.key("acme", .recruiter)).status == .ok)
        }
    }

    @Test("The last active admin cannot be disabled, demoted or deleted, by themselves or another admin")
    func lastActiveAdmin() async throws {
        try await withAgency(withUsers: true) { agency, client in
            let adminKey = agency.key()
            let adminID = try #require(agency.users["acme"]?[.admin]?.id)
            let session = try await Self.signIn(client, .admin)
            for (key, body) in [
                (session, ["disabled": true] as JSONObject), (adminKey, ["disabled": true]), (adminKey, ["role": "recruiter"]),
                (adminKey, ["role": "viewer", "disabled": true]),
            ] {
                let reply = try await client.call(.patch, "/api/v1/users/\(adminID)", key: key, json: body)
                #expect(reply.status == .conflict, "\(body): \(reply.text)")
                #expect(reply.problemType == "/problems/last-admin", "\(reply.text)")
                #expect(reply.headers[.contentType] == "application/problem+json")
                #expect(reply.json["detail"]?.stringValue?.contains("at least one active admin") == true)
            }
            let delete = try await client.call(.delete, "/api/v1/users/\(adminID)", key: adminKey)
            #expect(delete.status == .conflict && delete.problemType == "/problems/last-admin", "\(delete.text)")
            // Still there, still an admin, still signed in.
            #expect(try await client.call(.get, "/api/v1/auth/me", key: session).status == .ok)
            let kept = try await client.call(.get, "/api/v1/users/\(adminID)", key: adminKey)
            #expect(kept.json["role"] == "admin" && kept.json["disabled"] == false, "\(kept.text)")

            // With a second admin, the first may step down (and the second is then the last).
            let second = try await client.call(
                .post, "/api/v1/users", key: adminKey, json: ["email": "second@acme.example", "name": "Second", "role": "admin"])
            #expect(second.status == .created)
            #expect(try await client.call(.patch, "/api/v1/users/\(adminID)", key: session, json: ["disabled": true]).status == .ok)
            let last = try await client.call(.patch, "/api/v1/users/\(second.id)", key: adminKey, json: ["disabled": true])
            #expect(last.status == .conflict && last.problemType == "/problems/last-admin")
        }
    }

    @Test("A request naming another organization's span in traceparent never shows in that organization's trace")
    func foreignTraceparent() async throws {
        try await withAgency { agency, client in
            let acmeID = try #require(try await agency.store.organization(slug: "acme")?.id)
            let globexID = try #require(try await agency.store.organization(slug: "globex")?.id)
            let ids = try await seedPipeline(client, key: agency.key())
            // Acme's own request: a new trace; its server span's id comes back in `traceparent`.
            let own = try await client.execute(
                uri: "/api/v1/candidates/\(ids.candidate)", method: .get, headers: [.authorization: "Bearer \(agency.key())"]) { $0 }
            let parts = (own.headers[HTTPField.Name("traceparent")!] ?? "").split(separator: "-").map(String.init)
            try #require(parts.count == 4)
            let (traceID, acmeSpan) = (parts[1], parts[2])
            let before = try await client.call(.get, "/api/v1/admin/traces?limit=200", key: agency.key())
            let countBefore = before.items.first { $0["traceId"]?.stringValue == traceID }?["spanCount"]

            // Globex's request names acme's span as its parent.
            let intruder = try await client.execute(
                uri: "/api/v1/candidates", method: .get,
                headers: [.authorization: "Bearer \(agency.key("globex"))", HTTPField.Name("traceparent")!: "00-\(traceID)-\(acmeSpan)-01"]
            ) { $0 }
            #expect(intruder.status == .ok)

            func spans(_ reply: Reply) -> [JSONObject] {
                var found: [JSONObject] = []
                func walk(_ nodes: [JSONValue]) {
                    for node in nodes.compactMap(\.objectValue) {
                        found.append(node)
                        walk(node["children"]?.arrayValue ?? [])
                    }
                }
                walk(reply.json["spans"]?.arrayValue ?? [])
                return found
            }
            let ours = try await client.call(.get, "/api/v1/admin/traces/\(traceID)", key: agency.key())
            #expect(ours.status == .ok)
            let ourSpans = spans(ours)
            #expect(!ourSpans.isEmpty)
            #expect(!ourSpans.contains { $0["attributes"]?.objectValue?["ats.org"]?.stringValue == globexID }, "\(ours.text)")
            #expect(!ourSpans.contains { $0["name"]?.stringValue == "GET /api/v1/candidates" }, "\(ours.text)")
            let after = try await client.call(.get, "/api/v1/admin/traces?limit=200", key: agency.key())
            #expect(after.items.first { $0["traceId"]?.stringValue == traceID }?["spanCount"] == countBefore)

            let theirs = try await client.call(.get, "/api/v1/admin/traces/\(traceID)", key: agency.key("globex"))
            #expect(theirs.status == .ok)
            let theirSpans = spans(theirs)
            #expect(theirs.json["spans"]?.arrayValue?.count == 1)
            #expect(!theirSpans.contains { $0["attributes"]?.objectValue?["ats.org"]?.stringValue == acmeID }, "\(theirs.text)")
            #expect(!theirSpans.contains { $0["spanId"]?.stringValue == acmeSpan })
        }
    }
}
