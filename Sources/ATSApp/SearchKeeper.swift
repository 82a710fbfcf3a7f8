import ATSJobs
import ATSWork
import Logging
import ServiceLifecycle

/// Runs beside the server: builds the index from the whole store when it never was (a new or
/// upgraded database, the demo agency), asks for one sync at start (changes made while it was
/// down), and saves the vector indexes at shutdown so the next start loads them.
struct SearchKeeper: Service {
    let search: SearchService
    let jobs: any JobQueue
    let logger: Logger

    func run() async throws {
        if (try? await search.needsRebuild()) == true {
            logger.info("building the search index from the store")
            let started = ContinuousClock.now
            do {
                // Stopped by a graceful shutdown between batches: the next start builds again.
                try await cancelWhenGracefulShutdown {
                    try await search.reindex { done, total in
                        if total > 0, done == total || done % 10_000 == 0 {
                            logger.info("search index", metadata: ["done": "\(done)", "total": "\(total)"])
                        }
                    }
                }
                logger.info("search index built", metadata: ["seconds": "\((ContinuousClock.now - started).components.seconds)"])
            } catch is CancellationError {
                logger.info("building the search index stopped by the shutdown; the next start resumes it")
            } catch {
                logger.error("building the search index failed", metadata: ["error_type": "\(type(of: error))"])
            }
        }
        _ = try? await jobs.enqueue(SearchService.syncRequest)
        try? await search.vectors.refresh()
        try? await gracefulShutdown()
        search.vectors.save()
    }
}
