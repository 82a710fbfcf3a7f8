import ATSBlob
import ATSDocuments
import ATSDomain
import ATSJobs
import ATSStore
import Dispatch
import Foundation
import Logging
import Synchronization

/// Turns a stored file into text and, for a CV, into candidate fields: extract -> parse ->
/// fill the candidate's empty fields (never what a recruiter typed) -> record the result and
/// its confidence on the document. The search sync re-indexes the candidate from the writes.
public struct DocumentIngest: Sendable {
    let store: any Store
    let files: FileDependencies
    let logger: Logger
    static let actor = "system:cv-parser"

    public init(store: any Store, files: FileDependencies, logger: Logger) {
        self.store = store
        self.files = files
        self.logger = logger
    }

    /// What a file turned into.
    public struct Analysis: Sendable {
        public var text: String
        public var parsed: ParsedCV?
    }

    /// The reason a file could not be read, for the document and the job's error.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// Reads and extracts a blob; `parse` runs the CV parser on the text.
    public func analyse(_ blob: BlobID, parse: Bool) async throws -> Analysis {
        guard let info = try await files.blobs.info(blob) else { throw Failure(reason: "The file is missing from the blob store.") }
        let limits = ExtractionLimits()
        guard info.size <= Int64(limits.maxInputBytes) else {
            throw Failure(reason: "The file is larger than \(limits.maxInputBytes / 1_048_576) MiB, the most text is extracted from.")
        }
        guard let format = DocumentFormat(contentType: info.contentType) else {
            throw Failure(reason: "Text cannot be extracted from this kind of file (\(info.contentType)); upload a PDF, DOCX, RTF or text file.")
        }
        let bytes: [UInt8]
        do {
            bytes = try await files.blobs.readAll(blob)
        } catch let error as BlobError {
            throw Failure(reason: error.code == .corrupted ? "The stored file is corrupted (its checksum does not match)." : "The file cannot be read: \(error).")
        }
        let taxonomy = parse ? files.taxonomy : nil
        // Extraction and parsing are CPU work of up to seconds on a large CV: they run on a
        // thread of their own, so the shared pool keeps answering requests meanwhile.
        return try await withTaskExecutorPreference(DocumentExecutor.shared) {
            let text: String
            do {
                text = try await TextExtractor.extract(bytes: bytes, format: format, limits: limits)
            } catch let error as DocumentError {
                throw Failure(reason: error.reason)
            }
            return Analysis(text: text, parsed: taxonomy.map { CVParser(taxonomy: $0).parse(text) })
        }
    }

    /// The job's work: the document's file -> its text -> (a CV) the candidate's empty fields.
    /// A file that cannot be read marks the document failed with the reason, and fails the job
    /// with it (permanently: the same bytes fail the same way).
    public func process(organizationID: String, documentID: String) async throws -> JSONObject {
        guard let document = try await store.record(.document, organizationID: organizationID, id: documentID) else {
            return ["skipped": "the document was deleted"]
        }
        guard let hex = document.fields["sha256"]?.stringValue, let blob = BlobID(hex: hex) else {
            _ = try await setDocument(organizationID, documentID, ["parseStatus": "none"])
            return ["skipped": "the document has no file"]
        }
        let isCV = document.fields["kind"]?.stringValue == "cv"
        let analysis: Analysis
        do {
            analysis = try await analyse(blob, parse: isCV)
        } catch let failure as Failure {
            _ = try await setDocument(
                organizationID, documentID, ["parseStatus": "failed", "parseError": .string(String(failure.reason.prefix(500)))])
            throw JobFailure.permanent(failure.reason)
        }
        var result: JSONObject = ["characters": .int(Int64(analysis.text.count))]
        var update: JSONObject = ["extractedText": .string(Self.bounded(analysis.text)), "parseStatus": "parsed", "parseError": .null]
        if let parsed = analysis.parsed, let candidateID = document.fields["candidateId"]?.stringValue {
            let filled = try await fill(candidateID: candidateID, organizationID: organizationID, from: parsed)
            var summary = parsed.json
            summary["filled"] = .array(filled.fields.map(JSONValue.string))
            if let duplicate = filled.duplicateOf { summary["duplicateOf"] = .string(duplicate) }
            update["parsed"] = .object(summary)
            result["filled"] = .array(filled.fields.map(JSONValue.string))
            result["confidence"] = .double(parsed.overallConfidence)
        }
        _ = try await setDocument(organizationID, documentID, update)
        return result
    }

    /// The fields a CV gave a candidate, and the candidate it duplicates (same email or phone).
    public struct Filled: Sendable {
        public var fields: [String] = []
        public var duplicateOf: String?
    }

    /// Writes the parsed values into the candidate's empty fields. A parsed email or phone that
    /// another candidate has is left out and reported as a duplicate instead.
    public func fill(candidateID: String, organizationID: String, from parsed: ParsedCV) async throws -> Filled {
        let values = parsed.candidateFields
        var filled = Filled()
        var skip: Set<String> = []
        for _ in 0..<3 {
            do {
                let names = Mutex<[String]>([])
                let skip = skip
                _ = try await store.update(
                    .candidate, organizationID: organizationID, id: candidateID, actor: Self.actor, options: WriteOptions()
                ) { current in
                    // The parse's own rule: empty fields only, values of confidence 0.5 or more.
                    var patch: JSONObject = [:]
                    for name in parsed.filling(current.fields).filled where !skip.contains(name) { patch[name] = values[name] }
                    names.withLock { $0 = patch.keys.sorted() }
                    return try EntitySchema.of(.candidate).validatePatch(patch, onto: current.fields)
                }
                filled.fields = names.withLock { $0 }
                return filled
            } catch let error as StoreError where error.code == .duplicate {
                filled.duplicateOf = error.existingID
                skip.formUnion(["email", "phone"])
            } catch let error as StoreError where error.code == .notFound {
                return filled
            } catch let error as ValidationError {
                // A parsed value the schema refuses (an odd phone number) is left out; the rest stays.
                skip.formUnion(error.errors.map { String($0.field.split(separator: ".").first ?? "") })
            }
        }
        return filled
    }

    /// Candidate fields from a parse, by the schema's names: the ones parsed with at least
    /// `minimumConfidence` (a guessed name is not written over nothing by a 0.3 guess).
    public static func candidateFields(_ parsed: ParsedCV, minimumConfidence: Double = 0.5) -> JSONObject {
        parsed.candidateFields.filter { (parsed.confidence[$0.key] ?? 0) >= minimumConfidence }
    }

    /// The schema's bound on stored text.
    static func bounded(_ text: String) -> String {
        text.count <= 200_000 ? text : String(text.prefix(200_000))
    }

    func setDocument(_ organizationID: String, _ documentID: String, _ values: JSONObject) async throws -> Record? {
        do {
            return try await store.update(
                .document, organizationID: organizationID, id: documentID, actor: Self.actor, options: WriteOptions(systemFields: true)
            ) { current in
                var fields = current.fields
                for (name, value) in values { fields[name] = value }
                return fields
            }
        } catch let error as StoreError where error.code == .notFound {
            return nil
        }
    }
}

/// The thread document extraction and CV parsing run on: one serial queue (libdispatch gives
/// it a thread of its own, outside Swift's cooperative pool, which on a 2-core VM has only two
/// threads for every request and job).
final class DocumentExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = DocumentExecutor()
    let queue = DispatchQueue(label: "ats.documents", qos: .utility)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
