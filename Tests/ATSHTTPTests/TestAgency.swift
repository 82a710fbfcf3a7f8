import ATSApp
import ATSBlob
import ATSDemo
import ATSDocuments
import ATSCache
import ATSDomain
import ATSHTTP
import ATSStore
import ATSTelemetry
import ATSWork
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing

/// A fresh store in a temporary folder with two organizations and a key per role in each.
/// The router runs as the server does: behind the cache, every request traced.
struct TestAgency {
    let store: SQLiteStore
    let directory: URL
    let registry = PrometheusCollectorRegistry()
    let cache: MemoryCache
    let tracer: ApplianceTracer
    /// What the router reads and writes through: `store` behind `cache`.
    let served: CachedStore
    /// The file tier: blobs in `directory/blobs`, the store as their catalog, 8 MiB files at most.
    let files: FileServices
    /// keys[org][role]
    var keys: [String: [Role: String]] = [:]
    var users: [String: [Role: User]] = [:]
    var sessions: [String: [Role: String]] = [:]

    static func make(
        rateLimit: RateLimiter.Configuration = .init(ratePerSecond: 0, burst: 0), withUsers: Bool = false
    ) async throws -> (TestAgency, Router<ATSRequestContext>) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ats-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try SQLiteStore(path: directory.appendingPathComponent("ats.sqlite").path, logger: logger)
        try store.migrate()
        var trace = TraceConfiguration()
        trace.sampleRatio = 1
        trace.directory = directory.appendingPathComponent("traces").path
        let tracer = ApplianceTracer(configuration: trace, logger: logger)
        let cache = MemoryCache(configuration: .init(maxBytes: 16 << 20))
        let served = CachedStore(
            base: store, cache: cache, ttl: .seconds(300), tracer: tracer,
            changeMark: { try await store.changeMark() }, logger: logger)
        let blobs = try FileBlobStore(
            configuration: .init(root: directory.appendingPathComponent("blobs").path), logger: logger)
        let taxonomy = try ReferenceData.locate().map { try CVTaxonomy(referenceDirectory: $0.path) }
        let fileWork = FileDependencies(blobs: blobs, catalog: store, maxBytes: 8 << 20, graceSeconds: 3600, taxonomy: taxonomy)
        let files = FileServices(
            blobs: blobs, catalog: store, maxBytes: 8 << 20, presignSeconds: 900,
            ingest: DocumentIngest(store: served, files: fileWork, logger: logger))
        var agency = TestAgency(store: store, directory: directory, cache: cache, tracer: tracer, served: served, files: files)
        for slug in ["acme", "globex"] {
            _ = try await Administration.createOrganization(store, slug: slug, name: slug.capitalized)
            for role in Role.allCases {
                agency.keys[slug, default: [:]][role] = try await Administration.createToken(store, organization: slug, role: role, name: "test")
                // bcrypt is slow in debug builds: only tests about users pay for them.
                guard withUsers, slug == "acme" else { continue }
                let (user, _) = try await Administration.createUser(
                    store, organization: slug, email: "\(role.rawValue)@\(slug).example", name: "\(role.rawValue) user", role: role,
                    password: "password-\(role.rawValue)")
                agency.users[slug, default: [:]][role] = user
            }
        }
        let router = APIRouter.build(
            store: served, configuration: GatewayConfiguration(rateLimit: rateLimit, maxBodyBytes: 64 * 1024),
            registry: agency.registry, tracer: tracer, files: files)
        return (agency, router)
    }

    func key(_ org: String = "acme", _ role: Role = .admin) -> String { keys[org]![role]! }
}

/// A JSON response, decoded.
struct Reply {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: JSONObject { JSONCoding.decodeObject(Array(text.utf8)) ?? [:] }
    var items: [JSONObject] { json["items"]?.arrayValue?.compactMap(\.objectValue) ?? [] }
    var id: String { json["id"]?.stringValue ?? "" }
    var problemType: String? { json["type"]?.stringValue }
}

extension TestClientProtocol {
    /// Sends a request with a bearer key and an optional JSON body.
    func call(_ method: HTTPRequest.Method, _ uri: String, key: String?, json: JSONObject? = nil, raw: String? = nil) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        var body: ByteBuffer?
        if let json { body = ByteBuffer(string: JSONCoding.encode(json)) }
        if let raw { body = ByteBuffer(string: raw) }
        if body != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }
}

func withAgency(
    rateLimit: RateLimiter.Configuration = .init(ratePerSecond: 0, burst: 0), withUsers: Bool = false,
    _ body: @Sendable (TestAgency, any TestClientProtocol) async throws -> Void
) async throws {
    let (agency, router) = try await TestAgency.make(rateLimit: rateLimit, withUsers: withUsers)
    let app = Application(router: router)
    try await app.test(.router) { client in
        try await body(agency, client)
    }
    try? FileManager.default.removeItem(at: agency.directory)
}

/// Creates a client, a job and a candidate in `org`; returns their ids.
func seedPipeline(_ client: any TestClientProtocol, key: String) async throws -> (client: String, job: String, candidate: String) {
    let company = try await client.call(.post, "/api/v1/clients", key: key, json: ["name": "Initech"])
    #expect(company.status == .created, "\(company.text)")
    let job = try await client.call(
        .post, "/api/v1/jobs", key: key,
        json: ["clientId": .string(company.id), "title": "Backend Engineer", "status": "active", "pipelineStages": ["Sourced", "Screening", "Interview", "Offer", "Hired"]])
    #expect(job.status == .created, "\(job.text)")
    let candidate = try await client.call(
        .post, "/api/v1/candidates", key: key,
        json: ["firstName": "Ada", "lastName": "Lovelace", "email": "ada-\(UUID().uuidString.prefix(8))@example.com", "technicalSkills": ["Swift", "SQL"]])
    #expect(candidate.status == .created, "\(candidate.text)")
    return (company.id, job.id, candidate.id)
}
