import ATSDomain
import ATSStore
import ATSTelemetry
import ATSWork
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Settings of the HTTP gateway.
public struct GatewayConfiguration: Sendable, Hashable {
    /// Per API key / user, and separately per client address.
    public var rateLimit: RateLimiter.Configuration
    /// Largest accepted request body, in bytes (413 above).
    public var maxBodyBytes: Int
    /// How long a login session lasts.
    public var sessionTTL: Duration
    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    public var metricsToken: String?
    /// Peers (a reverse proxy on the VM) whose `X-Forwarded-For` names the real client, for
    /// the per-address rate limit. Empty: the TCP peer is the client.
    public var trustedProxies: Set<String>
    /// Without `metricsToken`, `/metrics` answers only loopback peers that sent no
    /// `X-Forwarded-For` (a proxy on the VM forwards outside callers), unless this is true.
    public var metricsPublic: Bool
    /// Per API key / user, for matching only: each call scores hundreds of candidates, so a
    /// viewer's key must not turn it into a cheap way to load the CPU.
    public var matchRateLimit: RateLimiter.Configuration

    public init(
        rateLimit: RateLimiter.Configuration = .init(), maxBodyBytes: Int = 1_048_576,
        sessionTTL: Duration = .seconds(12 * 3600), metricsToken: String? = nil, trustedProxies: Set<String> = [],
        metricsPublic: Bool = false,
        matchRateLimit: RateLimiter.Configuration = .init(ratePerSecond: 2, burst: 10)
    ) {
        self.matchRateLimit = matchRateLimit
        self.trustedProxies = trustedProxies
        self.metricsPublic = metricsPublic
        self.rateLimit = rateLimit
        self.maxBodyBytes = maxBodyBytes
        self.sessionTTL = sessionTTL
        self.metricsToken = metricsToken
    }
}

/// What every handler shares: the store, authentication, limits and response helpers.
final class Gateway: Sendable {
    let store: any Store
    let authenticator: Authenticator
    let limiter: RateLimiter
    /// Matching's own, stricter buckets (same keys as `limiter`).
    let matchLimiter: RateLimiter
    let configuration: GatewayConfiguration
    let metrics: HTTPMetrics
    /// The job queue and what the agency work needs; nil in tests of the API alone, where the
    /// routes that enqueue work answer 503.
    let work: WorkDependencies?
    /// The tracer's memory of recent traces, for the admin view; nil when tracing is not set up.
    let traces: ApplianceTracer?
    /// The file tier (blobs, their catalog, presigning); nil where the process runs without it
    /// (its routes answer 503).
    let files: FileServices?

    init(
        store: any Store, configuration: GatewayConfiguration, metrics: HTTPMetrics, work: WorkDependencies? = nil,
        traces: ApplianceTracer? = nil, files: FileServices? = nil
    ) {
        self.store = store
        self.files = files
        self.work = work
        self.traces = traces
        self.authenticator = Authenticator(store: store)
        self.limiter = RateLimiter(configuration: configuration.rateLimit)
        self.matchLimiter = RateLimiter(configuration: configuration.matchRateLimit)
        self.configuration = configuration
        self.metrics = metrics
    }

    /// The caller's principal with at least `minimum` role; 401, 403 or 429 otherwise.
    func authenticate(_ request: Request, context: ATSRequestContext, minimum: Role) async throws -> Principal {
        guard let header = request.headers[.authorization] else { throw Problem.unauthorized }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer",
            let principal = try await authenticator.principal(token: String(parts[1]).trimmingCharacters(in: .whitespaces))
        else {
            throw Problem(
                .unauthorized, "invalid-token", "Invalid credentials",
                detail: "The bearer token is unknown, expired or revoked.", headers: [.wwwAuthenticate: "Bearer"])
        }
        if let wait = limiter.take(principal.rateLimitKey) {
            throw Problem.tooManyRequests(retryAfter: wait)
        }
        guard principal.role >= minimum else {
            throw Problem.forbidden("This needs the \(minimum.rawValue) role or higher; yours is \(principal.role.rawValue).")
        }
        return principal
    }

    // MARK: Request helpers

