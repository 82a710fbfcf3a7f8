import ATSBlob
import ATSDocuments
import ATSDomain
import ATSJobs
import ATSStore
import Foundation
import Logging

/// What the file tier's work needs: the blobs, the store's records of them, and the CV parser.
public struct FileDependencies: Sendable {
    public let blobs: any BlobStore
    public let catalog: any FileCatalog
    /// Largest file accepted, in bytes.
    public let maxBytes: Int64
    /// How long an unreferenced blob is kept: uploads in flight and links just handed out are
    /// always younger than this.
    public let graceSeconds: Int
    /// The skills taxonomy, places and languages the CV parser matches; nil: text is extracted
    /// but no fields are parsed.
    public let taxonomy: CVTaxonomy?

    public init(blobs: any BlobStore, catalog: any FileCatalog, maxBytes: Int64, graceSeconds: Int, taxonomy: CVTaxonomy?) {
        self.blobs = blobs
        self.catalog = catalog
        self.maxBytes = maxBytes
        self.graceSeconds = graceSeconds
        self.taxonomy = taxonomy
    }
}

/// The file tier's jobs: extracting and parsing documents, and collecting unreferenced blobs.
public enum FileWork {
    public static let extractType = "document.extract"
    public static let collectType = "blob.gc"

    public static func handlers(_ dependencies: WorkDependencies) -> [any JobHandler] {
        guard let files = dependencies.files else { return [] }
        let ingest = DocumentIngest(store: dependencies.store, files: files, logger: dependencies.logger)
        return [
            ClosureHandler(type: extractType) { job, _ in
                guard let organizationID = job.organizationID ?? job.payload["organizationId"]?.stringValue,
                    let documentID = job.payload["documentId"]?.stringValue
                else { throw JobFailure.permanent("document.extract needs {organizationId, documentId}") }
                return try await ingest.process(organizationID: organizationID, documentID: documentID)
            },
            ClosureHandler(type: collectType) { _, _ in
                let report = try await collectGarbage(files)
                return [
                    "removed": .int(Int64(report.removed)), "kept": .int(Int64(report.kept)),
                    "temporaries": .int(Int64(report.temporaries)),
                ]
            },
        ]
    }

    /// The job that extracts (and for a CV, parses) a document's file.
    public static func extractRequest(organizationID: String, documentID: String) -> JobRequest {
        JobRequest(
            queue: JobQueues.documents, type: extractType,
            payload: ["organizationId": .string(organizationID), "documentId": .string(documentID)], maxAttempts: 3,
            organizationID: organizationID)
    }

    /// The recurring garbage collection, hourly.
    public static var recurring: [RecurringJob] {
        [
            RecurringJob(
                name: "blob-gc", schedule: try! CronSchedule("23 * * * *"),
                request: JobRequest(queue: JobQueues.maintenance, type: collectType, maxAttempts: 3))
        ]
    }

    public struct CollectionReport: Sendable, Hashable {
        public var removed = 0
        public var kept = 0
        /// Leftovers of interrupted uploads.
        public var temporaries = 0

        public init(removed: Int = 0, kept: Int = 0, temporaries: Int = 0) {
            self.removed = removed
            self.kept = kept
            self.temporaries = temporaries
        }
    }

    /// Removes blobs that nothing refers to and that are older than the grace period. A blob
    /// written or deduplicated after the cutoff is never removed (the blob store checks that in
    /// the same lock its uploads finish under), so an upload in flight cannot lose its file.
    /// `graceSeconds` overrides the configured grace (shorter while disk space is short).
    public static func collectGarbage(
        _ files: FileDependencies, now: Date = Date(), graceSeconds: Int? = nil
    ) async throws -> CollectionReport {
        let cutoff = now.addingTimeInterval(-Double(graceSeconds ?? files.graceSeconds))
        do {
            _ = try await files.catalog.deleteExpiredUploads(now: Timestamp.format(now))
        } catch let error as StoreError where error.code == .storageFull {
            // On a full disk even this delete may not fit in the WAL: the blobs below are what
            // frees space, so the collection goes on without it.
        }
        // The referenced set is read after the listing: a reference made in between names a blob
        // that was just written or touched, which the cutoff protects.
        let blobs = try await files.blobs.list()
        let referenced = try await files.catalog.referencedBlobs(now: Timestamp.format(now))
        var report = CollectionReport()
        for id in blobs {
            if referenced.contains(id.hex) {
                report.kept += 1
            } else if try await files.blobs.delete(id, ifUnmodifiedSince: cutoff) {
                report.removed += 1
            } else {
                report.kept += 1
            }
        }
        report.temporaries = try await files.blobs.sweepTemporaries(olderThan: cutoff)
        return report
    }
}
