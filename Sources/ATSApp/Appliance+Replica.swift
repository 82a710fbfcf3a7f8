import ATSHTTP
import ATSReplica
import ATSStore
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// The replica tier's composition (issue 7): continuous replication to `ATS_REPLICA_DIR` or,
/// without it, the plain checkpointer (every connection runs `wal_autocheckpoint = 0`, so the
/// server owns checkpoints either way); the control channel the CLI talks to; the recurring
/// verification; `/metrics` figures and the `/readyz` lag check. The standby side is in
/// `Appliance+ReplicaStandby.swift`.
extension Appliance {
    /// What the server adds for the replica tier.
    struct ReplicaComposition {
        /// Run right after the store (so they stop just before it: the final sync ships the
        /// transactions of the jobs that stopped before them).
        var services: [any Service] = []
        var scrapeHooks: [@Sendable () -> Void] = []
        var readinessChecks: [@Sendable () async -> String?] = []
        var middleware: [any MiddlewareProtocol<Request, Response, ATSRequestContext>] = []
        /// The data folder's server lock, held while the server runs.
        var lock: ReplicaControlLock?
    }

    /// The replicator's settings from the configuration.
    public static func replicatorConfiguration(_ configuration: Configuration) -> Replicator.Configuration {
        var replicator = Replicator.Configuration(dataDirectory: configuration.dataDirectory)
        replicator.databasePath = configuration.databasePath
        replicator.blobsDirectory = configuration.blobsDirectory
        replicator.stateDirectory = configuration.replicaStateDirectory
        replicator.syncInterval = configuration.replicaSyncInterval
        replicator.snapshotInterval = configuration.snapshotInterval
        replicator.segmentRetention = configuration.segmentRetention
        replicator.snapshotRetention = configuration.snapshotRetention
        return replicator
    }

    /// A folder target that must already exist: a replica folder that vanished (an unmounted
    /// network disk) must not be silently recreated on the local disk it is meant to survive.
    static func replicaTarget(_ path: String, setting: String) throws -> FileReplicaTarget {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConfigurationError("\(setting): no folder at \(path) (is the disk mounted? create the folder first)")
        }
        return FileReplicaTarget(root: Configuration.canonicalPath(path))
    }

    /// The primary server's replica services: the replicator (or the checkpointer), the
    /// control channel and the recurring verification.
    static func replicaComposition(
        _ configuration: Configuration, store: SQLiteStore, registry: PrometheusCollectorRegistry, logger: Logger
    ) throws -> ReplicaComposition {
        let control = ReplicaControl(dataDirectory: configuration.dataDirectory)
        var composition = ReplicaComposition()
        guard let directory = configuration.replicaDirectory else {
            do {
                composition.lock = try control.lock(exclusive: false)
            } catch let error as ReplicaControlError {
                throw ConfigurationError(error.description)
            }
            composition.services = [Checkpointer(pool: store.pool, databasePath: configuration.databasePath, logger: logger)]
            return composition
        }
        let target = try replicaTarget(directory, setting: "ATS_REPLICA_DIR")
        do {
            composition.lock = try control.lock(exclusive: true)
        } catch let error as ReplicaControlError {
            throw ConfigurationError(error.description)
        }
        let replicator = Replicator(
            pool: store.pool, target: target, configuration: replicatorConfiguration(configuration),
            logger: logger)
        let health = ReplicaHealth()
        let verify: @Sendable () async -> ReplicaControl.Answer = {
            await Self.verify(replicator, health: health, logger: logger)
        }
        composition.services = [
            replicator,
            ReplicaControlService(control: control, logger: logger) { command in
                switch command {
                case .snapshot:
                    do {
                        let info = try await replicator.snapshotNow()
                        return .init(ok: true, message: describeSnapshot(info))
                    } catch {
                        return .init(ok: false, message: "snapshot failed: \(describeReplicaFailure(error))")
                    }
                case .verify:
                    return await verify()
                case .promote:
                    return .init(ok: false, message: "this server is already the primary (it replicates to \(directory))")
                }
            },
        ]
        if let interval = configuration.replicaVerifyInterval {
            composition.services.append(ReplicaVerifyJob(interval: interval, verify: verify))
        }
        composition.scrapeHooks = [ReplicaMetrics.primaryHook(replicator, health: health, registry: registry)]
        let maxLag = configuration.replicaMaxLagSeconds
        composition.readinessChecks = [
            {
                let status = replicator.status
                guard status.lagSeconds > maxLag else { return nil }
                let reason = status.lastError.map { " (\($0))" } ?? ""
                return "Replication to the replica lags \(Int(status.lagSeconds)) s, more than ATS_REPLICA_MAX_LAG_SECONDS=\(ReplicaMetrics.format(maxLag))\(reason)."
            }
        ]
        return composition
    }

    /// Runs the replicator's verification, records its outcome for the metric, and words it.
    static func verify(_ replicator: Replicator, health: ReplicaHealth, logger: Logger) async -> ReplicaControl.Answer {
        do {
            let report = try await replicator.verify()
            health.recordVerify(ok: report.ok)
            if !report.ok { logger.error("replica verification failed", metadata: ["difference": "\(report.firstDifference ?? "?")"]) }
            return .init(ok: report.ok, message: (report.ok ? "Replica verified: " : "Replica verification FAILED: ") + "\(report)")
        } catch {
            health.recordVerify(ok: false)
            let message = describeReplicaFailure(error)
            logger.error("replica verification failed", metadata: ["error": "\(message)"])
            return .init(ok: false, message: "Replica verification FAILED: \(message)")
        }
    }

    /// What `ats snapshot` prints; a snapshot of a state already snapshotted is not taken again.
    static func describeSnapshot(_ info: SnapshotInfo) -> String {
        if info.storedBytes == 0 {
            return "The newest snapshot holds this state already (txn \(info.txn) of generation \(info.generation)): \(info.key)"
        }
        return "Snapshot taken: \(info)"
    }

    /// An error as the operator should read it: a replica error names its object.
    public static func describeReplicaFailure(_ error: any Error) -> String {
        switch error {
        case let error as ReplicaError:
            if let key = error.key { return "\(error.message) (object \(key))" }
            return error.message
        case let error as ReplicaControlError:
            return error.description
        case let error as ConfigurationError:
            return error.description
        default:
            return "\(error)"
        }
    }
}

