import ATSApp
import ATSDomain
import ATSHTTP
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Testing

@Suite("Auth, roles and the gateway")
struct GatewayTests {
    @Test("Missing, unknown and revoked credentials get 401")
    func credentials() async throws {
        try await withAgency { agency, client in
            #expect(try await client.call(.get, "/api/v1/candidates", key: nil).status == .unauthorized)
            #expect(try await client.call(.get, "/api/v1/candidates", key: "ats_key_nope").status == .unauthorized)
            let created = try await client.call(.post, "/api/v1/api-keys", key: agency.key(), json: ["name": "ci", "role": "viewer"])
            #expect(created.status == .created)
            let secret = try #require(created.json["key"]?.stringValue)
            #expect(try await client.call(.get, "/api/v1/candidates", key: secret).status == .ok)
            let listed = try await client.call(.get, "/api/v1/api-keys/\(created.id)", key: agency.key())
            #expect(listed.json["key"] == nil, "the secret is shown once only")
            #expect(try await client.call(.delete, "/api/v1/api-keys/\(created.id)", key: agency.key()).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/candidates", key: secret).status == .unauthorized)
        }
    }

    @Test("Roles are enforced on every kind of route")
    func roles() async throws {
        try await withAgency(withUsers: true) { agency, client in
            let viewer = agency.key("acme", .viewer)
            let manager = agency.key("acme", .hiringManager)
            let recruiter = agency.key("acme", .recruiter)
            #expect(try await client.call(.get, "/api/v1/candidates", key: viewer).status == .ok)
            #expect(try await client.call(.post, "/api/v1/candidates", key: viewer, json: ["firstName": "A", "lastName": "B"]).status == .forbidden)
            #expect(try await client.call(.post, "/api/v1/candidates", key: manager, json: ["firstName": "A", "lastName": "B"]).status == .forbidden)
            #expect(try await client.call(.post, "/api/v1/candidates", key: recruiter, json: ["firstName": "A", "lastName": "B"]).status == .created)
            #expect(try await client.call(.post, "/api/v1/users", key: recruiter, json: ["email": "x@acme.example", "name": "X", "role": "viewer"]).status == .forbidden)
            #expect(try await client.call(.get, "/api/v1/api-keys", key: recruiter).status == .forbidden)
            #expect(try await client.call(.get, "/api/v1/audit-log", key: recruiter).status == .forbidden)
            #expect(try await client.call(.patch, "/api/v1/organization", key: recruiter, json: ["name": "X"]).status == .forbidden)

            // A hiring manager signs in and writes notes and feedback on their own jobs only.
            let login = try await client.call(
                .post, "/api/v1/auth/login", key: nil,
                json: ["organization": "acme", "email": "hiring_manager@acme.example", "password": "password-hiring_manager"])
            #expect(login.status == .ok, "\(login.text)")
            let session = try #require(login.json["token"]?.stringValue)
            let managerID = try #require(agency.users["acme"]?[.hiringManager]?.id)
            let ids = try await seedPipeline(client, key: recruiter)
            let application = try await client.call(.post, "/api/v1/applications", key: recruiter, json: ["candidateId": .string(ids.candidate), "jobId": .string(ids.job)])
            let interview = try await client.call(.post, "/api/v1/interviews", key: recruiter, json: ["applicationId": .string(application.id), "scheduledAt": "2026-12-02T09:00:00Z"])
            #expect(try await client.call(.post, "/api/v1/jobs/\(ids.job)/notes", key: session, json: ["body": "x"]).status == .forbidden)
            #expect(try await client.call(.patch, "/api/v1/interviews/\(interview.id)", key: session, json: ["feedback": "good"]).status == .forbidden)
            let named = try await client.call(.patch, "/api/v1/jobs/\(ids.job)", key: recruiter, json: ["hiringManagerIds": [.string(managerID)]])
            #expect(named.status == .ok, "\(named.text)")
            #expect(try await client.call(.post, "/api/v1/jobs/\(ids.job)/notes", key: session, json: ["body": "x"]).status == .created)
            #expect(try await client.call(.post, "/api/v1/candidates/\(ids.candidate)/notes", key: session, json: ["body": "y"]).status == .created)
            let feedback = try await client.call(.patch, "/api/v1/interviews/\(interview.id)", key: session, json: ["feedback": "good", "rating": 4])
            #expect(feedback.status == .ok, "\(feedback.text)")
            #expect(try await client.call(.patch, "/api/v1/interviews/\(interview.id)", key: session, json: ["scheduledAt": "2026-12-03T09:00:00Z"]).status == .forbidden)
            let note = try await client.call(.post, "/api/v1/notes", key: session, json: ["body": "z", "jobId": .string(ids.job)])
            #expect(note.json["authorId"]?.stringValue == managerID)

            let me = try await client.call(.get, "/api/v1/auth/me", key: session)
            #expect(me.json["role"] == "hiring_manager")
            #expect(try await client.call(.post, "/api/v1/auth/logout", key: session).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/auth/me", key: session).status == .unauthorized)
        }
    }

