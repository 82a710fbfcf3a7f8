import ATSDomain
import ATSJobs
import ATSStore
import Foundation
import Logging

/// CSV/JSON exports of candidates, jobs and applications, run as jobs on the `exports` queue.
public enum ExportWork {
    public static func handlers(_ dependencies: WorkDependencies) -> [any JobHandler] {
        ExportKind.allCases.map { ExportHandler(kind: $0, dependencies: dependencies) }
            + [CandidateImportHandler(dependencies: dependencies)]
    }

    /// The job that exports `request` for an organization; its id is the export's id.
    public static func jobRequest(_ request: ExportRequest, organizationID: String, actor: String) -> JobRequest {
        JobRequest(
            queue: JobQueues.exports, type: request.kind.jobType, payload: request.payload(organizationID: organizationID, actor: actor),
            maxAttempts: 3, organizationID: organizationID)
    }
}

/// What can be exported.
public enum ExportKind: String, Sendable, CaseIterable, Hashable {
    case candidates, jobs, applications

    public var entity: EntityKind {
        switch self {
        case .candidates: .candidate
        case .jobs: .job
        case .applications: .application
        }
    }

    /// `export.candidates` ...
    public var jobType: String { "export.\(rawValue)" }

    public init?(jobType: String) {
        guard jobType.hasPrefix("export."), let kind = ExportKind(rawValue: String(jobType.dropFirst(7))) else { return nil }
        self = kind
    }
}

public enum ExportFormat: String, Sendable, CaseIterable, Hashable {
    case csv, json

    public var fileExtension: String { rawValue }
    public var contentType: String { self == .csv ? "text/csv; charset=utf-8" : "application/json" }
}

/// An export order: what, in which format, with the list endpoints' filters.
public struct ExportRequest: Sendable, Hashable {
    public var kind: ExportKind
    public var format: ExportFormat
    /// Filter name (as on the list endpoint: `status`, `owner`, `client`, `job`, `stage`, `tag`,
    /// `updatedSince` ...) -> value, already validated.
    public var filters: [String: String]

    public init(kind: ExportKind, format: ExportFormat, filters: [String: String] = [:]) {
        self.kind = kind
        self.format = format
        self.filters = filters
    }

    /// Reads `{kind, format, filters}` (an API body or a job payload), with every problem at once.
    public init(parsing body: JSONObject) throws(ValidationError) {
        var errors: [FieldError] = []
        for key in body.keys where !["kind", "format", "filters", "organizationId", "actor"].contains(key) {
            errors.append(FieldError(key, "is not a known field"))
        }
        let kind = body["kind"]?.stringValue.flatMap(ExportKind.init(rawValue:))
        if kind == nil { errors.append(FieldError("kind", "must be one of candidates, jobs, applications")) }
        var format = ExportFormat.csv
        if let raw = body["format"] {
            if let value = raw.stringValue.flatMap(ExportFormat.init(rawValue:)) { format = value } else {
                errors.append(FieldError("format", "must be csv or json"))
            }
        }
        var filters: [String: String] = [:]
        if let raw = body["filters"], !raw.isNull {
            if let object = raw.objectValue, let kind {
                filters = Self.validateFilters(object, kind: kind, errors: &errors)
            } else if raw.objectValue == nil {
                errors.append(FieldError("filters", "must be an object"))
            }
        }
        guard errors.isEmpty, let kind else { throw ValidationError(errors) }
        self.init(kind: kind, format: format, filters: filters)
    }

    /// The filters a kind accepts: its list filters, `tag` when it has tags, and `updatedSince`.
    public static func filterNames(_ kind: ExportKind) -> [String] {
        let schema = EntitySchema.of(kind.entity)
        return schema.filters.map(\.name) + (schema.hasTags ? ["tag"] : []) + ["updatedSince"]
    }

