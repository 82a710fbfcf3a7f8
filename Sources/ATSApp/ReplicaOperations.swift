import ATSDomain
import ATSReplica
import ATSStore
import Foundation
import Logging

/// What a replica command prints: its report, and whether it succeeded (the exit status).
public struct ReplicaCommandResult: Sendable {
    public let ok: Bool
    public let report: String

    public init(ok: Bool, report: String) {
        self.ok = ok
        self.report = report
    }
}

/// The work behind `ats snapshot`, `ats restore`, `ats replicas list`, `ats verify` and
/// `ats promote`. Snapshot, verify and promote go to the server that owns the data folder when
/// one runs (`ReplicaControl`); otherwise they run here.
extension Appliance {
    /// With no server on the folder: the replica `--replica DIR` (or `ATS_REPLICA_DIR`) names,
    /// and the lock that keeps a server from starting (and checkpointing) meanwhile.
    static func localReplica(
        _ configuration: Configuration, control: ReplicaControl
    ) throws -> (target: any ReplicaTarget, lock: ReplicaControlLock) {
        guard let directory = configuration.replicaDirectory else {
            throw ReplicaControlError("no replica: pass --replica DIR or set ATS_REPLICA_DIR")
        }
        let target = try replicaTarget(directory, setting: "--replica")
        return (target, try control.lock(exclusive: true))
    }

    /// `ats snapshot`: through the replicating server, or one-shot when no server runs.
    public static func snapshotCommand(
        _ configuration: Configuration, timeout: Duration, logger: Logger, progress: @escaping @Sendable (String) -> Void
    ) async throws -> ReplicaCommandResult {
        let control = ReplicaControl(dataDirectory: configuration.dataDirectory)
        switch control.holder() {
        case .owner:
            let answer = try await control.send(.snapshot, timeout: timeout, progress: progress)
            return ReplicaCommandResult(ok: answer.ok, report: answer.message)
        case .plain:
            throw ReplicaControlError(
                "a server without replication runs on this data folder: restart it with --replica DIR (or ATS_REPLICA_DIR) to take snapshots")
        case .none:
            let (target, lock) = try localReplica(configuration, control: control)
            defer { withExtendedLifetime(lock) {} }
            let store = try openStore(configuration, logger: logger)
            let replicator = Replicator(
                pool: store.pool, target: target, configuration: replicatorConfiguration(configuration), logger: logger)
            progress("no server runs on this data folder: taking the snapshot here")
            let info = try await replicator.snapshotNow()
            await replicator.finalSync()
            try? store.pool.close()
            return ReplicaCommandResult(ok: true, report: describeSnapshot(info))
        }
    }

    /// `ats verify`: through the replicating server (it updates its metric), or here.
    public static func verifyCommand(
        _ configuration: Configuration, timeout: Duration, logger: Logger, progress: @escaping @Sendable (String) -> Void
    ) async throws -> ReplicaCommandResult {
        let control = ReplicaControl(dataDirectory: configuration.dataDirectory)
        switch control.holder() {
        case .owner:
            let answer = try await control.send(.verify, timeout: timeout, progress: progress)
            return ReplicaCommandResult(ok: answer.ok, report: answer.message)
        case .plain:
            throw ReplicaControlError(
                "a server without replication runs on this data folder (it checkpoints the database, so nothing can be compared); stop it or restart it with --replica DIR")
        case .none:
            let (target, lock) = try localReplica(configuration, control: control)
            defer { withExtendedLifetime(lock) {} }
            let store = try SQLiteStore(
                path: configuration.databasePath, configuration: .init(readers: 2, readOnly: true), logger: logger)
            defer { try? store.pool.close() }
            progress("no server runs on this data folder: verifying here")
            let report: VerifyReport
            do {
                report = try await ReplicaVerifier.verify(
                    target: target, databasePath: configuration.databasePath, pool: store.pool,
                    stateDirectory: configuration.replicaStateDirectory)
            } catch {
                return ReplicaCommandResult(ok: false, report: "Replica verification FAILED: \(describeReplicaFailure(error))")
            }
            if report.ok { return ReplicaCommandResult(ok: true, report: "Replica verified: \(report)") }
            return ReplicaCommandResult(
                ok: false,
                report: "Replica verification FAILED: \(report)\n(A write made while no replicating server ran, by a command "
                    + "or another tool, also differs: it reaches the replica when `ats serve --replica` starts again.)")
        }
    }

    /// `ats replicas list --from TARGET`.
    public static func listReplicasCommand(from: String) async throws -> ReplicaCommandResult {
        let target = try replicaTarget(from, setting: "--from")
        let generations = try await ReplicaCatalog.list(target)
        guard !generations.isEmpty else {
            return ReplicaCommandResult(ok: true, report: "\(target): no generations yet (nothing to restore)")
        }
        var lines = ["replica \(target): \(generations.count) generation(s), \(generations.reduce(0) { $0 + $1.storedBytes }) bytes"]
        let froms = generations.compactMap(\.restorableFrom)
        let tos = generations.compactMap(\.restorableTo)
        if let from = froms.min(), let to = tos.max() {
            lines.append("restorable window: \(Timestamp.format(from)) ... \(Timestamp.format(to))")
        }
        lines += generations.map(\.description)
        return ReplicaCommandResult(ok: true, report: lines.joined(separator: "\n"))
    }

    /// `ats restore`: the plan (`dryRun`), or the restore into a new folder, which is removed
    /// again if the restore fails (a failed restore leaves nothing that looks usable).
    public static func restoreCommand(
        from: String, to: String, at: Date?, txn: Int?, generation: String?, dryRun: Bool,
        progress: @escaping @Sendable (String) -> Void
    ) async throws -> ReplicaCommandResult {
        let target = try replicaTarget(from, setting: "--from")
        let plan = try await ReplicaRestorer.plan(target: target, at: at, txn: txn.map(Int64.init), generation: generation)
        if dryRun {
            return ReplicaCommandResult(ok: true, report: plan.description + "\n(dry run: nothing was written)")
        }
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        let existed = manager.fileExists(atPath: to, isDirectory: &isDirectory)
        if existed {
            guard isDirectory.boolValue, (try manager.contentsOfDirectory(atPath: to)).isEmpty else {
                throw ReplicaControlError("\(to) exists and is not an empty folder; restore into a new folder")
            }
        }
        progress("restoring generation \(plan.generation) up to txn \(plan.txn) from \(target) into \(to)")
        do {
            let report = try await ReplicaRestorer.restore(plan, from: target, to: to)
            let time = report.time.map { " (committed \(Timestamp.format($0)))" } ?? ""
            return ReplicaCommandResult(
                ok: true,
                report: """
                    \(report)
                    Restored txn \(report.txn) of generation \(report.generation)\(time) into \(to)
                    Start it with: ats serve --data \(to)
                    """)
        } catch {
            if existed {
                for name in (try? manager.contentsOfDirectory(atPath: to)) ?? [] {
                    try? manager.removeItem(atPath: (to as NSString).appendingPathComponent(name))
                }
            } else {
                try? manager.removeItem(atPath: to)
            }
            throw error
        }
    }
}
