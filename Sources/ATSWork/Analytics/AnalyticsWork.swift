import ATSJobs

/// Funnels, time-to-hire, time in stage, sources, recruiter activity, SLA breaches:
/// computed by jobs from the stage history.
public enum AnalyticsWork {
    public static func handlers(_ dependencies: WorkDependencies) -> [any JobHandler] { [] }
}