    static func validateFilters(_ object: JSONObject, kind: ExportKind, errors: inout [FieldError]) -> [String: String] {
        let schema = EntitySchema.of(kind.entity)
        var result: [String: String] = [:]
        for (name, value) in object {
            let path = "filters.\(name)"
            var text: String
            switch value {
            case .string(let string): text = string
            case .bool(let flag): text = flag ? "true" : "false"
            case .int(let number): text = String(number)
            default:
                errors.append(FieldError(path, "must be a string"))
                continue
            }
            text = text.trimmingCharacters(in: .whitespaces)
            if name == "updatedSince" {
                if let canonical = Timestamp.canonical(text) { result[name] = canonical } else {
                    errors.append(FieldError(path, "must be an RFC 3339 date-time"))
                }
            } else if name == "tag", schema.hasTags {
                if (1...50).contains(text.count) { result[name] = text } else {
                    errors.append(FieldError(path, "must be a tag of 1 to 50 characters"))
                }
            } else if let filter = schema.filters.first(where: { $0.name == name }) {
                var type = filter.type
                if case .boolean = type { type = .enumeration(["true", "false"]) }
                var fieldErrors: [FieldError] = []
                if let normalized = EntitySchema.normalize(.string(text), as: type, path: path, errors: &fieldErrors),
                    let string = normalized.stringValue
                {
                    result[name] = string
                } else {
                    errors.append(FieldError(path, "must be \(filter.type.expectation)"))
                }
            } else {
                errors.append(
                    FieldError(path, "is not a filter of \(kind.rawValue) (one of \(filterNames(kind).joined(separator: ", ")))"))
            }
        }
        return result
    }

    /// The store query for one page of the export: oldest first, so a long export is stable.
    public func listQuery(cursor: Cursor?) -> ListQuery {
        let schema = EntitySchema.of(kind.entity)
        var query = ListQuery(sort: SortOrder(key: .createdAt, descending: false), page: PageRequest(limit: PageRequest.maxLimit, cursor: cursor))
        for (name, value) in filters {
            switch name {
            case "tag": query.tag = value
            case "updatedSince": query.updatedSince = value
            default:
                if let filter = schema.filters.first(where: { $0.name == name }) { query.equals[filter.field] = value }
            }
        }
        return query
    }

    func payload(organizationID: String, actor: String) -> JSONObject {
        [
            "organizationId": .string(organizationID), "actor": .string(actor), "kind": .string(kind.rawValue),
            "format": .string(format.rawValue), "filters": .object(filters.mapValues(JSONValue.string)),
        ]
    }
}

/// Where export files live. One place, so the file tier can move them to blobs behind
/// presigned links without hunting for paths.
public enum ExportFiles {
    /// `<data>/exports/<organization id>/<job id>.<ext>`.
    public static func path(dataDirectory: String, organizationID: String, jobID: String, format: ExportFormat) -> String {
        folder(dataDirectory: dataDirectory, organizationID: organizationID) + "/\(jobID).\(format.fileExtension)"
    }

    public static func folder(dataDirectory: String, organizationID: String) -> String {
        "\(dataDirectory)/exports/\(organizationID)"
    }

    /// How long an export stays downloadable once it is in the blob store: a week.
    public static let retention: TimeInterval = 7 * 86_400

    /// The name a browser saves the file under.
    public static func downloadName(kind: ExportKind, format: ExportFormat, jobID: String) -> String {
        "\(kind.rawValue)-\(jobID.lowercased()).\(format.fileExtension)"
    }
}

/// How an entity's documents become CSV columns: `id`, `createdAt`, `updatedAt`, then the
/// schema's fields in order, objects flattened to `parent.child`; lists of names joined by
/// `; `, lists of objects as JSON text.
public struct ExportColumns: Sendable {
    public let names: [String]
    let paths: [[String]]

    public init(kind: EntityKind) {
        var names = ["id", "createdAt", "updatedAt"]
        var paths = [["id"], ["createdAt"], ["updatedAt"]]
        for field in EntitySchema.of(kind).fields {
            if case .object(let nested) = field.type {
                for child in nested {
                    names.append("\(field.name).\(child.name)")
                    paths.append([field.name, child.name])
                }
            } else {
                names.append(field.name)
                paths.append([field.name])
            }
        }
        self.names = names
        self.paths = paths
    }

    public func cells(_ document: JSONObject) -> [String] {
        paths.map { path in
            var value: JSONValue? = .object(document)
            for key in path { value = value?.objectValue?[key] }
            return Self.cell(value)
        }
    }

    static func cell(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: ""
        case .string(let text)?: text
        case .bool(let flag)?: flag ? "true" : "false"
        case .int(let number)?: String(number)
        case .double(let number)?: String(number)
        case .array(let items)?:
            items.allSatisfy({ $0.objectValue == nil && $0.arrayValue == nil })
                ? items.map { cell($0) }.joined(separator: "; ") : JSONText.serialize(.array(items))
        case .object(let object)?: JSONText.serialize(.object(object))
        }
    }
}

/// Summary of one finished export.
public struct ExportResult: Sendable, Hashable {
    public var rows: Int
    public var bytes: Int
    public var path: String
}