    @Test("Sign-in failures do not say which part was wrong")
    func loginFailures() async throws {
        try await withAgency(withUsers: true) { agency, client in
            for body: JSONObject in [
                ["organization": "acme", "email": "admin@acme.example", "password": "wrong-password"],
                ["organization": "acme", "email": "nobody@acme.example", "password": "password-admin"],
                ["organization": "nowhere", "email": "admin@acme.example", "password": "password-admin"],
            ] {
                let reply = try await client.call(.post, "/api/v1/auth/login", key: nil, json: body)
                #expect(reply.status == .unauthorized)
                #expect(reply.problemType == "/problems/invalid-credentials")
            }
            let users = try await client.call(.post, "/api/v1/users", key: agency.key(), json: ["email": "new@acme.example", "name": "New", "role": "recruiter"])
            #expect(users.status == .created)
            #expect((users.json["password"]?.stringValue?.count ?? 0) >= 8, "a generated password is returned once")
            let again = try await client.call(.post, "/api/v1/users", key: agency.key(), json: ["email": "NEW@acme.example", "name": "New", "role": "recruiter"])
            #expect(again.status == .conflict)
        }
    }

    @Test("Rate limits answer 429 with Retry-After")
    func rateLimit() async throws {
        try await withAgency(rateLimit: .init(ratePerSecond: 1, burst: 3)) { agency, client in
            var statuses: [HTTPResponse.Status] = []
            var retryAfter: String?
            for _ in 0..<5 {
                let reply = try await client.call(.get, "/api/v1/candidates", key: agency.key())
                statuses.append(reply.status)
                if reply.status == .tooManyRequests { retryAfter = reply.headers[.retryAfter] }
            }
            #expect(statuses.prefix(3).allSatisfy { $0 == .ok })
            #expect(statuses.last == .tooManyRequests)
            #expect(retryAfter != nil)
        }
    }

    @Test("Every response carries a request id; a client's own id is kept")
    func requestID() async throws {
        try await withAgency { _, client in
            let reply = try await client.execute(uri: "/healthz", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "abc-123"]) { $0 }
            #expect(reply.headers[HTTPField.Name("X-Request-Id")!] == "abc-123")
            let other = try await client.call(.get, "/healthz", key: nil)
            #expect(other.headers[HTTPField.Name("X-Request-Id")!]?.count == 26)
        }
    }

    @Test("The OpenAPI document lists every route, and every listed route is served")
    func openAPI() async throws {
        try await withAgency { agency, client in
            let document = try await client.call(.get, "/openapi.json", key: nil)
            #expect(document.json["openapi"] == "3.1.0")
            let routes = APIRouter.documentedRoutes(document.json)
            #expect(routes.count > 70)
            for route in routes {
                let parts = route.split(separator: " ")
                let method = HTTPRequest.Method(String(parts[0]))!
                let path = parts[1].replacingOccurrences(of: "{id}", with: Identifier.make())
                let reply = try await client.call(method, path, key: nil, raw: method == .get || method == .delete ? nil : "{}")
                #expect(reply.problemType != "/problems/no-route", "\(route) is documented but not routed")
            }
            // Conversely: no route answers without being documented.
            for kind in EntityKind.allCases {
                #expect(routes.contains("GET /api/v1/\(kind.pathSegment)/{id}"))
                #expect(routes.contains("PATCH /api/v1/\(kind.pathSegment)/{id}"))
            }
        }
    }

    @Test("Metrics count requests by route template, never by raw path")
    func metrics() async throws {
        try await withAgency { agency, client in
            let ids = try await seedPipeline(client, key: agency.key())
            _ = try await client.call(.get, "/api/v1/candidates/\(ids.candidate)", key: agency.key())
            // The test client has no address; /metrics answers loopback peers only.
            #expect(try await client.call(.get, "/metrics", key: nil).status == .forbidden)
            let scraper = APIRouter.build(store: agency.served, configuration: GatewayConfiguration(), registry: agency.registry)
            let text = try await EdgeRouterTests.send(scraper, .get, "/metrics", peer: "127.0.0.1").text
            #expect(text.contains("ats_http_requests_total{route=\"/api/v1/candidates/{id}\",method=\"GET\",status=\"200\"}"))
            #expect(text.contains("ats_http_request_duration_seconds_bucket"))
            #expect(text.contains("ats_store_readers"))
            #expect(!text.contains(ids.candidate))
        }
    }

    @Test("Health, readiness")
    func operations() async throws {
        try await withAgency { _, client in
            let health = try await client.call(.get, "/healthz", key: nil)
            #expect(health.json["status"] == "ok")
            let ready = try await client.call(.get, "/readyz", key: nil)
            #expect(ready.json["status"] == "ready")
        }
    }
}

@Suite("Live socket")
struct LiveServerTests {
    @Test("The appliance serves over a real socket and shuts down cleanly")
    func live() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ats-live-\(UUID().uuidString)")
        let configuration = try Configuration(flags: ["ATS_DATA": directory.path, "ATS_PORT": "0"], environment: [:])
        var logger = Logger(label: "live")
        logger.logLevel = .critical
        let store = try Appliance.openStore(configuration, logger: logger)
        _ = try await Administration.createOrganization(store, slug: "live", name: "Live")
        let key = try await Administration.createToken(store, organization: "live", role: .admin, name: "t")
        let app = Appliance.makeApplication(configuration, store: store, registry: PrometheusCollectorRegistry(), logger: logger)
        try await app.test(.live) { client in
            let created = try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "Live", "lastName": "Socket"])
            #expect(created.status == .created)
            let read = try await client.call(.get, "/api/v1/candidates/\(created.id)", key: key)
            #expect(read.json["lastName"] == "Socket")
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
