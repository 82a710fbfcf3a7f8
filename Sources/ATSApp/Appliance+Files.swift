import ATSBlob
import ATSDemo
import ATSDocuments
import ATSHTTP
import ATSStore
import ATSWork
import Foundation
import Logging
import Tracing

/// The file tier's composition: content-addressed files in DATA/blobs, their records in the
/// store, and the CV parser with the reference taxonomy.
extension Appliance {
    /// The blob store, its catalog and the CV parser as the jobs and the gateway see them.
    public static func makeFiles(
        _ configuration: Configuration, store: SQLiteStore, served: any Store, logger: Logger, tracer: (any Tracer)? = nil
    ) throws -> (work: FileDependencies, gateway: FileServices) {
        let blobs = try FileBlobStore(
            configuration: FileBlobStore.Configuration(root: configuration.blobsDirectory, compress: configuration.blobCompress),
            logger: logger)
        let taxonomy: CVTaxonomy?
        if let directory = configuration.referenceDirectory ?? ReferenceData.locate()?.path {
            do {
                taxonomy = try CVTaxonomy(referenceDirectory: directory)
            } catch {
                logger.warning("CV parsing is off: the reference data cannot be read", metadata: ["error": "\(error)"])
                taxonomy = nil
            }
        } else {
            logger.warning("CV parsing is off: no reference data (set ATS_REFERENCE_DIR)")
            taxonomy = nil
        }
        let work = FileDependencies(
            blobs: blobs, catalog: store, maxBytes: configuration.blobMaxBytes, graceSeconds: configuration.blobGraceSeconds,
            taxonomy: taxonomy)
        let gateway = FileServices(
            blobs: blobs, catalog: store, maxBytes: configuration.blobMaxBytes, presignSeconds: configuration.presignSeconds,
            publicURL: configuration.publicURL, ingest: DocumentIngest(store: served, files: work, logger: logger), tracer: tracer)
        return (work, gateway)
    }
}
