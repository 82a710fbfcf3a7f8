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

/// The search routes as a client calls them, on the appliance's own composition.
@Suite("Search API")
struct SearchRouteTests {
    struct Setup: @unchecked Sendable {
        let store: SQLiteStore
        let search: SearchService
        let router: Router<ATSRequestContext>
        let folder: URL
        let keys: [String: String]
        let organizations: [String: String]
    }

    static func setUp() async throws -> Setup {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-search-http-\(UUID().uuidString)")
        let configuration = try Configuration(flags: ["ATS_DATA": folder.path], environment: [:])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try Appliance.openStore(configuration, logger: logger, server: true)
        let jobs = try Appliance.openJobs(store: store, logger: logger)
        Appliance.followWrites(store: store, jobs: jobs)
        let search = try Appliance.makeSearch(configuration, store: store, served: store, cache: nil, logger: logger)
        var keys: [String: String] = [:]
        var organizations: [String: String] = [:]
        for slug in ["acme", "globex"] {
            organizations[slug] = try await Administration.createOrganization(store, slug: slug, name: slug.capitalized).id
            keys[slug] = try await Administration.createToken(store, organization: slug, role: .admin, name: "test")
        }
        let work = WorkDependencies(store: store, jobs: jobs, dataDirectory: folder.path, logger: logger, search: search)
        let router = APIRouter.build(
            store: store, configuration: GatewayConfiguration(rateLimit: .init(ratePerSecond: 0, burst: 0)),
            registry: PrometheusCollectorRegistry(), work: work)
        return Setup(store: store, search: search, router: router, folder: folder, keys: keys, organizations: organizations)
    }

    func withSearch(_ body: @Sendable (Setup, any TestClientProtocol) async throws -> Void) async throws {
        let setup = try await Self.setUp()
        try await Application(router: setup.router).test(.router) { client in try await body(setup, client) }
        try? FileManager.default.removeItem(at: setup.folder)
    }

    @Test func findsWithTyposFiltersAndExplains() async throws {
        try await withSearch { setup, client in
            let key = setup.keys["acme"]!
            for (first, last, title, skills, status) in [
                ("Ada", "Pythonista", "Backend Engineer", ["Python", "Django"], "active"),
                ("Bo", "Javanen", "Java Engineer", ["Java", "Kafka"], "active"),
                ("Cy", "Passiva", "Python Engineer", ["Python"], "passive"),
            ] {
                let reply = try await client.call(
                    .post, "/api/v1/candidates", key: key,
                    json: ["firstName": .string(first), "lastName": .string(last), "currentTitle": .string(title),
                           "programmingLanguages": .array(skills.map(JSONValue.string)), "status": .string(status)])
                #expect(reply.status == .created, "\(reply.text)")
            }
            // Nothing is searchable before the sync job ran; then everything is.
            try await setup.search.sync(jobs: nil)
            let found = try await client.call(.get, "/api/v1/search/candidates?q=pyhton&explain=true&facets=true", key: key)
            #expect(found.status == .ok, "\(found.text)")
            let hits = found.json["hits"]?.arrayValue?.compactMap(\.objectValue) ?? []
            let names = hits.compactMap { $0["document"]?.objectValue?["lastName"]?.stringValue }
            #expect(Set(names) == ["Pythonista", "Passiva"], "\(found.text)")
            #expect(hits.first?["explain"]?.objectValue?["keyword"]?.objectValue?["rank"] != nil)
            #expect(found.json["facets"]?.objectValue?["status"] != nil)

            // Form encoding: `+` is a space, so two words are two terms (not one phrase).
            let form = try await client.call(.get, "/api/v1/search/candidates?q=python+django&semantic=0", key: key)
            #expect(form.json["hits"]?.arrayValue?.count == 1, "\(form.text)")
            let filtered = try await client.call(.get, "/api/v1/search/candidates?q=python&status=active&semantic=0", key: key)
            let filteredNames = filtered.json["hits"]?.arrayValue?.compactMap { $0.objectValue?["document"]?.objectValue?["lastName"]?.stringValue }
            #expect(filteredNames == ["Pythonista"], "\(filtered.text)")

            // A write shows up in the next search once its sync ran (no stale cached result).
            _ = try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "Dee", "lastName": "Zyxwvut"])
            try await setup.search.sync(jobs: nil)
            let fresh = try await client.call(.get, "/api/v1/search/candidates?q=zyxwvut", key: key)
            #expect(fresh.json["hits"]?.arrayValue?.count == 1, "\(fresh.text)")