    /// The body as a JSON object: 400 for malformed JSON or another JSON type, 413 over the limit.
    func jsonObject(_ request: Request) async throws -> JSONObject {
        let buffer = try await body(request)
        guard buffer.readableBytes > 0 else {
            throw Problem.badRequest("malformed-json", "The request needs a JSON object body.")
        }
        let value: JSONValue
        do {
            value = try JSONText.parse(buffer.readableBytesView)
        } catch {
            throw Problem.badRequest("malformed-json", "The body is not valid JSON: \(error.description).")
        }
        guard let object = value.objectValue else {
            throw Problem.badRequest("malformed-json", "The body must be a JSON object, not \(value.typeName).")
        }
        return object
    }

    func body(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Problem.tooLarge(limit: configuration.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            // A chunked body has no length to check up front: it fails here, past the limit.
            throw Problem.tooLarge(limit: configuration.maxBodyBytes)
        }
    }

    /// The `{id}` path parameter: 400 when it is not an id at all.
    func id(_ context: ATSRequestContext, _ name: String = "id") throws -> String {
        guard let raw = context.parameters.get(name), let id = Identifier.canonical(raw) else {
            throw Problem.badRequest("invalid-id", "`\(name)` is not a valid id (26 characters, ULID).")
        }
        return id
    }

    func principal(_ context: ATSRequestContext) throws -> Principal {
        guard let principal = context.principal else { throw Problem.unauthorized }
        return principal
    }

    func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func json(_ object: JSONObject, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        json(JSONCoding.encode(object), status: status, headers: headers)
    }

    /// `{"items":[...],"nextCursor":...}` from documents that are already JSON text, written
    /// straight into one buffer (a page of 50 candidates is ~90 KB: no intermediate string).
    func page(_ documents: [String], next: Cursor?) -> Response {
        var buffer = ByteBufferAllocator().buffer(capacity: documents.reduce(64) { $0 + $1.utf8.count + 1 })
        buffer.writeStaticString("{\"items\":[")
        for (index, document) in documents.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            buffer.writeString(document)
        }
        buffer.writeStaticString("],\"nextCursor\":")
        if let next { buffer.writeString("\"\(next.encoded)\"") } else { buffer.writeStaticString("null") }
        buffer.writeStaticString("}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }

    func noContent() -> Response { Response(status: .noContent) }

    /// The work dependencies, or 503 when this server runs without the job tier.
    func requireWork() throws -> WorkDependencies {
        guard let work else {
            throw Problem(.serviceUnavailable, "jobs-unavailable", "Jobs unavailable", detail: "This server runs without the job tier.")
        }
        return work
    }
}

/// Query-string parsing with problem answers for bad values.
struct QueryReader {
    let parameters: [String: String]

    init(_ request: Request) {
        var parameters: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            parameters[String(key)] = String(value)
        }
        self.parameters = parameters
    }

    subscript(_ name: String) -> String? { parameters[name] }

    func page() throws -> PageRequest {
        var limit = PageRequest.defaultLimit
        if let raw = parameters["limit"] {
            guard let value = Int(raw), (1...PageRequest.maxLimit).contains(value) else {
                throw Problem.badRequest("invalid-parameter", "`limit` must be an integer from 1 to \(PageRequest.maxLimit).")
            }
            limit = value
        }
        var cursor: Cursor?
        if let raw = parameters["cursor"], !raw.isEmpty {
            guard let value = Cursor(encoded: raw) else {
                throw Problem.badRequest("invalid-cursor", "`cursor` is not a cursor this API returned.")
            }
            cursor = value
        }
        return PageRequest(limit: limit, cursor: cursor)
    }

    func bool(_ name: String) throws -> Bool? {
        guard let raw = parameters[name] else { return nil }
        switch raw.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw Problem.badRequest("invalid-parameter", "`\(name)` must be true or false.")
        }
    }

    func id(_ name: String) throws -> String? {
        guard let raw = parameters[name] else { return nil }
        guard let id = Identifier.canonical(raw) else {
            throw Problem.badRequest("invalid-parameter", "`\(name)` must be an id.")
        }
        return id
    }
}
