import ATSBlob
import ATSDocuments
import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation

/// CV files for the demo agency: PDFs and DOCX written from candidates' records, stored as
/// blobs with a document each and an extraction job, so `make run` shows the whole CV path
/// (upload -> job -> text and parse -> search) on real files.
enum DemoCVs {
    /// Attaches a CV to the first `count` candidates of the organization.
    static func attach(
        store: SQLiteStore, files: FileDependencies, organizationID: String, count: Int
    ) async throws -> Int {
        let jobs = SQLiteJobQueue(pool: store.pool, logger: .init(label: "ats.demo"))
        try jobs.migrate()
        let page = try await store.list(
            .candidate, organizationID: organizationID, query: ListQuery(page: PageRequest(limit: min(count, PageRequest.maxLimit))))
        var attached = 0
        for (index, item) in page.items.enumerated() {
            guard let fields = JSONCoding.decodeObject(Data(item.json.utf8)) else { continue }
            let lines = SampleDocuments.cvLines(candidate: fields, now: Date())
            let pdf = index % 2 == 0
            let bytes = pdf ? SampleDocuments.pdf(lines: lines) : SampleDocuments.docx(paragraphs: lines)
            let info = try await files.blobs.put(bytes: bytes)
            let name = [fields["firstName"]?.stringValue, fields["lastName"]?.stringValue].compactMap { $0 }.joined(separator: "-")
            let document = try await store.create(
                .document, organizationID: organizationID,
                fields: [
                    "candidateId": .string(item.id), "kind": "cv", "filename": .string("CV-\(name).\(pdf ? "pdf" : "docx")"),
                    "contentType": .string(info.contentType), "sizeBytes": .int(info.size), "sha256": .string(info.id.hex),
                    "parseStatus": "pending",
                ],
                actor: "system:demo", options: WriteOptions(systemFields: true))
            _ = try await jobs.enqueue(FileWork.extractRequest(organizationID: organizationID, documentID: document.id))
            attached += 1
        }
        return attached
    }
}
