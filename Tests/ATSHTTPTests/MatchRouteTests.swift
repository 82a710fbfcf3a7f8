import ATSApp
import ATSDomain
import ATSHTTP
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Testing

/// The matching routes: their own, stricter rate limit per key (a viewer must not turn them
/// into a cheap way to load the CPU), the response's shape, and tenancy.
@Suite("Match API")
struct MatchRouteTests {
    struct Setup: @unchecked Sendable {
        let search: SearchService
        let router: Router<ATSRequestContext>
        let folder: URL
        /// keys[org][role]
        let keys: [String: [Role: String]]
    }

    static func setUp(matchRate: RateLimiter.Configuration) async throws -> Setup {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-match-http-\(UUID().uuidString)")
        let configuration = try Configuration(flags: ["ATS_DATA": folder.path], environment: [:])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try Appliance.openStore(configuration, logger: logger, server: true)
        let jobs = try Appliance.openJobs(store: store, logger: logger)
        Appliance.followWrites(store: store, jobs: jobs)
        let search = try Appliance.makeSearch(configuration, store: store, served: store, cache: nil, logger: logger)
        var keys: [String: [Role: String]] = [:]
        for slug in ["acme", "globex"] {
            _ = try await Administration.createOrganization(store, slug: slug, name: slug.capitalized)
            for role in [Role.admin, .viewer] {
                keys[slug, default: [:]][role] = try await Administration.createToken(store, organization: slug, role: role, name: "test")
            }
        }
        let work = WorkDependencies(store: store, jobs: jobs, dataDirectory: folder.path, logger: logger, search: search)
        let router = APIRouter.build(
            store: store,
            configuration: GatewayConfiguration(rateLimit: .init(ratePerSecond: 0, burst: 0), matchRateLimit: matchRate),
            registry: PrometheusCollectorRegistry(), work: work)
        return Setup(search: search, router: router, folder: folder, keys: keys)
    }

    func withMatches(rate: RateLimiter.Configuration, _ body: @Sendable (Setup, any TestClientProtocol) async throws -> Void) async throws {
        let setup = try await Self.setUp(matchRate: rate)
        try await Application(router: setup.router).test(.router) { client in try await body(setup, client) }
        try? FileManager.default.removeItem(at: setup.folder)
    }

    /// A client, an SRE job and two candidates (one with every required skill, one with none).
    static func seed(_ client: any TestClientProtocol, key: String) async throws -> (job: String, best: String, none: String) {
        let company = try await client.call(.post, "/api/v1/clients", key: key, json: ["name": "Helvetia Cloud"])
        let job = try await client.call(
            .post, "/api/v1/jobs", key: key,
            json: ["clientId": .string(company.id), "title": "Site Reliability Engineer", "status": "active",
                   "requiredSkills": ["Kubernetes", "Terraform", "Go"]])
        #expect(job.status == .created, "\(job.text)")
        let best = try await client.call(
            .post, "/api/v1/candidates", key: key,
            json: ["firstName": "Priyanka", "lastName": "Raghunathan", "currentTitle": "Site Reliability Engineer",
                   "technicalSkills": ["Kubernetes", "Terraform"], "programmingLanguages": ["Go"], "experienceYears": 6])
        let none = try await client.call(
            .post, "/api/v1/candidates", key: key,
            json: ["firstName": "Quentin", "lastName": "Sansskills", "currentTitle": "Site Reliability Engineer", "experienceYears": 6])
        return (job.id, best.id, none.id)
    }

    @Test func aViewerBeyondTheMatchRateGets429WhileOtherRoutesStillAnswer() async throws {
        // 1 per second, a burst of 3: the fourth call in a row is over, however slow the machine
        // (a refill needs a whole second between two calls).
        try await withMatches(rate: .init(ratePerSecond: 1, burst: 3)) { setup, client in
            let admin = setup.keys["acme"]![.admin]!
            let viewer = setup.keys["acme"]![.viewer]!
            let (job, _, _) = try await Self.seed(client, key: admin)
            try await setup.search.sync(jobs: nil)
            var statuses: [HTTPResponse.Status] = []
            var limited: Reply?
            for _ in 0..<8 {
                let reply = try await client.call(.get, "/api/v1/jobs/\(job)/matches", key: viewer)
                statuses.append(reply.status)
                if reply.status == .tooManyRequests { limited = reply; break }
            }
            let reply = try #require(limited, "no 429 in \(statuses)")
            #expect(statuses.first == .ok, "\(statuses)")
            #expect(reply.headers[.contentType]?.hasPrefix("application/problem+json") == true)
            #expect(reply.problemType?.hasSuffix("rate-limited") == true, "\(reply.text)")
            #expect(Int(reply.headers[.retryAfter] ?? "").map { $0 >= 1 } == true, "\(reply.headers)")
            // The same key still reads and searches; another key still matches.
            #expect(try await client.call(.get, "/api/v1/jobs/\(job)", key: viewer).status == .ok)
            #expect(try await client.call(.get, "/api/v1/search/candidates?q=kubernetes", key: viewer).status == .ok)
            #expect(try await client.call(.get, "/api/v1/jobs/\(job)/matches", key: admin).status == .ok)
        }
    }

    @Test func theResponseKeepsItsShapeAndItsOrganization() async throws {
        try await withMatches(rate: .init(ratePerSecond: 0, burst: 0)) { setup, client in
            let admin = setup.keys["acme"]![.admin]!
            let (job, best, none) = try await Self.seed(client, key: admin)
            try await setup.search.sync(jobs: nil)
            let reply = try await client.call(.get, "/api/v1/jobs/\(job)/matches?limit=10", key: setup.keys["acme"]![.viewer]!)
            #expect(reply.status == .ok, "\(reply.text)")
            let items = reply.items
            #expect(items.first?["id"]?.stringValue == best, "\(reply.text)")
            let first = try #require(items.first)
            #expect(Set(first.keys) == ["id", "score", "candidate", "reasons"])
            #expect(first["candidate"]?.objectValue?["lastName"]?.stringValue == "Raghunathan")
            let reasons = try #require(first["reasons"]?.objectValue)
            #expect(Set(reasons.keys) == ["skillsMet", "skillsMissing", "seniority", "location", "languages", "similarity"])
            #expect(Set(reasons["skillsMet"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ["Kubernetes", "Terraform", "Go"])
            if let index = items.firstIndex(where: { $0["id"]?.stringValue == none }) {
                #expect(index > 0)
                #expect((items[index]["score"]?.intValue ?? 100) < (first["score"]?.intValue ?? 0))
            }
            // Another organization's job answers as a missing one does.
            let other = try await client.call(.get, "/api/v1/jobs/\(job)/matches", key: setup.keys["globex"]![.admin]!)
            let missing = try await client.call(.get, "/api/v1/jobs/\(Identifier.make())/matches", key: setup.keys["globex"]![.admin]!)
            #expect(other.status == .notFound && missing.status == .notFound)
            #expect(other.problemType == missing.problemType)
        }
    }
}
