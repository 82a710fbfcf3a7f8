import ATSDomain
import ATSStore
import ATSTelemetry
import ATSWork
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus
import Tracing

/// Builds the appliance's router: operational endpoints, the JSON API and its OpenAPI document.
/// A library entry point, so tests drive the same router the server runs.
public enum APIRouter {
    /// `tracer` gives every request its server span and the admin view its traces (nil: no
    /// spans). `scrapeHooks` refresh other tiers' figures in `registry` before each `/metrics`.
    /// `readinessChecks` add not-ready reasons to `/readyz` (nil: ready), e.g. replication lag;
    /// `middleware` runs inside the gateway's, before every route (e.g. a standby's write gate).
    public static func build(
        store: any Store, configuration: GatewayConfiguration, registry: PrometheusCollectorRegistry,
        work: WorkDependencies? = nil, tracer: ApplianceTracer? = nil, files: FileServices? = nil,
        scrapeHooks: [@Sendable () -> Void] = [], readinessChecks: [@Sendable () async -> String?] = [],
        middleware: [any MiddlewareProtocol<Request, Response, ATSRequestContext>] = []
    ) -> Router<ATSRequestContext> {
        let metrics = HTTPMetrics(registry: registry, scrapeHooks: scrapeHooks)
        let gateway = Gateway(store: store, configuration: configuration, metrics: metrics, work: work, traces: tracer, files: files)
        let router = Router(context: ATSRequestContext.self)
        // Upload routes and their limits are known before any route is added: the middleware
        // must be in place first, since it applies only to routes added after it.
        let fileLimit = files.map { Int(clamping: $0.maxBytes) }
        let uploadLimit: @Sendable (String) -> Int? = { path in
            // The S3 surface answers its own 413 in S3's XML, which S3 clients parse.
            if path == "/s3" || path.hasPrefix("/s3/") { return Int.max }
            return APIRouter.uploadLimit(path: path, fileLimit: fileLimit)
        }
        router.add(
            middleware: GatewayMiddleware(
                metrics: metrics, limiter: gateway.limiter, maxBodyBytes: configuration.maxBodyBytes,
                trustedProxies: configuration.trustedProxies, uploadLimit: uploadLimit,
                tracer: tracer.map { $0 as any Tracer } ?? NoOpTracer()))
        for extra in middleware { router.add(middleware: extra) }
        let table = RouteTable(router: router, gateway: gateway)
        table.addEntityRoutes()
        table.addWorkflowRoutes()
        table.addAccountRoutes()
        table.addJobRoutes()
        table.addEmailRoutes()
        table.addExportRoutes()
        table.addAnalyticsRoutes()
        table.addTraceRoutes()
        table.addSearchRoutes()
        table.addDocumentRoutes()
        table.addS3Routes()
        table.addOperationalRoutes(metrics: metrics, readinessChecks: readinessChecks)
        return router
    }

    /// The body limit of routes that take more than `ATS_MAX_BODY_BYTES` (uploads), by path;
    /// nil for every other route. `fileLimit` is the file tier's limit (nil: no file tier).
    public static func uploadLimit(path: String, fileLimit: Int?) -> Int? {
        if path == "/api/v1/imports/candidates" { return ImportOptions.maxUploadBytes }
        guard let fileLimit else { return nil }
        if path == "/s3" || path.hasPrefix("/s3/") || path.hasPrefix("/files/") { return fileLimit }
        // Multipart bodies carry a little framing beside the file.
        if path.hasSuffix("/documents") || path == "/api/v1/candidates/from-cv" { return fileLimit + 65536 }
        return nil
    }

    /// Every documented route as `METHOD /path/{param}`, for tests that compare the router with the document.
    public static func documentedRoutes(_ document: JSONObject) -> [String] {
        guard let paths = document["paths"]?.objectValue else { return [] }
        return paths.flatMap { path, item in (item.objectValue ?? [:]).keys.map { "\($0.uppercased()) \(path)" } }.sorted()
    }
}

extension RouteTable {
    func addOperationalRoutes(metrics: HTTPMetrics, readinessChecks: [@Sendable () async -> String?] = []) {
        let gateway = self.gateway
        add(
            Operation(
                method: .get, path: "/healthz", operationID: "health", summary: "The process is up.", tag: "operations",
                access: .open, success: (200, JSONSchema.strict(["status": JSONSchema.string], required: ["status"]), "application/json")
            ) { _, _ in
                gateway.json(["status": "ok"])
            })
        add(
            Operation(
                method: .get, path: "/readyz", operationID: "ready",
                summary: "The store answers and its migrations are applied.", tag: "operations", access: .open,
                success: (200, JSONSchema.strict(["status": JSONSchema.string], required: ["status"]), "application/json"),
                errors: [503]
            ) { _, _ in
                let readiness = await gateway.store.readiness()
                guard readiness.isReady else {
                    let detail = readiness.reachable
                        ? "Migrations pending: \(readiness.pendingMigrations.joined(separator: ", "))."
                        : "The store does not answer."
                    throw Problem(.serviceUnavailable, "not-ready", "Not ready", detail: detail, headers: [.retryAfter: "1"])
                }
                for check in readinessChecks {
                    if let reason = await check() {
                        throw Problem(.serviceUnavailable, "not-ready", "Not ready", detail: reason, headers: [.retryAfter: "1"])
                    }
                }
                return gateway.json(["status": "ready"])
            })
        add(
            Operation(
                method: .get, path: "/metrics", operationID: "metrics", summary: "Prometheus text exposition.",
                tag: "operations", access: .open, success: (200, JSONSchema.string, "text/plain"), errors: [401, 403]
            ) { request, context in
                try Self.checkMetricsAccess(request, context: context, configuration: gateway.configuration)
                let bytes = metrics.render(store: gateway.store.figures)
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            })
        // The document is built once, after every route is in the table: it cannot miss one.
        let documentBox = DocumentBox()
        add(
            Operation(
                method: .get, path: "/openapi.json", operationID: "openapi", summary: "This API's OpenAPI 3.1 document.",
                tag: "operations", access: .open, success: (200, .object(["type": "object"]), "application/json")
            ) { _, _ in
                gateway.json(documentBox.text)
            })
        documentBox.text = JSONCoding.encode(
            OpenAPIDocument.build(
                operations: operations, extraSchemas: Self.workflowSchemas + Self.accountSchemas + Self.jobSchemas + Self.traceSchemas
                    + Self.searchSchemas))
    }
}

/// Holds the rendered document; written once during router construction, before serving.
final class DocumentBox: @unchecked Sendable {
    var text = "{}"
}

extension RouteTable {
    /// `/metrics` names routes, volumes and internals: with a token configured it needs the
    /// token; without one, only this machine may read it (a loopback peer that is not a local
    /// proxy forwarding someone else), unless `ATS_METRICS_PUBLIC` opens it.
    static func checkMetricsAccess(_ request: Request, context: ATSRequestContext, configuration: GatewayConfiguration) throws {
        if let token = configuration.metricsToken {
            guard let header = request.headers[.authorization], Self.constantTimeEquals(header, "Bearer \(token)") else {
                throw Problem.unauthorized
            }
            return
        }
        if configuration.metricsPublic { return }
        let forwarded = request.headers[.xForwardedFor] != nil || request.headers[HTTPField.Name("Forwarded")!] != nil
        guard !forwarded, ConnectionGuard.isLoopback(context.remoteAddress) else {
            throw Problem.forbidden(
                "Metrics answer only this machine; set ATS_METRICS_TOKEN to read them from elsewhere with a bearer token.")
        }
    }

    /// Compares secrets without an early exit that would time the first difference.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
