import ATSJobs
import ATSStore
import Foundation
import Logging
import Tracing

/// What the agency work needs from the rest of the appliance, chosen once at start-up.
public struct WorkDependencies: Sendable {
    public let store: any Store
    public let jobs: any JobQueue
    /// The runtime folder (`ATS_DATA`): `.eml` files, export files.
    public let dataDirectory: String
    public let email: EmailConfiguration
    public let logger: Logger
    /// Spans for outbound calls (SMTP); nil: none.
    public let tracer: (any Tracer)?
    /// The search tier; nil where the process runs without it (its routes answer 503).
    public let search: SearchService?
    /// The file tier (blobs, CV parsing); nil where the process runs without it.
    public let files: FileDependencies?
    /// Told of writes that failed for lack of space outside the tiers (an import's upload);
    /// nil: nobody listens.
    public var storage: StorageMonitor?

    public init(
        store: any Store, jobs: any JobQueue, dataDirectory: String, email: EmailConfiguration = .init(), logger: Logger,
        tracer: (any Tracer)? = nil, search: SearchService? = nil, files: FileDependencies? = nil
    ) {
        self.tracer = tracer
        self.files = files
        self.search = search
        self.store = store
        self.jobs = jobs
        self.dataDirectory = dataDirectory
        self.email = email
        self.logger = logger
    }
}