/// The last verification's outcome as this process saw it: a verification that threw (a
/// corrupted object) is a failure too.
final class ReplicaHealth: Sendable {
    struct State {
        var verifyOK: Bool?
        var verifiedAt: Date?
    }

    let state = Mutex(State())

    func recordVerify(ok: Bool) {
        state.withLock {
            $0.verifyOK = ok
            $0.verifiedAt = Date()
        }
    }
}

/// The recurring verification (`ATS_REPLICA_VERIFY_INTERVAL_MINUTES`): restores the replica to
/// a temporary folder and compares it with the live database; the outcome is the
/// `ats_replica_verify_ok` metric and, on failure, an error log line.
struct ReplicaVerifyJob: Service {
    let interval: Duration
    let verify: @Sendable () async -> ReplicaControl.Answer

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            _ = await verify()
        }
    }
}

/// The replica tier's `/metrics` figures, read from the replicator's status at scrape time.
enum ReplicaMetrics {
    static func primaryHook(_ replicator: Replicator, health: ReplicaHealth, registry: PrometheusCollectorRegistry)
        -> @Sendable () -> Void
    {
        let mirror = CounterMirror(registry: registry)
        return {
            let status = replicator.status
            let verify = health.state.withLock { $0 }
            let verifyOK = verify.verifyOK ?? status.lastVerifyOK
            let gauges: [(String, String, Double)] = [
                ("ats_replica_lag_seconds", "Seconds since the oldest commit not yet on the replica (0: caught up).", status.lagSeconds),
                ("ats_replica_shipped_txn", "The last transaction on the replica in the current generation.", Double(status.shippedTxn)),
                ("ats_replica_pending_bytes", "Bytes of transactions read but not yet on the replica.", Double(status.pendingBytes)),
                ("ats_replica_verify_ok", "1: the last verification matched the live database; 0: it failed; -1: none ran yet.",
                    verifyOK.map { $0 ? 1 : 0 } ?? -1),
                ("ats_replica_last_verify_timestamp_seconds", "When the last verification ran (0: never).",
                    (verify.verifiedAt ?? status.lastVerifyAt)?.timeIntervalSince1970 ?? 0),
                ("ats_replica_last_snapshot_timestamp_seconds", "When this server last put a snapshot (0: not yet).",
                    status.lastSnapshotAt?.timeIntervalSince1970 ?? 0),
                ("ats_replica_last_sync_timestamp_seconds", "When the last sync finished (0: not yet).",
                    status.lastSyncAt?.timeIntervalSince1970 ?? 0),
            ]
            for (name, help, value) in gauges {
                ReplicaMetrics.gauge(registry, name, help).set(value)
            }
            mirror.set("ats_replica_bytes_total", "Bytes put on the replica (segments, snapshots, files).", Int(status.bytesShipped))
            mirror.set("ats_replica_errors_total", "Failed replica operations (target or database).", status.errors)
            mirror.set("ats_replica_segments_total", "WAL segments put on the replica.", status.segmentsShipped)
            mirror.set("ats_replica_snapshots_total", "Snapshots put on the replica.", status.snapshots)
            mirror.set("ats_replica_blobs_total", "Files copied to the replica.", status.blobsShipped)
            mirror.set("ats_replica_generations_total", "Generations started (a broken chain starts a new one).", status.generationsStarted)
        }
    }

    /// A gauge by its full name (the descriptor's parts joined: no unit suffix added).
    static func gauge(_ registry: PrometheusCollectorRegistry, _ name: String, _ help: String) -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
