import ATSWork
import Foundation

/// The full-disk settings: when the file collector runs early, and with what grace.
extension Configuration {
    /// Free space (percent of the data volume) under which unreferenced files are collected early.
    public var lowDiskPercent: Double { Double(self["ATS_LOW_DISK_PERCENT"]) ?? 5 }
    /// The collector's grace while space is short, in seconds.
    public var lowDiskGraceSeconds: Int { Int(self["ATS_LOW_DISK_GC_GRACE_SECONDS"]) ?? 600 }

    func validateStorage() throws {
        guard let percent = Double(self["ATS_LOW_DISK_PERCENT"]), (0...100).contains(percent) else {
            throw ConfigurationError("ATS_LOW_DISK_PERCENT must be a number from 0 to 100, not '\(self["ATS_LOW_DISK_PERCENT"])'")
        }
        guard let grace = Int(self["ATS_LOW_DISK_GC_GRACE_SECONDS"]), (0...604_800).contains(grace) else {
            throw ConfigurationError(
                "ATS_LOW_DISK_GC_GRACE_SECONDS must be an integer from 0 to 604800, not '\(self["ATS_LOW_DISK_GC_GRACE_SECONDS"])'")
        }
    }

    /// The storage monitor's settings for this data folder.
    var storageMonitorConfiguration: StorageMonitor.Configuration {
        StorageMonitor.Configuration(
            path: dataDirectory, lowDiskPercent: lowDiskPercent, lowDiskGraceSeconds: lowDiskGraceSeconds)
    }
}
