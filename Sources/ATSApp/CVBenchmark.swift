import ATSBlob
import ATSDemo
import ATSDocuments
import ATSDomain
import ATSStore
import ATSWork
import Foundation
import Logging

/// `ats cv-bench`: CV ingestion throughput on the demo agency's CV files (PDFs through
/// pdftotext, DOCX through the built-in reader), for `make bench`'s files table.
public enum CVBenchmark {
    public struct Result: Sendable {
        /// Extraction and parsing only, per format: documents per second.
        public var parsePerSecond: [String: Double] = [:]
        /// The whole job (read blob, extract, parse, fill the candidate, record the document).
        public var jobsPerSecond = 0.0
        public var documents = 0
    }

    /// Loads a demo agency of `count` candidates into the configuration's (empty) data folder,
    /// gives each a CV, and times the ingestion of all of them.
    public static func run(_ configuration: Configuration, count: Int, logger: Logger) async throws -> Result {
        let store = try Appliance.openStore(configuration, logger: logger, server: true)
        guard let directory = configuration.referenceDirectory.map({ URL(fileURLWithPath: $0) }) ?? ReferenceData.locate() else {
            throw AdministrationError("cannot find the reference data (Data/reference); set ATS_REFERENCE_DIR")
        }
        var demo = DemoConfiguration()
        demo.candidates = count
        if try await store.organization(slug: DemoAgency.slug) == nil {
            _ = try await DemoAgency.load(into: store, reference: try ReferenceData.load(from: directory), configuration: demo) { _ in }
        }
        guard let organization = try await store.organization(slug: DemoAgency.slug) else { throw AdministrationError("no demo agency") }
        let files = try Appliance.makeFiles(configuration, store: store, served: store, logger: logger)
        _ = try await DemoCVs.attach(store: store, files: files.work, organizationID: organization.id, count: count)
        let page = try await store.list(
            .document, organizationID: organization.id, query: ListQuery(page: PageRequest(limit: PageRequest.maxLimit)))
        var documents: [(id: String, blob: BlobID, format: String)] = []
        for item in page.items {
            guard let fields = JSONCoding.decodeObject(Data(item.json.utf8)), let hex = fields["sha256"]?.stringValue,
                let blob = BlobID(hex: hex)
            else { continue }
            documents.append((item.id, blob, (fields["filename"]?.stringValue as NSString?)?.pathExtension ?? "?"))
        }
        let ingest = files.gateway.ingest
        var result = Result(documents: documents.count)
        for format in Set(documents.map(\.format)).sorted() {
            let subset = documents.filter { $0.format == format }
            let started = ContinuousClock.now
            for document in subset { _ = try await ingest.analyse(document.blob, parse: true) }
            result.parsePerSecond[format] = Double(subset.count) / seconds(ContinuousClock.now - started)
        }
        let started = ContinuousClock.now
        for document in documents { _ = try await ingest.process(organizationID: organization.id, documentID: document.id) }
        result.jobsPerSecond = Double(documents.count) / seconds(ContinuousClock.now - started)
        return result
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
