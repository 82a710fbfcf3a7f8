import ATSDomain
import ATSHTTP
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
    /// Opens (creating the data folder if needed) and migrates the store.
    public static func openStore(_ configuration: Configuration, logger: Logger) throws -> SQLiteStore {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let store = try SQLiteStore(
            path: configuration.databasePath,
            configuration: SQLiteStore.Configuration(readers: configuration.storeReaders),
            logger: logger)
        try store.migrate()
        return store
    }

    public static func gatewayConfiguration(_ configuration: Configuration) -> GatewayConfiguration {
        GatewayConfiguration(
            rateLimit: RateLimiter.Configuration(
                ratePerSecond: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst),
            maxBodyBytes: configuration.maxBodyBytes,
            sessionTTL: .seconds(configuration.sessionTTLHours * 3600),
            metricsToken: configuration.metricsToken,
            trustedProxies: configuration.trustedProxies)
    }

    /// The HTTP application over `store`; `onRunning` gets the bound port (useful with port 0).
    public static func makeApplication(
        _ configuration: Configuration, store: any Store, registry: PrometheusCollectorRegistry, logger: Logger,
        work: WorkDependencies? = nil, services: [any Service] = [],
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = APIRouter.build(
            store: store, configuration: gatewayConfiguration(configuration), registry: registry, work: work)
        return Application(
            router: router,
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
        let registry = PrometheusCollectorRegistry()
        let jobs = try openJobs(store: store, logger: logger)
        let work = workDependencies(configuration, store: store, jobs: jobs, logger: logger)
        let (runner, cron) = try workServices(configuration, jobs: jobs, work: work, registry: registry, logger: logger)
        // Services stop in reverse order: the server drains first, then the scheduler, then the
        // workers finish their jobs, and the store closes last.
        let app = makeApplication(
            configuration, store: store, registry: registry, logger: logger, work: work,
            services: [store, runner, cron], onRunning: onRunning)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}
