import ATSDomain
import Foundation
import Logging

/// Runs one type of job. Handlers are registered by `type` with the `JobRunner`; a job whose
/// type has no handler goes to the dead letters with that reason.
public protocol JobHandler: Sendable {
    /// The job type this handler runs, e.g. `email.send`, `export.candidates`.
    var type: String { get }
    /// Does the work. Throw `JobFailure.permanent` for input that will never work (a payload
    /// that does not decode): the job goes straight to the dead letters. Any other error is
    /// retried with backoff. Check `context.isCancelled` (or `Task.isCancelled`) in long loops:
    /// a timeout or a cancel cancels the task.
    func run(_ job: Job, context: JobContext) async throws -> JSONObject?
}

/// What a running job can do besides its work: report progress, learn it was cancelled.
public struct JobContext: Sendable {
    public let logger: Logger
    let report: @Sendable (JobProgress) async -> Bool

    public init(logger: Logger, report: @escaping @Sendable (JobProgress) async -> Bool) {
        self.logger = logger
        self.report = report
    }

    /// Records progress (0-100); returns false when the job was cancelled or lost its lease,
    /// in which case the handler should stop.
    @discardableResult
    public func progress(_ percent: Double, _ message: String? = nil) async -> Bool {
        await report(JobProgress(percent: percent, message: message))
    }

    public var isCancelled: Bool { Task.isCancelled }
}

/// An error that says how the runner should treat it.
public struct JobFailure: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let retryable: Bool

    /// Never retried: the job goes to the dead letters with this reason.
    public static func permanent(_ message: String) -> JobFailure { JobFailure(message: message, retryable: false) }
    /// Retried with backoff until attempts run out.
    public static func transient(_ message: String) -> JobFailure { JobFailure(message: message, retryable: true) }

    public var description: String { message }
}

/// The queues the appliance knows; a request for another queue is refused.
public enum JobQueues {
    public static let embeddings = "embeddings"
    public static let documents = "documents"
    public static let emails = "emails"
    public static let exports = "exports"
    public static let imports = "imports"
    public static let analytics = "analytics"
    public static let maintenance = "maintenance"
    /// Keeping the search index in step with the store.
    public static let search = "search"
    public static let all = [embeddings, documents, emails, exports, imports, analytics, maintenance, search]
}
