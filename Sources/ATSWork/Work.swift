import ATSJobs

/// The agency work that runs as jobs. `handlers` is what the runner registers.
public enum Work {
    /// Every handler of this module, for the runner.
    public static func handlers(_ dependencies: WorkDependencies) -> [any JobHandler] {
        EmailWork.handlers(dependencies) + ExportWork.handlers(dependencies) + AnalyticsWork.handlers(dependencies)
    }
}