/// Writes an export file: pages through `Store.list` with the filters, streams rows into a
/// temporary file beside the target and renames it into place, so a reader never sees half a file.
public enum ExportWriter {
    public static func write(
        _ request: ExportRequest, organizationID: String, store: any Store, to path: String,
        progress: @Sendable (Int) async -> Bool = { _ in true }
    ) async throws -> ExportResult {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temporary = folder + "/.\(UUID().uuidString).partial"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw JobFailure.transient("cannot create the export file")
        }
        var handle: FileHandle? = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        defer {
            try? handle?.close()
            if FileManager.default.fileExists(atPath: temporary) { try? FileManager.default.removeItem(atPath: temporary) }
        }
        var out: [UInt8] = []
        out.reserveCapacity(300_000)
        var bytes = 0
        func flush(force: Bool = false) throws {
            guard force || out.count >= 256 * 1024 else { return }
            try handle?.write(contentsOf: out)
            bytes += out.count
            out.removeAll(keepingCapacity: true)
        }
        let columns = ExportColumns(kind: request.kind.entity)
        switch request.format {
        case .csv: out += Array(CSVWriter.record(columns.names).utf8)
        case .json: out += Array("[".utf8)
        }
        var rows = 0
        var cursor: Cursor?
        repeat {
            try Task.checkCancellation()
            let page = try await store.list(request.kind.entity, organizationID: organizationID, query: request.listQuery(cursor: cursor))
            for item in page.items {
                switch request.format {
                case .csv:
                    let document = JSONCoding.decodeObject(Array(item.json.utf8)) ?? [:]
                    out += Array(CSVWriter.record(columns.cells(document)).utf8)
                case .json:
                    out += Array(((rows == 0 ? "\n" : ",\n") + item.json).utf8)
                }
                rows += 1
            }
            try flush()
            cursor = page.nextCursor
            guard await progress(rows) else { throw CancellationError() }
        } while cursor != nil
        if request.format == .json { out += Array((rows == 0 ? "]\n" : "\n]\n").utf8) }
        try flush(force: true)
        try handle?.synchronize()
        try handle?.close()
        handle = nil
        guard rename(temporary, path) == 0 else { throw JobFailure.transient("cannot move the export file into place") }
        return ExportResult(rows: rows, bytes: bytes, path: path)
    }
}

/// Runs `export.<kind>` jobs: payload `{organizationId, actor, kind, format, filters}`.
struct ExportHandler: JobHandler {
    let kind: ExportKind
    let dependencies: WorkDependencies
    var type: String { kind.jobType }

    func run(_ job: Job, context: JobContext) async throws -> JSONObject? {
        let request: ExportRequest
        do {
            request = try ExportRequest(parsing: job.payload)
        } catch {
            throw JobFailure.permanent("bad export payload: \(error.errors.map { "\($0.field) \($0.message)" }.joined(separator: "; "))")
        }
        guard request.kind == kind, let organizationID = job.payload["organizationId"]?.stringValue ?? job.organizationID else {
            throw JobFailure.permanent("bad export payload: organizationId and a matching kind are required")
        }
        let path = ExportFiles.path(
            dataDirectory: dependencies.dataDirectory, organizationID: organizationID, jobID: job.id, format: request.format)
        let result = try await ExportWriter.write(request, organizationID: organizationID, store: dependencies.store, to: path) { rows in
            // The total is unknown without a second pass: the bar creeps towards 95 % and jumps at the end.
            let percent = 95 * (1 - 1 / (1 + Double(rows) / 2000))
            return await context.progress(percent, "\(rows) rows written")
        }
        var output: JSONObject = [
            "kind": .string(kind.rawValue), "format": .string(request.format.rawValue), "rows": .int(Int64(result.rows)),
            "bytes": .int(Int64(result.bytes)),
            "filename": .string(ExportFiles.downloadName(kind: kind, format: request.format, jobID: job.id)),
        ]
        if let files = dependencies.files {
            // The file tier keeps the export (deduplicated, verified, replicated) for a week,
            // and hands it out through presigned links; the working file goes.
            let info = try await files.blobs.put(FileChunks(path: path), limit: .max)
            try await files.catalog.addBlobReference(
                organizationID: organizationID, blob: info.id.hex, owner: "export:\(job.id)",
                expiresAt: Timestamp.format(Date().addingTimeInterval(ExportFiles.retention)))
            try? FileManager.default.removeItem(atPath: path)
            output["blob"] = .string(info.id.hex)
        }
        await context.progress(100, "\(result.rows) rows written")
        return output
    }
}