            // Another organization sees none of it.
            let other = try await client.call(.get, "/api/v1/search/candidates?q=python", key: setup.keys["globex"]!)
            #expect(other.json["hits"]?.arrayValue?.isEmpty == true)
            let suggestions = try await client.call(.get, "/api/v1/search/suggest?q=Pyth", key: key)
            #expect(suggestions.status == .ok, "\(suggestions.text)")
            let foreign = try await client.call(.get, "/api/v1/search/suggest?q=Pyth", key: setup.keys["globex"]!)
            #expect(foreign.items.isEmpty, "\(foreign.text)")
        }
    }

    @Test func keywordResultsPagePastTheFirstHundred() async throws {
        try await withSearch { setup, client in
            let key = setup.keys["acme"]!
            for index in 0..<130 {
                let reply = try await client.call(
                    .post, "/api/v1/candidates", key: key,
                    json: ["firstName": .string("Pager\(index)"), "lastName": "Quokkason", "currentTitle": "Quokka wrangler"])
                #expect(reply.status == .created)
            }
            try await setup.search.sync(jobs: nil)
            var seen = Set<String>()
            for offset in stride(from: 0, to: 140, by: 50) {
                for semantic in ["0", "0.3"] {
                    let page = try await client.call(
                        .get, "/api/v1/search/candidates?q=quokkason&limit=50&offset=\(offset)&semantic=\(semantic)", key: key)
                    #expect(page.status == .ok)
                    #expect(page.json["total"]?.intValue == 130, "\(page.json["total"] ?? .null)")
                    let ids = page.json["hits"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } ?? []
                    #expect(ids.count == min(50, 130 - offset), "offset \(offset) semantic \(semantic): \(ids.count)")
                    if semantic == "0" { seen.formUnion(ids) }
                }
            }
            #expect(seen.count == 130, "every hit once across the pages")
        }
    }

    /// Every search surface organization B can call, as raw response bodies.
    static func observe(_ client: any TestClientProtocol, key: String, job: String) async throws -> [String] {
        var bodies: [String] = []
        for q in ["zyph", "zyphorine", "zyphorinx", "alphafirst9", "alphafirs", "quixotrelis", "engineer", "pyhton+engineer", ""] {
            for path in ["/api/v1/search/candidates", "/api/v1/search/jobs"] {
                for extra in ["&semantic=0", "&explain=true&facets=true", "&facets=true&status=active&semantic=0"] {
                    let reply = try await client.call(.get, "\(path)?q=\(q)\(extra)", key: key)
                    #expect(reply.status == .ok, "\(reply.text)")
                    bodies.append("\(path)?q=\(q)\(extra) -> \(reply.text)")
                }
            }
        }
        for q in ["zyph", "zyphorinx", "alphafirst9", "quixotrelis", "eng", "pyth"] {
            bodies.append(try await client.call(.get, "/api/v1/search/suggest?q=\(q)&limit=50", key: key).text)
        }
        bodies.append(try await client.call(.get, "/api/v1/jobs/\(job)/matches?limit=100", key: key).text)
        return bodies
    }

    @Test func anotherOrganizationsWordsNeverChangeAnAnswer() async throws {
        try await withSearch { setup, client in
            let a = setup.keys["acme"]!
            let b = setup.keys["globex"]!
            // Given globex's own candidates and job.
            for (first, last, title, skills, summary) in [
                ("Bea", "Keller", "Python Engineer", ["Python", "Django"], "Data engineer building pipelines."),
                ("Ben", "Huber", "Java Engineer", ["Java"], "Backend engineer; some python."),
                ("Bo", "Zypher", "Engineering Manager", ["Go"], "Leads engineers."),
            ] {
                let reply = try await client.call(
                    .post, "/api/v1/candidates", key: b,
                    json: ["firstName": .string(first), "lastName": .string(last), "currentTitle": .string(title),
                           "programmingLanguages": .array(skills.map(JSONValue.string)), "summary": .string(summary),
                           "status": "active"])
                #expect(reply.status == .created, "\(reply.text)")
            }
            let company = try await client.call(.post, "/api/v1/clients", key: b, json: ["name": "Globex Engineering"])
            let job = try await client.call(
                .post, "/api/v1/jobs", key: b,
                json: ["clientId": .string(company.id), "title": "Python Engineer", "status": "active",
                       "requiredSkills": ["Python"], "description": "An engineer for data pipelines."])
            #expect(job.status == .created, "\(job.text)")
            try await setup.search.sync(jobs: nil)
            let before = try await Self.observe(client, key: b, job: job.id)

            // When acme plants distinctive and shared words.
            var planted: [String] = []
            for n in 1...6 {
                let reply = try await client.call(
                    .post, "/api/v1/candidates", key: a,
                    json: ["firstName": "Zyphorine", "lastName": .string("Alphafirst\(n % 4 + 1)"), "currentTitle": "Python Engineer",
                           "programmingLanguages": ["Python"], "summary": "Confidential: quixotrellis engineer engineer.",
                           "status": "active"])
                #expect(reply.status == .created, "\(reply.text)")
                planted.append(reply.id)
            }
            let theirs = try await client.call(.post, "/api/v1/clients", key: a, json: ["name": "Alphafirst2 Zyphorine"])
            _ = try await client.call(
                .post, "/api/v1/jobs", key: a,
                json: ["clientId": .string(theirs.id), "title": "Zyphorine Engineer", "status": "active",
                       "requiredSkills": ["Python"], "description": "quixotrellis engineer"])
            try await setup.search.sync(jobs: nil)
            let found = try await client.call(.get, "/api/v1/search/candidates?q=alphafirst9&semantic=0", key: a)
            #expect(found.json["corrections"]?.objectValue?["alphafirst9"] != nil, "acme's own words correct: \(found.text)")

            // Then globex's every answer is byte for byte what it was, and stays so after acme deletes.
            let planting = try await Self.observe(client, key: b, job: job.id)
            for (old, new) in zip(before, planting) where old != new { Issue.record("moved: \(old)\nto: \(new)") }
            for id in planted {
                #expect(try await client.call(.delete, "/api/v1/candidates/\(id)", key: a).status == .noContent)
            }
            try await setup.search.sync(jobs: nil)
            let removing = try await Self.observe(client, key: b, job: job.id)
            for (old, new) in zip(before, removing) where old != new { Issue.record("moved: \(old)\nto: \(new)") }
        }
    }

    @Test func badQueriesGetProblemsNeverServerErrors() async throws {
        try await withSearch { setup, client in
            let key = setup.keys["acme"]!
            _ = try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "Ada", "lastName": "Lovelace"])
            try await setup.search.sync(jobs: nil)
            let long = String(repeating: "a", count: 10_000)
            let tooLong = try await client.call(.get, "/api/v1/search/candidates?q=\(long)", key: key)
            #expect(tooLong.status == .badRequest && tooLong.problemType?.hasSuffix("query-too-long") == true, "\(tooLong.text)")
            for query in [
                "((ada", "ada))", "AND", "OR OR", "NOT", "-", "\"", "\"ada", "ada*", "*", "NEAR(ada lovelace)",
                "firstName:ada", "^ada", "+ada", "ada %00 lovelace", "%01%02", "ada\u{7}", "'; DROP TABLE candidates; --",
                "ada AND (lovelace OR", ")(", "{ada}", "ada NEAR/3 lovelace",
            ] {
                let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let reply = try await client.call(.get, "/api/v1/search/candidates?q=\(encoded)", key: key)
                #expect(reply.status == .ok || reply.status == .badRequest, "\(query): \(reply.status) \(reply.text)")
                #expect(!reply.text.lowercased().contains("fts5"), "\(query): \(reply.text)")
            }
            for parameters in ["semantic=2", "semantic=x", "limit=0", "limit=101", "offset=-1", "availableBy=tomorrow", "job=nope", "explain=maybe", "minExperience=-3"] {
                let reply = try await client.call(.get, "/api/v1/search/candidates?q=ada&\(parameters)", key: key)
                #expect(reply.status == .badRequest, "\(parameters): \(reply.text)")
            }
            let unknown = try await client.call(.get, "/api/v1/jobs/\(Identifier.make())/matches", key: key)
            #expect(unknown.status == .notFound)
            let malformed = try await client.call(.get, "/api/v1/candidates/nope/matches", key: key)
            #expect(malformed.status == .badRequest)
        }
    }
}
