import ATSHTTP
import ATSJobs
import ATSReplica
import ATSSearch
import ATSStore
import ATSVector
import ATSWork
import Foundation
import GRDB
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The warm standby (`ats serve --standby TARGET`, issue 7): a local copy of the primary's
/// database and files kept restored from its replica (`StandbyFollower`), served read-only.
///
/// Nothing but the follower may change the copy: the store is opened without migrations, its
/// writer connection runs `PRAGMA query_only = 1` (the follower writes pages under the pool's
/// barrier, not through SQL), no job runner, scheduler or index keeper runs, and every
/// request that could write answers 503 before it reaches a route (`ReplicaStandbyGate`).
/// `ats promote` (or a new generation on the target, which needs a fresh copy) ends the round:
/// the HTTP server stops gracefully and the caller starts again, as the primary or as a
/// standby on the fresh copy.
extension Appliance {
    /// How a standby's serving ended.
    public enum StandbyOutcome: Sendable, Equatable {
        /// SIGTERM/SIGINT.
        case stopped
        /// `ats promote`: the data folder is a primary now; serve it as one.
        case promoted
    }

    /// True when this configuration starts a standby: `ATS_STANDBY_FROM` is set and the data
    /// folder was not promoted since.
    public static func startsAsStandby(_ configuration: Configuration) -> Bool {
        configuration.standbySource != nil && !FileManager.default.fileExists(atPath: configuration.promotedMarkerPath)
    }

