import ATSCache
import ATSDomain
import ATSHTTP
import ATSJobs
import ATSTelemetry
import ATSStore
import ATSWork
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Composition: turns a `Configuration` into the tiers and the services that run them.
/// The one place that knows which implementation of each tier is in use.
public enum Appliance {
    /// Opens (creating the data folder if needed) and migrates the store. Every process but the
    /// server marks its writes, so the server's cache learns of them (`CachedStore`).
    public static func openStore(_ configuration: Configuration, logger: Logger, server: Bool = false) throws -> SQLiteStore {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let store = try SQLiteStore(
            path: configuration.databasePath,
            configuration: SQLiteStore.Configuration(readers: configuration.storeReaders, marksWrites: !server),
            logger: logger)
        try store.migrate()
        if !server {
            // A process writing beside the server: its writes enqueue the index sync too.
            let jobs = SQLiteJobQueue(pool: store.pool, logger: logger)
            try jobs.migrate()
            followWrites(store: store, jobs: jobs)
        }
        return store
    }

    public static func gatewayConfiguration(_ configuration: Configuration) -> GatewayConfiguration {
        GatewayConfiguration(
            rateLimit: RateLimiter.Configuration(
                ratePerSecond: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst),
            maxBodyBytes: configuration.maxBodyBytes,
            sessionTTL: .seconds(configuration.sessionTTLHours * 3600),
            metricsToken: configuration.metricsToken,
            trustedProxies: configuration.trustedProxies,
            metricsPublic: configuration.metricsPublic,
            matchRateLimit: RateLimiter.Configuration(
                ratePerSecond: configuration.matchRateLimitPerSecond, burst: max(1, 5 * configuration.matchRateLimitPerSecond)))
    }

    /// The tracer the configuration asks for: sampled at `ATS_TRACE_SAMPLE` (0: spans that
    /// record nothing), exporting to `ATS_OTLP_ENDPOINT` or to JSON-lines files in DATA/traces.
    public static func makeTracer(_ configuration: Configuration, logger: Logger) -> ApplianceTracer {
        var trace = TraceConfiguration()
        trace.serviceName = "ats"
        trace.sampleRatio = configuration.traceSampleRatio
        trace.enabled = configuration.traceSampleRatio > 0
        trace.endpoint = configuration.otlpEndpoint
        trace.directory = configuration.otlpEndpoint == nil ? configuration.tracesDirectory : nil
        return ApplianceTracer(configuration: trace, logger: logger)
    }

    /// The cache the configuration asks for; nil when `ATS_CACHE_MAX_MB` is 0.
    public static func makeCache(_ configuration: Configuration) -> MemoryCache? {
        guard configuration.cacheMaxBytes > 0 else { return nil }
        return MemoryCache(configuration: .init(maxBytes: configuration.cacheMaxBytes))
    }

    /// The store the server's handlers and jobs use: `store` behind the cache, with a span for
    /// each call; the store itself when the cache is off.
    public static func serverStore(
        _ configuration: Configuration, store: SQLiteStore, cache: (any Cache)?, tracer: ApplianceTracer, logger: Logger
    ) -> (any Store, CachedStore?) {
        guard let cache else { return (store, nil) }
        let cached = CachedStore(
            base: store, cache: cache, ttl: configuration.cacheTTL, tracer: tracer,
            changeMark: { try await store.changeMark() }, logger: logger)
        return (cached, cached)
    }

