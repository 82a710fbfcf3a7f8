import ATSApp
import ATSBlob
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

/// The routes over the job tier and the work it runs: the admin's queue figures and the
/// export's download link, with two organizations side by side.
@Suite("Job and export routes")
struct WorkRouteTests {
    struct Setup: Sendable {
        let store: SQLiteStore
        let jobs: SQLiteJobQueue
        let work: WorkDependencies
        let folder: URL
        /// Admin keys by slug.
        let keys: [String: String]
        let organizations: [String: String]
    }

    static func withWork(_ body: @Sendable (Setup, any TestClientProtocol) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-work-http-\(UUID().uuidString)")
        let configuration = try Configuration(flags: ["ATS_DATA": folder.path], environment: [:])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try Appliance.openStore(configuration, logger: logger, server: true)
        let jobs = try Appliance.openJobs(store: store, logger: logger)
        let blobs = try FileBlobStore(configuration: .init(root: folder.appendingPathComponent("blobs").path), logger: logger)
        let fileWork = FileDependencies(blobs: blobs, catalog: store, maxBytes: 8 << 20, graceSeconds: 3600, taxonomy: nil)
        let files = FileServices(
            blobs: blobs, catalog: store, maxBytes: 8 << 20, presignSeconds: 900,
            ingest: DocumentIngest(store: store, files: fileWork, logger: logger))
        var keys: [String: String] = [:]
        var organizations: [String: String] = [:]
        for slug in ["acme", "globex"] {
            organizations[slug] = try await Administration.createOrganization(store, slug: slug, name: slug.capitalized).id
            keys[slug] = try await Administration.createToken(store, organization: slug, role: .admin, name: "test")
        }
        let work = WorkDependencies(store: store, jobs: jobs, dataDirectory: folder.path, logger: logger, files: fileWork)
        let router = APIRouter.build(
            store: store, configuration: GatewayConfiguration(rateLimit: .init(ratePerSecond: 0, burst: 0)),
            registry: PrometheusCollectorRegistry(), work: work, files: files)
        let setup = Setup(store: store, jobs: jobs, work: work, folder: folder, keys: keys, organizations: organizations)
        try await Application(router: router).test(.router) { client in try await body(setup, client) }
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("The admin's job figures count their own organization's jobs only")
    func statsPerOrganization() async throws {
        try await Self.withWork { setup, client in
            let acme = try #require(setup.organizations["acme"])
            let globex = try #require(setup.organizations["globex"])
            let past = Date().addingTimeInterval(-600)
            // Globex: three waiting analytics jobs, the oldest ten minutes old, and a dead email.
            for _ in 0..<3 {
                _ = try await setup.jobs.enqueue(JobRequest(queue: JobQueues.analytics, type: "t", runAt: past, organizationID: globex))
            }
            _ = try await setup.jobs.enqueue(JobRequest(queue: JobQueues.emails, type: "t", runAt: past, maxAttempts: 1, organizationID: globex))
            let claimed = try #require(try await setup.jobs.claim(queue: JobQueues.emails, worker: "w", lease: .seconds(30), now: Date()))
            _ = try await setup.jobs.fail(id: claimed.id, attempt: claimed.attempts, error: "boom", retryAt: nil, now: Date())
            // Acme: one waiting analytics job, just enqueued.
            _ = try await setup.jobs.enqueue(JobRequest(queue: JobQueues.analytics, type: "t", organizationID: acme))

            func figures(_ slug: String) async throws -> [String: JSONObject] {
                let reply = try await client.call(.get, "/api/v1/admin/jobs/stats", key: setup.keys[slug])
                #expect(reply.status == .ok, "\(reply.text)")
                var byQueue: [String: JSONObject] = [:]
                for item in reply.items { byQueue[item["queue"]?.stringValue ?? ""] = item }
                return byQueue
            }
            let ours = try await figures("acme")
            let analytics = try #require(ours[JobQueues.analytics])
            let counts = analytics["counts"]?.objectValue ?? [:]
            #expect((counts["queued"]?.intValue ?? 0) + (counts["scheduled"]?.intValue ?? 0) == 1, "\(analytics)")
            #expect((analytics["oldestWaitSeconds"]?.doubleValue ?? 0) < 300, "globex's ten-minute wait is not acme's")
            #expect(ours[JobQueues.emails]?["counts"]?.objectValue?["dead"] == 0, "globex's dead letter is not acme's")
            // Nothing else is counted for acme.
            let total = ours.values.reduce(0) { sum, item in
                sum + (item["counts"]?.objectValue?.values.reduce(0) { $0 + Int($1.intValue ?? 0) } ?? 0)
            }
            #expect(total == 1, "\(ours)")

            let theirs = try await figures("globex")
            #expect(theirs[JobQueues.emails]?["counts"]?.objectValue?["dead"] == 1)
            #expect((theirs[JobQueues.analytics]?["oldestWaitSeconds"]?.doubleValue ?? 0) > 500)
        }
    }

    @Test("An export's downloadUrl lives as long as the export is kept: a week, not ATS_PRESIGN_SECONDS")
    func exportLinkLivesAWeek() async throws {
        try await Self.withWork { setup, client in
            let key = try #require(setup.keys["acme"])
            #expect(try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "Ada", "lastName": "Lovelace"]).status == .created)
            let started = try await client.call(.post, "/api/v1/exports", key: key, json: ["kind": "candidates", "format": "csv"])
            #expect(started.status == .accepted, "\(started.text)")
            // Run the export as the runner would.
            let job = try #require(try await setup.jobs.claim(queue: JobQueues.exports, worker: "test", lease: .seconds(60), now: Date()))
            #expect(job.id == started.id)
            let handler = try #require(Work.handlers(setup.work).first { $0.type == job.type })
            let result = try await handler.run(job, context: JobContext(logger: Logger(label: "test")) { _ in true })
            #expect(try await setup.jobs.complete(id: job.id, attempt: job.attempts, result: result, now: Date()))

            let status = try await client.call(.get, "/api/v1/exports/\(job.id)", key: key)
            #expect(status.status == .ok, "\(status.text)")
            let url = try #require(status.json["downloadUrl"]?.stringValue)
            let expiresAt = try #require(status.json["downloadExpiresAt"]?.stringValue.flatMap(Timestamp.parse))
            let week: TimeInterval = 7 * 86_400
            #expect(abs(expiresAt.timeIntervalSinceNow - week) < 120, "\(expiresAt)")
            let expires = URLComponents(string: url)?.queryItems?.first { $0.name == "X-Amz-Expires" }?.value.flatMap(Int.init) ?? 0
            #expect(expires > 604_000 && expires <= 604_800, "\(url)")
            // The link works without the API key.
            let components = try #require(URLComponents(string: url))
            let fetched = try await client.execute(
                uri: components.percentEncodedPath + "?" + (components.percentEncodedQuery ?? ""), method: .get, headers: [:]
            ) { $0 }
            #expect(fetched.status == .ok)
            #expect(String(buffer: fetched.body).contains("Lovelace"))
        }
    }
}