    /// Serves the standby until a signal or a promotion; restarts its store on the fresh copy
    /// a new generation of the primary needs.
    public static func serveStandby(
        _ configuration: Configuration, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> StandbyOutcome {
        guard let source = configuration.standbySource else { return .promoted }
        let target = try replicaTarget(source, setting: "ATS_STANDBY_FROM")
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let control = ReplicaControl(dataDirectory: configuration.dataDirectory)
        let lock: ReplicaControlLock
        do {
            lock = try control.lock(exclusive: true)
        } catch let error as ReplicaControlError {
            throw ConfigurationError(error.description)
        }
        defer { withExtendedLifetime(lock) {} }
        while true {
            logger.info("standby: preparing the local copy", metadata: ["target": "\(target)"])
            let preparation = try await prepareStandby(target: target, configuration: configuration, logger: logger)
            if preparation == .promoted { return .promoted }
            switch try await serveStandbyRound(configuration, target: target, control: control, logger: logger, onRunning: onRunning) {
            case .stopped: return .stopped
            case .promoted: return .promoted
            case .reopen: continue
            }
        }
    }

    /// `StandbyFollower.prepare`, retried until it works: the primary may not have put its first
    /// snapshot yet, or the replica folder may be unreachable for a while.
    static func prepareStandby(
        target: FileReplicaTarget, configuration: Configuration, logger: Logger
    ) async throws -> StandbyPreparation {
        var lastMessage: String?
        while true {
            do {
                return try await StandbyFollower.prepare(target: target, dataDirectory: configuration.dataDirectory, logger: logger)
            } catch {
                let message = describeReplicaFailure(error)
                if message != lastMessage {
                    logger.warning("standby: no copy yet; retrying every 2 s", metadata: ["error": "\(message)"])
                    lastMessage = message
                }
                try await Task.sleep(for: .seconds(2))
            }
        }
    }

    /// How one round of standby serving ended.
    enum StandbyRoundEnd: Sendable { case stopped, promoted, reopen }

    /// One store, one follower, one HTTP server, until a signal, a promotion or a reopen.
    static func serveStandbyRound(
        _ configuration: Configuration, target: FileReplicaTarget, control: ReplicaControl, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) async throws -> StandbyRoundEnd {
        let store = try openStandbyStore(configuration, logger: logger)
        let end = StandbyRoundSignal()
        let follower = StandbyFollower(
            target: target, pool: store.pool,
            configuration: .init(dataDirectory: configuration.dataDirectory, syncInterval: configuration.replicaSyncInterval),
            logger: logger, onReopen: { end.finish(.reopen) })
        let registry = PrometheusCollectorRegistry()
        let tracer = makeTracer(configuration, logger: logger)
        let jobs = SQLiteJobQueue(pool: store.pool, logger: logger, tracer: tracer)
        let search = standbySearch(configuration, store: store, logger: logger)
        let files = try makeFiles(configuration, store: store, served: store, logger: logger)
        let work = workDependencies(
            configuration, store: store, jobs: jobs, logger: logger, tracer: tracer, search: search, files: files.work)
        let controlService = ReplicaControlService(control: control, logger: logger) { command in
            switch command {
            case .promote:
                return await promoteRunning(follower, logger: logger, end: end)
            case .snapshot:
                return .init(ok: false, message: "this server is a standby: snapshots are taken by the primary (run ats snapshot there)")
            case .verify:
                return .init(ok: false, message: "this server is a standby: run ats verify on the primary")
            }
        }
        let maxLag = configuration.replicaMaxLagSeconds
        let services: [any Service] = [tracer, store, StandbyFollowerService(follower: follower, end: end), controlService]
        let app = makeApplication(
            configuration, store: store, registry: registry, logger: logger, work: work, tracer: tracer,
            files: files.gateway, services: services,
            scrapeHooks: [ReplicaMetrics.standbyHook(follower, registry: registry)],
            readinessChecks: [
                {
                    let status = follower.status
                    if let error = status.lastError { return "This standby cannot follow its replica: \(error)." }
                    if status.needsReopen || status.promoted { return "This standby is restarting." }
                    guard status.lagSeconds > maxLag else { return nil }
                    return "This standby lags its replica by \(Int(status.lagSeconds)) s, more than ATS_REPLICA_MAX_LAG_SECONDS=\(ReplicaMetrics.format(maxLag))."
                }
            ],
            middleware: [ReplicaStandbyGate()],
            onRunning: onRunning)
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: app),
                    .init(service: StandbyRoundWatcher(end: end), successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        return end.outcome ?? .stopped
    }

    /// The standby's store: no migrations, and its writer refuses SQL writes.
    static func openStandbyStore(_ configuration: Configuration, logger: Logger) throws -> SQLiteStore {
        try primeWAL(databasePath: configuration.databasePath)
        let store = try SQLiteStore(
            path: configuration.databasePath,
            configuration: SQLiteStore.Configuration(readers: configuration.storeReaders), logger: logger)
        try store.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = 1") }
        return store
    }

    /// Gives an empty WAL a header (no frames: still an empty log). GRDB, opening a pool on a
    /// database whose WAL is missing or empty, writes a throwaway transaction to create it
    /// (GRDB issue 102); on a standby that write would change the copy under the follower
    /// (which would then see local frames and start over, forever).
    static func primeWAL(databasePath: String) throws {
        let walPath = databasePath + "-wal"
        let size = (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? NSNumber)?.intValue ?? 0
        guard size == 0, let handle = FileHandle(forReadingAtPath: databasePath) else { return }
        let header = (try? handle.read(upToCount: 100)) ?? Data()
        try? handle.close()
        guard header.count >= 18 else { return }
        let raw = Int(header[16]) << 8 | Int(header[17])
        let pageSize = raw == 1 ? 65536 : raw
        var salts = SystemRandomNumberGenerator()
        // magic (big-endian checksums), format 3007000, page size, checkpoint sequence, salts.
        var words: [UInt32] = [0x377f_0683, 3_007_000, UInt32(pageSize), 0, salts.next(), salts.next()]
        var s0: UInt32 = 0
        var s1: UInt32 = 0
        for pair in stride(from: 0, to: 6, by: 2) {
            s0 = s0 &+ words[pair] &+ s1
            s1 = s1 &+ words[pair + 1] &+ s0
        }
        words += [s0, s1]
        var bytes: [UInt8] = []
        for word in words { bytes += [UInt8(word >> 24), UInt8(word >> 16 & 0xff), UInt8(word >> 8 & 0xff), UInt8(word & 0xff)] }
        try Data(bytes).write(to: URL(fileURLWithPath: walPath))
    }

    /// Search over the standby's copy: the same service as the primary's, without migrations
    /// (the copy has them) and without a result cache (the copy changes under it).
    static func standbySearch(_ configuration: Configuration, store: SQLiteStore, logger: Logger) -> SearchService? {
        let references = references(configuration)
        let embedder = makeEmbedder(configuration, references: references)
        var parameters = HNSWIndex.Parameters()
        parameters.m = Int(configuration["ATS_HNSW_M"]) ?? parameters.m
        parameters.efConstruction = Int(configuration["ATS_HNSW_EF_CONSTRUCTION"]) ?? parameters.efConstruction
        parameters.efSearch = Int(configuration["ATS_HNSW_EF_SEARCH"]) ?? parameters.efSearch
        let vectors = VectorStore(
            pool: store.pool, model: embedder.identifier, dimensions: embedder.dimensions,
            settings: VectorStore.Settings(
                threshold: Int(configuration["ATS_HNSW_THRESHOLD"]) ?? 20_000, parameters: parameters, directory: nil),
            logger: logger)
        return SearchService(
            store: store, pool: store.pool, index: SQLiteSearchIndex(pool: store.pool, logger: logger), embedder: embedder,
            vectors: vectors, references: references, cache: nil, logger: logger)
    }

    /// `ats promote` on a running standby: catches up with what the target holds (a few
    /// seconds at most), stops following, marks the folder promoted, and ends the round.
    static func promoteRunning(_ follower: StandbyFollower, logger: Logger, end: StandbyRoundSignal) async -> ReplicaControl.Answer {
        let note = await catchUp(follower, logger: logger)
        do {
            try await follower.promote()
        } catch {
            return .init(ok: false, message: "promotion failed: \(describeReplicaFailure(error))")
        }
        end.finish(.promoted)
        let status = follower.status
        return .init(
            ok: true,
            message: "Promoted at txn \(status.txn) of generation \(status.generation ?? "-")\(note): the server restarts as the primary")
    }

    /// Applies what the target holds until up to date (bounded); a note when it could not.
    static func catchUp(_ follower: StandbyFollower, logger: Logger, limit: Duration = .seconds(30)) async -> String {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            do {
                switch try await follower.poll() {
                case .upToDate, .promoted: return ""
                case .needsReopen: return " (the replica had moved to a new generation; the local copy was kept)"
                case .applied: continue
                }
            } catch {
                // The primary's replica may be gone with the primary: promote what is here.
                logger.warning("standby: could not catch up before promotion", metadata: ["error": "\(describeReplicaFailure(error))"])
                return " (could not read the replica, promoted the local copy: \(describeReplicaFailure(error)))"
            }
        }
        return " (still catching up after \(limit.components.seconds) s; promoted what was applied)"
    }

