import ATSDomain
import ATSHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Input the schema's types let through before: control characters, a salary band upside
/// down, email templates that can never render (issue 12, item 6).
@Suite("Input rules")
struct InputRuleTests {
    /// The field errors of a 422 problem, as `field: message`.
    static func fieldErrors(_ reply: Reply) -> [String: String] {
        var errors: [String: String] = [:]
        for item in reply.json["errors"]?.arrayValue?.compactMap(\.objectValue) ?? [] {
            if let field = item["field"]?.stringValue { errors[field] = item["message"]?.stringValue ?? "" }
        }
        return errors
    }

    static func expectFieldError(
        _ reply: Reply, _ field: String, containing text: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(reply.status == .unprocessableContent, "\(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        #expect(reply.problemType == "/problems/validation", "\(reply.text)", sourceLocation: sourceLocation)
        let message = fieldErrors(reply)[field]
        #expect(message != nil, "no error for \(field): \(reply.text)", sourceLocation: sourceLocation)
        if let text { #expect(message?.contains(text) == true, "\(message ?? "-")", sourceLocation: sourceLocation) }
    }

    @Test("NUL and other control characters are refused in names and lines; long texts keep tabs and line breaks")
    func controlCharacters() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            for bad in ["Ada\u{0}", "A\u{0}da", "Ada\u{7}", "Ada\tLovelace", "Ada\u{1B}[31m", "Ada\nLovelace", "Ada\u{7F}"] {
                let reply = try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": .string(bad), "lastName": "L"])
                Self.expectFieldError(reply, "firstName", containing: "control characters")
            }
            let tags = try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "A", "lastName": "L", "tags": ["ok", "b\u{0}d"]])
            Self.expectFieldError(tags, "tags[1]")
            let nested = try await client.call(
                .post, "/api/v1/candidates", key: key, json: ["firstName": "A", "lastName": "L", "preferences": .object(["workPermit": "B\u{0}"])])
            Self.expectFieldError(nested, "preferences.workPermit")
            let email = try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "A", "lastName": "L", "email": "a\u{0}b@example.com"])
            Self.expectFieldError(email, "email")

            // A summary may have paragraphs and tabs, but no NUL.
            let prose = try await client.call(
                .post, "/api/v1/candidates", key: key, json: ["firstName": "A", "lastName": "L", "summary": "One.\n\n\tTwo.\r\nThree."])
            #expect(prose.status == .created, "\(prose.text)")
            #expect(prose.json["summary"] == "One.\n\n\tTwo.\r\nThree.")
            let nul = try await client.call(.patch, "/api/v1/candidates/\(prose.id)", key: key, json: ["summary": "x\u{0}y"])
            Self.expectFieldError(nul, "summary")
            let renamed = try await client.call(.patch, "/api/v1/candidates/\(prose.id)", key: key, json: ["lastName": "L\u{0}"])
            Self.expectFieldError(renamed, "lastName")

            // Accounts: an organization's, a user's and a key's name.
            Self.expectFieldError(try await client.call(.patch, "/api/v1/organization", key: key, json: ["name": "Ac\u{0}me"]), "name")
            Self.expectFieldError(
                try await client.call(.post, "/api/v1/users", key: key, json: ["email": "n@acme.example", "name": "N\u{0}", "role": "viewer"]), "name")
            Self.expectFieldError(try await client.call(.post, "/api/v1/api-keys", key: key, json: ["name": "ci\u{0}", "role": "viewer"]), "name")
            // Saved search filters (free-form JSON) too.
            let saved = try await client.call(
                .post, "/api/v1/saved-searches", key: key, json: ["name": "S", "query": "swift", "filters": .object(["city": "Z\u{0}rich"])])
            Self.expectFieldError(saved, "filters.city")
            // Nothing of it was stored.
            let list = try await client.call(.get, "/api/v1/candidates?limit=200", key: key)
            #expect(!list.text.contains("\\u0000"))
        }
    }

    @Test("A job's salaryMin above its salaryMax is refused on create and on a patch of either end")
    func salaryBand() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let company = try await client.call(.post, "/api/v1/clients", key: key, json: ["name": "Initech"])
            let upsideDown = try await client.call(
                .post, "/api/v1/jobs", key: key, json: ["clientId": .string(company.id), "title": "T", "salaryMin": 120_000, "salaryMax": 90_000])
            Self.expectFieldError(upsideDown, "salaryMin", containing: "salaryMax")
            let job = try await client.call(
                .post, "/api/v1/jobs", key: key, json: ["clientId": .string(company.id), "title": "T", "salaryMin": 90_000, "salaryMax": 120_000])
            #expect(job.status == .created)
            let equal = try await client.call(
                .post, "/api/v1/jobs", key: key, json: ["clientId": .string(company.id), "title": "T", "salaryMin": 90_000, "salaryMax": 90_000])
            #expect(equal.status == .created)
            // A patch of one end is judged against the stored other end.
            Self.expectFieldError(try await client.call(.patch, "/api/v1/jobs/\(job.id)", key: key, json: ["salaryMin": 130_000]), "salaryMin")
            Self.expectFieldError(try await client.call(.patch, "/api/v1/jobs/\(job.id)", key: key, json: ["salaryMax": 80_000]), "salaryMin")
            #expect(try await client.call(.patch, "/api/v1/jobs/\(job.id)", key: key, json: ["salaryMin": 130_000, "salaryMax": 150_000]).status == .ok)
            #expect(try await client.call(.patch, "/api/v1/jobs/\(job.id)", key: key, json: ["salaryMax": .null, "salaryMin": 200_000]).status == .ok)
            let stored = try await client.call(.get, "/api/v1/jobs/\(job.id)", key: key)
            #expect(stored.json["salaryMin"] == 200_000 && stored.json["salaryMax"] == nil)
            // A candidate's wished-for band follows the same rule.
            let candidate = try await client.call(
                .post, "/api/v1/candidates", key: key,
                json: ["firstName": "A", "lastName": "L", "preferences": .object(["salaryMin": 100_000, "salaryMax": 50_000])])
            Self.expectFieldError(candidate, "preferences.salaryMin")
        }
    }

    @Test("Email templates with broken {{ syntax or unknown variables are refused, naming the field and the place")
    func emailTemplateSyntax() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let cases: [(subject: String, body: String, field: String, place: String)] = [
                ("Hello {{candidate.firstName", "Hi", "subject", "line 1, column 7"),
                ("Hello", "Dear {{candidate.firstName}},\nthe {{#job}}{{job.title}}{{/job}} role", "body", "line 2, column 5"),
                ("Hello", "Dear {{ candidate.nickname }}", "body", "line 1, column 6"),
                ("Hello", "Line one\nLine two {{ a b }}", "body", "line 2, column 10"),
                ("Hello", "{{}}", "body", "line 1, column 1"),
            ]
            for item in cases {
                let reply = try await client.call(
                    .post, "/api/v1/email-templates", key: key, json: ["name": "T", "subject": .string(item.subject), "body": .string(item.body)])
                Self.expectFieldError(reply, item.field, containing: item.place)
            }
            let good = try await client.call(
                .post, "/api/v1/email-templates", key: key,
                json: ["name": "T", "subject": "Hello {{candidate.firstName}}", "body": "The {{ job.title }} role at {{client.name}}. }} stays."])
            #expect(good.status == .created, "\(good.text)")
            let broken = try await client.call(.patch, "/api/v1/email-templates/\(good.id)", key: key, json: ["body": "Dear {{candidate.firstName"])
            Self.expectFieldError(broken, "body", containing: "line 1, column 6")
            #expect(try await client.call(.patch, "/api/v1/email-templates/\(good.id)", key: key, json: ["name": "Renamed"]).status == .ok)
        }
    }
}
