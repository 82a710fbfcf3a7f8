import ATSJobs

/// CSV/JSON exports and CSV imports of candidates, jobs and applications.
public enum ExportWork {
    public static func handlers(_ dependencies: WorkDependencies) -> [any JobHandler] { [] }
}