    /// `ats promote`: through the running standby, or here when no server runs.
    public static func promoteCommand(
        _ configuration: Configuration, timeout: Duration, logger: Logger, progress: @escaping @Sendable (String) -> Void
    ) async throws -> ReplicaCommandResult {
        let control = ReplicaControl(dataDirectory: configuration.dataDirectory)
        switch control.holder() {
        case .owner:
            let answer = try await control.send(.promote, timeout: timeout, progress: progress)
            return ReplicaCommandResult(ok: answer.ok, report: answer.message)
        case .plain:
            throw ReplicaControlError("the server on this data folder is a primary already (it runs without replication)")
        case .none:
            if FileManager.default.fileExists(atPath: configuration.promotedMarkerPath) {
                return ReplicaCommandResult(ok: true, report: "This data folder was promoted already; `ats serve` runs it as the primary.")
            }
            guard let source = configuration.standbySource else {
                throw ReplicaControlError("this data folder is not a standby (ATS_STANDBY_FROM is empty)")
            }
            let target = try replicaTarget(source, setting: "ATS_STANDBY_FROM")
            let lock = try control.lock(exclusive: true)
            defer { withExtendedLifetime(lock) {} }
            progress("no server runs on this data folder: bringing the copy up to date from \(target), then promoting it")
            for _ in 0..<3 {
                if try await StandbyFollower.prepare(target: target, dataDirectory: configuration.dataDirectory, logger: logger)
                    == .promoted
                {
                    break
                }
                let store = try openStandbyStore(configuration, logger: logger)
                defer { try? store.pool.close() }
                let follower = StandbyFollower(
                    target: target, pool: store.pool, configuration: .init(dataDirectory: configuration.dataDirectory),
                    logger: logger)
                let note = await catchUp(follower, logger: logger)
                if follower.status.needsReopen { continue }
                try await follower.promote()
                let status = follower.status
                return ReplicaCommandResult(
                    ok: true,
                    report: "Promoted at txn \(status.txn) of generation \(status.generation ?? "-")\(note). Start it with: ats serve --data \(configuration.dataDirectory)")
            }
            throw ReplicaControlError("the replica keeps changing generation; try again")
        }
    }
}

