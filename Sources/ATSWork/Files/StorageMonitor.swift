#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import Logging
import Synchronization

/// Watches the data volume for a full disk: every tier reports the writes that failed for lack
/// of space (`reportFull`), `/readyz` asks `readiness()`, and its loop collects garbage early
/// when space runs short, so deleted files stop holding space for the normal grace period.
///
/// An episode starts with the first failure and ends by itself once space is back: when the
/// volume's free space has grown past what it was at the failure (`statvfs`, cheap), or, for a
/// quota that `statvfs` does not show, when a small probe file can be written. The database is
/// never written to find out. One warning per episode, not one per failed write.
public final class StorageMonitor: Sendable {
    public struct Configuration: Sendable {
        /// A folder on the data volume (`ATS_DATA`).
        public var path: String
        /// Below this share of free space the blob collector runs early (0 turns that off).
        public var lowDiskPercent: Double
        /// The collector's grace period while space is short (seconds): uploads in flight and
        /// links just handed out are younger than this.
        public var lowDiskGraceSeconds: Int
        /// The early collector runs at most this often.
        public var collectInterval: Duration
        /// The probe (and the re-check of free space) runs at most this often.
        public var recheckInterval: Duration

        public init(
            path: String, lowDiskPercent: Double = 5, lowDiskGraceSeconds: Int = 600, collectInterval: Duration = .seconds(60),
            recheckInterval: Duration = .seconds(1)
        ) {
            self.path = path
            self.lowDiskPercent = lowDiskPercent
            self.lowDiskGraceSeconds = lowDiskGraceSeconds
            self.collectInterval = collectInterval
            self.recheckInterval = recheckInterval
        }
    }

    /// Free and total bytes of a volume, as an unprivileged writer sees them.
    public struct Space: Sendable, Hashable {
        public var free: UInt64
        public var total: UInt64

        public init(free: UInt64, total: UInt64) {
            self.free = free
            self.total = total
        }

        /// How much free space must come back before an episode ends: enough for a few
        /// writes, not a byte more than 1 MiB (a big volume) or 2% of a small one.
        var margin: UInt64 { Swift.max(64 * 1024, Swift.min(1024 * 1024, total / 50)) }
    }

    /// The tiers that report; the metric's `tier` label takes only these values.
    public static let tiers = ["store", "jobs", "blobs", "imports"]

    struct Episode {
        var since: Date
        var tier: String
        var freeAtFailure: UInt64
        var lastCheck: Date
    }

    struct State {
        var counts: [String: Int] = [:]
        var episode: Episode?
        var lastCollect: Date?
        var collectWanted = false
    }

    public let configuration: Configuration
    let logger: Logger
    let state = Mutex(State())
    let space: @Sendable () -> Space?
    let probe: @Sendable () -> Bool
    let collect: (@Sendable (_ graceSeconds: Int) async throws -> FileWork.CollectionReport)?

    /// `collect` runs the blob collector with a grace period (nil: no file tier). `space` and
    /// `probe` default to `statvfs` and a probe file in `configuration.path` (tests inject them).
    public init(
        configuration: Configuration, logger: Logger,
        collect: (@Sendable (_ graceSeconds: Int) async throws -> FileWork.CollectionReport)? = nil,
        space: (@Sendable () -> Space?)? = nil, probe: (@Sendable () -> Bool)? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        self.collect = collect
        let path = configuration.path
        self.space = space ?? { StorageMonitor.volumeSpace(path) }
        self.probe = probe ?? { StorageMonitor.probeWrite(folder: path) }
    }

    // MARK: Reports

    /// A write of `tier` failed for lack of space: counted, and an episode starts (one warning).
    public func reportFull(_ tier: String, now: Date = Date()) {
        let free = space()?.free ?? 0
        let started = state.withLock { state -> Bool in
            state.counts[tier, default: 0] += 1
            if var episode = state.episode {
                // Space went lower still: recovery is measured from the lowest point.
                episode.freeAtFailure = Swift.min(episode.freeAtFailure, free)
                episode.lastCheck = now
                state.episode = episode
                return false
            }
            state.episode = Episode(since: now, tier: tier, freeAtFailure: free, lastCheck: now)
            state.collectWanted = true
            return true
        }
        if started {
            logger.warning(
                "disk full: writes fail for lack of space until space is freed",
                metadata: ["tier": .string(tier), "free_bytes": .stringConvertible(free), "path": .string(configuration.path)])
        }
    }