    /// The HTTP application over `store`; `onRunning` gets the bound port (useful with port 0).
    public static func makeApplication(
        _ configuration: Configuration, store: any Store, registry: PrometheusCollectorRegistry, logger: Logger,
        work: WorkDependencies? = nil, tracer: ApplianceTracer? = nil, cache: (any Cache)? = nil,
        files: FileServices? = nil, services: [any Service] = [],
        scrapeHooks: [@Sendable () -> Void] = [], readinessChecks: [@Sendable () async -> String?] = [],
        middleware: [any MiddlewareProtocol<Request, Response, ATSRequestContext>] = [],
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var hooks: [@Sendable () -> Void] = []
        if let cache { hooks.append(ObservabilityMetrics.cacheHook(cache, registry: registry)) }
        if let tracer { hooks.append(ObservabilityMetrics.traceHook(tracer, registry: registry)) }
        if let search = work?.search { hooks.append(ObservabilityMetrics.searchHook(search, registry: registry)) }
        if let files { hooks.append(ObservabilityMetrics.blobHook(files.blobs, registry: registry)) }
        let connections = ConnectionGuard(configuration: configuration.connectionGuard, registry: registry)
        hooks.append { connections.refreshMetrics() }
        let router = APIRouter.build(
            store: store, configuration: gatewayConfiguration(configuration), registry: registry, work: work,
            tracer: tracer, files: files, scrapeHooks: hooks + scrapeHooks, readinessChecks: readinessChecks,
            middleware: middleware)
        let maxBody = configuration.maxBodyBytes
        let fileLimit = files.map { Int(clamping: $0.maxBytes) }
        // `Expect: 100-continue` (S3 clients send it on every PUT) is answered at once, or
        // refused with the final 413 when the declared body is over the route's limit.
        let expect: ExpectContinueHandler.Limit = { path in APIRouter.uploadLimit(path: path, fileLimit: fileLimit) ?? maxBody }
        // Each connection's guard comes first, next to the codec: it sees every request part
        // and every parse error before anything else does (caps, timeouts, problem answers).
        return Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [connections.makeHandler(), ExpectContinueHandler(limit: expect)],
                    httpDecoderConfiguration: connections.decoderConfiguration)),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "ats"),
            services: services,
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }

    /// Runs the server until SIGTERM or SIGINT: in-flight requests finish, then the store closes.
    public static func serve(
        _ configuration: Configuration, store: SQLiteStore, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        raiseFileLimit(logger: logger)
        let registry = PrometheusCollectorRegistry()
        // Replication (or the plain checkpointer: the server owns checkpoints either way).
        let replica = try replicaComposition(configuration, store: store, registry: registry, logger: logger)
        let tracer = makeTracer(configuration, logger: logger)
        let cache = makeCache(configuration)
        let (served, cachedStore) = serverStore(configuration, store: store, cache: cache, tracer: tracer, logger: logger)
        let jobs = try openJobs(store: store, logger: logger, tracer: tracer)
        followWrites(store: store, jobs: jobs)
        // The search tier reads the store itself, not through the cache: its sync runs right
        // after a write commits, before the cache has been told of it.
        let search = try makeSearch(
            configuration, store: store, served: store, cache: cache,
            epoch: { [cachedStore] in cachedStore?.epoch ?? 0 }, tracer: tracer, logger: logger)
        let files = try makeFiles(configuration, store: store, served: served, logger: logger, tracer: tracer)
        var work = workDependencies(
            configuration, store: served, jobs: jobs, logger: logger, tracer: tracer, search: search, files: files.work)
        // A full disk: writes answer 507, /readyz 503 until space is back, files are collected early.
        let storage = makeStorageMonitor(configuration, store: store, jobs: jobs, files: files.work, logger: logger)
        work.storage = storage
        let (runner, cron) = try workServices(
            configuration, jobs: jobs, work: work, registry: registry, logger: logger, tracer: tracer)
        // Services stop in reverse order: the server drains first, then the scheduler, then the
        // workers finish their jobs, the store closes, and the tracer flushes the last spans.
        // The replicator stops after the workers, before the store: its final sync ships their last writes.
        var services: [any Service] = [tracer, store] + replica.services + [SearchKeeper(search: search, jobs: jobs, logger: logger)]
        services.append(MemoryTrimmer(logger: logger))
        if let cachedStore { services.append(cachedStore) }
        services += [runner, cron]
        services.append(StorageKeeper(monitor: storage))
        let app = makeApplication(
            configuration, store: served, registry: registry, logger: logger, work: work, tracer: tracer,
            cache: cache, files: files.gateway, services: services,
            scrapeHooks: replica.scrapeHooks + [storageHook(storage, registry: registry)],
            readinessChecks: [{ storage.readiness() }] + replica.readinessChecks, onRunning: onRunning)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        withExtendedLifetime(replica.lock) {}
    }

    /// Raises the soft limit on open files to the hard limit: every connection holds one, and
    /// the default soft limit (often 1024) is far below the connection caps.
    static func raiseFileLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let before = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.info("raised the open-file limit", metadata: ["from": "\(before)", "to": "\(limit.rlim_max)"])
        } else {
            logger.warning("could not raise the open-file limit", metadata: ["limit": "\(before)"])
        }
    }
}