/// How a standby round ended, set once by whoever ends it first.
final class StandbyRoundSignal: Sendable {
    let state = Mutex<Appliance.StandbyRoundEnd?>(nil)

    var outcome: Appliance.StandbyRoundEnd? { state.withLock { $0 } }

    func finish(_ outcome: Appliance.StandbyRoundEnd) {
        state.withLock { if $0 == nil { $0 = outcome } }
    }
}

/// Returns when the round ends (its group then shuts down gracefully), or at shutdown. It
/// looks every 100 ms: a round ends a few times a day at most.
struct StandbyRoundWatcher: Service {
    let end: StandbyRoundSignal

    func run() async throws {
        while end.outcome == nil && !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// Runs the follower; when it stops on its own (a reopen, a promotion) it ends the round and
/// stays until the shutdown, so the application's own group is not cancelled under it.
struct StandbyFollowerService: Service {
    let follower: StandbyFollower
    let end: StandbyRoundSignal

    func run() async throws {
        try await follower.run()
        let status = follower.status
        if status.promoted {
            end.finish(.promoted)
        } else if status.needsReopen {
            end.finish(.reopen)
        }
        try? await gracefulShutdown()
    }
}

extension ReplicaMetrics {
    /// A standby's figures: how far behind its replica it is.
    static func standbyHook(_ follower: StandbyFollower, registry: PrometheusCollectorRegistry) -> @Sendable () -> Void {
        let mirror = CounterMirror(registry: registry)
        return {
            let status = follower.status
            let gauges: [(String, String, Double)] = [
                ("ats_replica_lag_seconds", "Standby: seconds since the oldest transaction on the replica not applied here (0: caught up).",
                    status.lagSeconds),
                ("ats_standby_txn", "Standby: the transaction the local copy is at.", Double(status.txn)),
                ("ats_standby_last_applied_timestamp_seconds", "Standby: when transactions were last applied (0: not yet).",
                    status.lastAppliedAt?.timeIntervalSince1970 ?? 0),
                ("ats_standby_following", "1 while this server follows a replica (0 once promoted or restarting).",
                    status.promoted || status.needsReopen ? 0 : 1),
            ]
            for (name, help, value) in gauges {
                ReplicaMetrics.gauge(registry, name, help).set(value)
            }
            mirror.set("ats_standby_transactions_applied_total", "Standby: transactions applied from the replica.", status.transactionsApplied)
        }
    }
}
