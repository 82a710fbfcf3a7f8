import ATSBlob
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// The full-disk composition: every tier that writes to the data volume reports its
/// out-of-space failures to one monitor, which `/readyz`, `/metrics` and the early file
/// collector read.
extension Appliance {
    /// The monitor, wired to the store, the job queue and the blob store (when there is one).
    public static func makeStorageMonitor(
        _ configuration: Configuration, store: SQLiteStore, jobs: SQLiteJobQueue, files: FileDependencies?, logger: Logger
    ) -> StorageMonitor {
        var collect: (@Sendable (Int) async throws -> FileWork.CollectionReport)? = nil
        if let files {
            collect = { @Sendable grace in try await FileWork.collectGarbage(files, graceSeconds: grace) }
        }
        let monitor = StorageMonitor(configuration: configuration.storageMonitorConfiguration, logger: logger, collect: collect)
        store.onStorageFull { [monitor] in monitor.reportFull("store") }
        jobs.onStorageFull { [monitor] in monitor.reportFull("jobs") }
        if let blobs = files?.blobs as? FileBlobStore {
            blobs.onStorageFull { [monitor] in monitor.reportFull("blobs") }
        }
        return monitor
    }

    /// `ats_storage_full_total{tier}` (writes refused for lack of space), `ats_storage_full`
    /// (1 while they are) and the data volume's free bytes, read at scrape time.
    static func storageHook(_ monitor: StorageMonitor, registry: PrometheusCollectorRegistry) -> @Sendable () -> Void {
        let last = Mutex<[String: Int]>([:])
        let help = "Writes that failed because the disk (or quota) was full, by tier."
        // Every tier's series exists from the start, so a rate() sees the first failure.
        for tier in StorageMonitor.tiers {
            _ = registry.makeCounter(name: "ats_storage_full_total", labels: [("tier", tier)], help: help)
        }
        return {
            let counts = monitor.counts
            for tier in StorageMonitor.tiers {
                let total = counts[tier] ?? 0
                let delta = last.withLock { last -> Int in
                    let delta = total - (last[tier] ?? 0)
                    if delta > 0 { last[tier] = total }
                    return delta
                }
                if delta > 0 {
                    registry.makeCounter(name: "ats_storage_full_total", labels: [("tier", tier)], help: help)
                        .increment(by: Int64(delta))
                }
            }
            registry.makeGauge(name: "ats_storage_full", help: "1 while writes fail for lack of disk space (/readyz is not ready).")
                .set(Double(monitor.isFull ? 1 : 0))
            if let space = StorageMonitor.volumeSpace(monitor.configuration.path) {
                registry.makeGauge(name: "ats_storage_free_bytes", help: "Free bytes on the data volume.").set(Double(space.free))
                registry.makeGauge(name: "ats_storage_size_bytes", help: "Size of the data volume.").set(Double(space.total))
            }
        }
    }
}

/// Runs the monitor's checks every second beside the server: an episode ends by itself once
/// space is back, and the file collector runs early while space is short.
struct StorageKeeper: Service {
    let monitor: StorageMonitor

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await monitor.tick()
                do { try await Task.sleep(for: .seconds(1)) } catch { return }
            }
        }
    }
}