    /// Failed writes per tier since start (the `ats_storage_full_total` counter).
    public var counts: [String: Int] { state.withLock { $0.counts } }

    /// True while an episode is open (writes fail for lack of space).
    public var isFull: Bool { state.withLock { $0.episode != nil } }

    // MARK: Readiness

    /// Nil when writes can be expected to succeed; otherwise why not (for `/readyz`). Re-checks
    /// an open episode at most once per `recheckInterval`, and ends it when space is back.
    public func readiness(now: Date = Date()) -> String? {
        guard let episode = state.withLock({ $0.episode }) else { return nil }
        if now.timeIntervalSince(episode.lastCheck) >= configuration.recheckInterval.secondsValue {
            let back = recovered(episode)
            let ended = state.withLock { state -> Bool? in
                guard var current = state.episode else { return nil }  // another caller ended it
                // A failure reported during the check (it moved `lastCheck`) keeps the episode open.
                if back && current.lastCheck == episode.lastCheck {
                    state.episode = nil
                    return true
                }
                current.lastCheck = Swift.max(current.lastCheck, now)
                state.episode = current
                return false
            }
            switch ended {
            case nil:
                return nil
            case true?:
                logger.notice(
                    "disk space is back: writes are accepted again",
                    metadata: ["seconds_full": .stringConvertible(Int(now.timeIntervalSince(episode.since)))])
                return nil
            case false?:
                break
            }
        }
        return Self.notReady
    }

    /// What `/readyz` says while writes fail for lack of space.
    public static let notReady = "store not writable: disk full (free some space; service resumes by itself)"

    func recovered(_ episode: Episode) -> Bool {
        guard let space = space() else { return probe() }
        if space.free >= episode.freeAtFailure + space.margin { return true }
        // `statvfs` shows free space but writes still failed: a quota, or a write bigger than
        // what is left. Only a real write can tell, and only with room for one.
        if space.free >= space.margin { return probe() }
        return false
    }

    // MARK: Early collection

    /// True when free space is under `lowDiskPercent` of the volume.
    public func isLow() -> Bool {
        guard configuration.lowDiskPercent > 0, let space = space(), space.total > 0 else { return false }
        return Double(space.free) * 100 < Double(space.total) * configuration.lowDiskPercent
    }

    /// Runs the collector with the short grace when space is short or a write failed for lack of
    /// it, at most once per `collectInterval`; the report, or nil when it did not run.
    @discardableResult
    public func collectIfShort(now: Date = Date()) async -> FileWork.CollectionReport? {
        guard let collect else { return nil }
        let low = isLow()
        let due = state.withLock { state -> Bool in
            let wanted = low || state.collectWanted || state.episode != nil
            guard wanted else { return false }
            if let last = state.lastCollect, now.timeIntervalSince(last) < configuration.collectInterval.secondsValue { return false }
            state.lastCollect = now
            state.collectWanted = false
            return true
        }
        guard due else { return nil }
        do {
            let report = try await collect(configuration.lowDiskGraceSeconds)
            logger.notice(
                "disk space short: collected unreferenced files early",
                metadata: [
                    "removed": .stringConvertible(report.removed), "kept": .stringConvertible(report.kept),
                    "grace_seconds": .stringConvertible(configuration.lowDiskGraceSeconds),
                ])
            return report
        } catch {
            logger.warning("early file collection failed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// One look at the volume (the server's keeper calls it every second; `statvfs` is cheap):
    /// ends an episode once space is back, and collects early while space is short.
    public func tick(now: Date = Date()) async {
        _ = readiness(now: now)
        await collectIfShort(now: now)
    }

    // MARK: The volume

    /// Free (for unprivileged writers) and total bytes of the volume holding `path`.
    public static func volumeSpace(_ path: String) -> Space? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        let unit = UInt64(info.f_frsize)
        return Space(free: UInt64(info.f_bavail) * unit, total: UInt64(info.f_blocks) * unit)
    }

    /// Writes, syncs and removes a 64 KiB file in `folder`: false when the volume refuses it.
    static func probeWrite(folder: String) -> Bool {
        let path = folder + "/.space-probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer {
            close(fd)
            unlink(path)
        }
        let block = [UInt8](repeating: 0, count: 64 * 1024)
        let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return written == block.count && fsync(fd) == 0
    }
}

extension Duration {
    fileprivate var secondsValue: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
