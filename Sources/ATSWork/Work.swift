import ATSJobs

/// The agency work that runs as jobs. `handlers` is what the runner registers.
public enum Work {
    /// Every handler of this module, for the runner.
    public static func handlers(_ dependencies: WorkDependencies) -> [any JobHandler] {
        var handlers = EmailWork.handlers(dependencies) + ExportWork.handlers(dependencies) + AnalyticsWork.handlers(dependencies)
            + FileWork.handlers(dependencies)
        if let search = dependencies.search {
            handlers += [SearchSyncHandler(search: search, jobs: dependencies.jobs), SearchEmbedHandler(search: search)]
        }
        return handlers
    }
}
