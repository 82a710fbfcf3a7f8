import Foundation

/// The replica tier's settings (`ATS_REPLICA_*`, `ATS_SNAPSHOT_INTERVAL_MINUTES`, `ATS_STANDBY_FROM`).
extension Configuration {
    /// The replica target folder; nil when replication is off.
    public var replicaDirectory: String? { self["ATS_REPLICA_DIR"].isEmpty ? nil : self["ATS_REPLICA_DIR"] }
    /// The replica this server follows as a warm standby; nil for a primary.
    public var standbySource: String? { self["ATS_STANDBY_FROM"].isEmpty ? nil : self["ATS_STANDBY_FROM"] }
    public var replicaSyncInterval: Duration { .milliseconds(Int64((Double(self["ATS_REPLICA_SYNC_SECONDS"]) ?? 1) * 1000)) }
    public var snapshotInterval: Duration { .seconds((Int(self["ATS_SNAPSHOT_INTERVAL_MINUTES"]) ?? 60) * 60) }
    public var segmentRetention: Duration { .seconds((Int(self["ATS_REPLICA_SEGMENT_RETENTION_HOURS"]) ?? 24) * 3600) }
    public var snapshotRetention: Duration { .seconds((Int(self["ATS_REPLICA_SNAPSHOT_RETENTION_DAYS"]) ?? 7) * 86_400) }
    public var replicaMaxLagSeconds: Double { Double(self["ATS_REPLICA_MAX_LAG_SECONDS"]) ?? 10 }
    /// How often the server verifies the replica against the live database; nil: never.
    public var replicaVerifyInterval: Duration? {
        let minutes = Int(self["ATS_REPLICA_VERIFY_INTERVAL_MINUTES"]) ?? 360
        return minutes > 0 ? .seconds(minutes * 60) : nil
    }
    /// The server's own replica bookkeeping: position, control requests, the promotion marker.
    public var replicaStateDirectory: String { (dataDirectory as NSString).appendingPathComponent("replica") }
    /// Written by `ats promote`: this folder was a standby and is now a primary, whatever
    /// `ATS_STANDBY_FROM` says.
    public var promotedMarkerPath: String { (replicaStateDirectory as NSString).appendingPathComponent("promoted") }

    func validateReplica() throws {
        func integer(_ name: String, _ range: ClosedRange<Int>) throws {
            guard let value = Int(self[name]), range.contains(value) else {
                throw ConfigurationError("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(self[name])'")
            }
        }
        guard let sync = Double(self["ATS_REPLICA_SYNC_SECONDS"]), (0.05...3600).contains(sync) else {
            throw ConfigurationError("ATS_REPLICA_SYNC_SECONDS must be a number of seconds from 0.05 to 3600, not '\(self["ATS_REPLICA_SYNC_SECONDS"])'")
        }
        try integer("ATS_SNAPSHOT_INTERVAL_MINUTES", 1...525_600)
        try integer("ATS_REPLICA_SEGMENT_RETENTION_HOURS", 1...87_600)
        try integer("ATS_REPLICA_SNAPSHOT_RETENTION_DAYS", 1...3650)
        try integer("ATS_REPLICA_VERIFY_INTERVAL_MINUTES", 0...525_600)
        guard let lag = Double(self["ATS_REPLICA_MAX_LAG_SECONDS"]), lag > 0, lag.isFinite else {
            throw ConfigurationError("ATS_REPLICA_MAX_LAG_SECONDS must be a number of seconds > 0, not '\(self["ATS_REPLICA_MAX_LAG_SECONDS"])'")
        }
        let data = Self.canonicalPath(dataDirectory)
        for name in ["ATS_REPLICA_DIR", "ATS_STANDBY_FROM"] where !self[name].isEmpty {
            let target = Self.canonicalPath(self[name])
            // A replica inside the data folder (or the data folder inside it) dies with the VM it
            // is meant to survive, and restores would copy it into itself.
            if target == data || target.hasPrefix(data + "/") || data.hasPrefix(target + "/") {
                throw ConfigurationError("\(name) must be a folder outside the data folder (\(dataDirectory)), not '\(self[name])'")
            }
        }
    }

    static func canonicalPath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
