import ATSBlob
import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Exports (CSV/JSON files made by jobs) and CSV imports of candidates.
extension RouteTable {
    func addExportRoutes() {
        let gateway = self.gateway
        let idParameter = ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "The export's id (its job id).")
        var filterProperties: JSONObject = ["updatedSince": JSONSchema.dateTime]
        for kind in ExportKind.allCases {
            let schema = EntitySchema.of(kind.entity)
            for filter in schema.filters { filterProperties[filter.name] = .object(["type": "string"]) }
            if schema.hasTags { filterProperties["tag"] = .object(["type": "string", "minLength": 1, "maxLength": 50]) }
        }

        add(
            Operation(
                method: .post, path: "/api/v1/exports", operationID: "createExport",
                summary: "Start an export of candidates, jobs or applications (CSV or JSON) with the list filters; a job makes the file.",
                tag: "exports", access: .role(.recruiter),
                requestBody: JSONSchema.strict(
                    [
                        "kind": JSONSchema.enumeration(ExportKind.allCases.map(\.rawValue)),
                        "format": JSONSchema.enumeration(ExportFormat.allCases.map(\.rawValue)),
                        "filters": .object([
                            "type": "object", "properties": .object(filterProperties), "additionalProperties": false,
                            "description": "The filters of the kind's list endpoint.",
                        ]),
                    ], required: ["kind"]),
                success: (202, Self.exportStatusSchema, "application/json"), errors: [503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let work = try gateway.requireWork()
                let body = try await gateway.jsonObject(request)
                for key in body.keys where !["kind", "format", "filters"].contains(key) {
                    throw Problem.validation([FieldError(key, "is not a known field")])
                }
                let exportRequest = try ExportRequest(parsing: body)
                let job = try await Self.jobCall {
                    try await work.jobs.enqueue(
                        ExportWork.jobRequest(exportRequest, organizationID: principal.organizationID, actor: principal.actor))
                }
                return gateway.json(Self.exportStatus(job), status: .accepted, headers: [.location: "/api/v1/exports/\(job.id)"])
            })

        add(
            Operation(
                method: .get, path: "/api/v1/exports/{id}", operationID: "getExport",
                summary: "An export's state and progress; `downloadUrl` once the file is ready.", tag: "exports",
                access: .role(.recruiter), parameters: [idParameter], success: (200, Self.exportStatusSchema, "application/json"),
                errors: [503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let job = try await Self.ownJob(id, principal: principal, gateway: gateway) { ExportKind(jobType: $0) != nil }
                var status = Self.exportStatus(job)
                if job.state == .completed, let files = gateway.files, let hex = job.result?["blob"]?.stringValue,
                    let format = (job.result?["format"] ?? job.payload["format"])?.stringValue.flatMap(ExportFormat.init(rawValue:)),
                    let kind = ExportKind(jobType: job.type)
                {
                    // A presigned link: a browser or a script fetches it without the API key. It
                    // lives as long as the export's file is kept (a week from the export's end,
                    // as the README says), not `ATS_PRESIGN_SECONDS`, which is for CV links.
                    let now = Date()
                    let keptUntil = (job.finishedAt ?? now).addingTimeInterval(ExportFiles.retention)
                    let seconds = Int(keptUntil.timeIntervalSince(now).rounded(.down))
                    if seconds > 0 {
                        let name = ExportFiles.downloadName(kind: kind, format: format, jobID: job.id)
                        let signed = try await files.presign(
                            method: "GET", path: "/files/\(hex)/\(FileServices.pathSegment(name))",
                            organizationID: principal.organizationID, request: request, seconds: seconds, now: now)
                        status["downloadUrl"] = .string(signed.url)
                        status["downloadExpiresAt"] = .string(signed.expiresAt)
                    }
                }
                return gateway.json(status)
            })

        add(
            Operation(
                method: .get, path: "/api/v1/exports/{id}/download", operationID: "downloadExport",
                summary: "The export file (CSV or JSON by the export's format) as an attachment; 409 until it is ready.",
                tag: "exports", access: .role(.recruiter), parameters: [idParameter],
                success: (200, .object(["type": "string", "format": "binary"]), "application/octet-stream"), errors: [409, 503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let job = try await Self.ownJob(id, principal: principal, gateway: gateway) { ExportKind(jobType: $0) != nil }
                guard job.state == .completed, let kind = ExportKind(jobType: job.type),
                    let format = (job.result?["format"] ?? job.payload["format"])?.stringValue.flatMap(ExportFormat.init(rawValue:))
                else {
                    let detail = job.state.isFinished
                        ? "The export ended without a file (\(job.state.rawValue)); start a new one."
                        : "The export is \(job.state.rawValue); poll GET /api/v1/exports/\(job.id) until it is completed."
                    throw Problem.conflict("export-not-ready", detail)
                }
                let name = ExportFiles.downloadName(kind: kind, format: format, jobID: job.id)
                if let hex = job.result?["blob"]?.stringValue, let files = gateway.files, let id = BlobID(hex: hex) {
                    guard let info = try await files.blobs.info(id) else { throw Problem.notFound("This export's file") }
                    var response = try await Self.serve(info, name: name, request: request, files: files, head: false)
                    response.headers[.contentType] = format.contentType
                    return response
                }
                let work = try gateway.requireWork()
                let path = ExportFiles.path(
                    dataDirectory: work.dataDirectory, organizationID: principal.organizationID, jobID: job.id, format: format)
                guard FileManager.default.fileExists(atPath: path) else { throw Problem.notFound("This export's file") }
                let body = try await FileIO().loadFile(path: path, context: context)
                return Response(
                    status: .ok,
                    headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\"\(name)\""],
                    body: body)
            })

        addImportRoutes()
    }

    func addImportRoutes() {
        let gateway = self.gateway
        add(
            Operation(
                method: .post, path: "/api/v1/imports/candidates", operationID: "importCandidates",
                summary: """
                    Import candidates from a CSV file sent as the body (Content-Type text/csv, UTF-8, header row first). \
                    Columns map to candidate fields by header name (`First name`, `first_name`, `firstName` ...) or by \
                    `mapping`: a JSON object of header -> field (null skips a column), as a query parameter or the \
                    X-Import-Mapping header. A job imports the rows; poll GET /api/v1/imports/{id}.
                    """,
                tag: "imports", access: .role(.recruiter),
                parameters: [
                    ParameterDoc(
                        name: "mapping", location: .query, schema: JSONSchema.string,
                        summary: "JSON object: CSV header -> candidate field (or null to skip the column).")
                ],
                requestBody: .object(["type": "string", "description": "The CSV file, UTF-8, header row first."]),
                requestContentType: "text/csv",
                success: (202, Self.importStatusSchema, "application/json"), errors: [413, 415, 422, 503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let work = try gateway.requireWork()
                if let type = request.headers[.contentType]?.lowercased() {
                    let accepted = ["text/csv", "text/plain", "application/csv", "application/vnd.ms-excel", "application/octet-stream"]
                    guard accepted.contains(where: { type.hasPrefix($0) }) else {
                        throw Problem(
                            .unsupportedMediaType, "unsupported-media-type", "Unsupported media type",
                            detail: "Send the CSV file itself as the body, with Content-Type text/csv.")
                    }
                }
                let rawMapping = QueryReader(request)["mapping"] ?? request.headers[.importMapping]
                let mapping: [String: String?]
                do {
                    var value: JSONValue? = nil
                    if let rawMapping, !rawMapping.isEmpty {
                        guard let parsed = try? JSONText.parse(Array(rawMapping.utf8)) else {
                            throw ImportError("the mapping is not valid JSON")
                        }
                        value = parsed
                    }
                    mapping = try CandidateImport.parseMapping(value)
                } catch let error as ImportError {
                    throw Problem.validation([FieldError("mapping", error.message)])
                }
                let folder = CandidateImportJob.uploadFolder(dataDirectory: work.dataDirectory, organizationID: principal.organizationID)
                let path = "\(folder)/\(Identifier.make()).csv"
                do {
                    try await Self.receiveUpload(request, to: path, limit: ImportOptions.maxUploadBytes)
                } catch let error as Problem where error.slug == "insufficient-storage" {
                    work.storage?.reportFull("imports")
                    throw error
                }
                do {
                    try Self.checkHeader(path: path, mapping: mapping)
                    let job = try await Self.jobCall {
                        try await work.jobs.enqueue(
                            CandidateImportJob.jobRequest(
                                organizationID: principal.organizationID, path: path, mapping: mapping, actor: principal.actor))
                    }
                    return gateway.json(Self.importStatus(job), status: .accepted, headers: [.location: "/api/v1/imports/\(job.id)"])
                } catch {
                    try? FileManager.default.removeItem(atPath: path)
                    throw error
                }
            })

        add(
            Operation(
                method: .get, path: "/api/v1/imports/{id}", operationID: "getImport",
                summary: "An import's state, progress and, once finished, its summary and per-row errors.", tag: "imports",
                access: .role(.recruiter),
                parameters: [ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "The import's id (its job id).")],
                success: (200, Self.importStatusSchema, "application/json"), errors: [503]
            ) { _, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let job = try await Self.ownJob(id, principal: principal, gateway: gateway) { $0 == CandidateImportJob.type }
                return gateway.json(Self.importStatus(job))
            })
    }

    // MARK: Helpers

    /// A job of this organization and of an accepted type; 404 otherwise (another tenant's id looks missing).
    static func ownJob(_ id: String, principal: Principal, gateway: Gateway, type accepts: (String) -> Bool) async throws -> Job {
        let work = try gateway.requireWork()
        let job = try await jobCall { try await work.jobs.job(id: id) }
        guard let job, job.organizationID == principal.organizationID, accepts(job.type) else {
            throw Problem.notFound("This \(accepts(CandidateImportJob.type) ? "import" : "export")")
        }
        return job
    }

    /// Job-tier errors as answers: never a 500 for a queue that is busy or a job that vanished.
    static func jobCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as JobQueueError {
            switch error.code {
            case .notFound: throw Problem.notFound("This job")
            case .invalidRequest: throw Problem.validation([FieldError("job", error.message)])
            case .invalidState: throw Problem.conflict("job-state", error.message)
            case .unavailable:
                throw Problem(
                    .serviceUnavailable, "jobs-unavailable", "Jobs unavailable", detail: "The job queue is busy; retry shortly.",
                    headers: [.retryAfter: "1"])
                case .storageFull: throw Problem.insufficientStorage("the job queue")
            }
        }
    }

    /// Streams the body into `path` (through a temporary name), at most `limit` bytes.
    static func receiveUpload(_ request: Request, to path: String, limit: Int) async throws {
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw Self.fileProblem(error, folder: folder)
        }
        let partial = path + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil),
            let handle = FileHandle(forWritingAtPath: partial)
        else {
            try? FileManager.default.removeItem(atPath: partial)
            throw Self.fileProblem(nil, folder: folder)
        }
        var total = 0
        do {
            defer { try? handle.close() }
            for try await buffer in request.body {
                total += buffer.readableBytes
                if total > limit { throw Problem.tooLarge(limit: limit) }
                do {
                    try handle.write(contentsOf: buffer.readableBytesView)
                } catch {
                    throw Self.fileProblem(error, folder: folder)
                }
            }
            // The job reads the file later: it must be whole on disk, or fail here (a full
            // disk can also surface only at the flush).
            do { try handle.synchronize() } catch { throw Self.fileProblem(error, folder: folder) }
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        guard total > 0 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw Problem.badRequest("empty-body", "Send the CSV file as the request body (Content-Type text/csv).")
        }
        guard rename(partial, path) == 0 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw Self.fileProblem(nil, folder: folder)
        }
    }

    /// A file write that failed: 507 when the disk or quota is full (the error says so, or the
    /// volume has no room left), 503 otherwise; never a 500.
    static func fileProblem(_ error: (any Error)?, folder: String) -> Problem {
        if let error, isOutOfSpace(error) { return Problem.insufficientStorage("the import's upload") }
        // The nearest folder that exists is on the same volume.
        var existing = folder
        var space = StorageMonitor.volumeSpace(existing)
        while space == nil, existing.count > 1 {
            existing = (existing as NSString).deletingLastPathComponent
            space = StorageMonitor.volumeSpace(existing)
        }
        if let space, space.free < 256 * 1024 {
            return Problem.insufficientStorage("the import's upload")
        }
        return Problem(
            .serviceUnavailable, "storage-unavailable", "File storage unavailable",
            detail: "The upload cannot be written to the data folder right now; retry later.", headers: [.retryAfter: "5"])
    }

    /// ENOSPC or EDQUOT, however Foundation wrapped it.
    static func isOutOfSpace(_ error: any Error) -> Bool {
        let error = error as NSError
        if error.domain == NSCocoaErrorDomain, error.code == CocoaError.fileWriteOutOfSpace.rawValue { return true }
        if error.domain == NSPOSIXErrorDomain, error.code == Int(ENOSPC) || error.code == Int(EDQUOT) { return true }
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError { return isOutOfSpace(underlying) }
        return false
    }

    /// Reads the header row, so a wrong encoding or mapping answers 422 now instead of failing later in a job.
    static func checkHeader(path: String, mapping: [String: String?]) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Problem.internalError }
        defer { try? handle.close() }
        let reader = CSVReader(fileHandle: handle, chunkSize: 64 * 1024)
        do {
            guard let header = try reader.next() else { throw ImportError("the file is empty: it needs a header row") }
            guard !header.hasInvalidUTF8 else { throw ImportError("the header row is not valid UTF-8: save the file as CSV UTF-8") }
            _ = try CandidateColumnMapping(headers: header.fields.map { ($0 ?? "").trimmingCharacters(in: .whitespaces) }, explicit: mapping)
        } catch let error as ImportError {
            throw Problem(.unprocessableContent, "invalid-csv", "Cannot import this file", detail: error.message)
        } catch let error as CSVError {
            throw Problem(.unprocessableContent, "invalid-csv", "Cannot import this file", detail: error.message)
        }
    }

    static func exportStatus(_ job: Job) -> JSONObject {
        let kind = ExportKind(jobType: job.type)
        var doc = jobStatus(job)
        doc["kind"] = .string(kind?.rawValue ?? "")
        doc["format"] = .string(job.payload["format"]?.stringValue ?? "csv")
        doc["rows"] = job.result?["rows"] ?? .null
        doc["bytes"] = job.result?["bytes"] ?? .null
        doc["downloadUrl"] = job.state == .completed ? .string("/api/v1/exports/\(job.id)/download") : .null
        return doc
    }

    static func importStatus(_ job: Job) -> JSONObject {
        var doc = jobStatus(job)
        doc["summary"] = job.state == .completed ? (job.result.map(JSONValue.object) ?? .null) : .null
        return doc
    }

    static func jobStatus(_ job: Job) -> JSONObject {
        [
            "id": .string(job.id), "status": .string(job.state.rawValue),
            "progress": job.progress.map { .double($0.percent) } ?? (job.state == .completed ? .double(100) : .double(0)),
            "message": job.progress?.message.map(JSONValue.string) ?? .null,
            "error": job.lastError.map(JSONValue.string) ?? .null,
            "createdAt": .string(Timestamp.format(job.createdAt)),
            "finishedAt": job.finishedAt.map { .string(Timestamp.format($0)) } ?? .null,
        ]
    }

    static let nullableString: JSONValue = .object(["type": .array(["string", "null"])])
    static let nullableInteger: JSONValue = .object(["type": .array(["integer", "null"])])
    static let jobStatusProperties: JSONObject = [
        "id": JSONSchema.id, "status": JSONSchema.enumeration(JobState.allCases.map(\.rawValue)),
        "progress": .object(["type": "number", "minimum": 0, "maximum": 100]), "message": nullableString,
        "error": nullableString, "createdAt": JSONSchema.dateTime,
        "finishedAt": .object(["type": .array(["string", "null"]), "format": "date-time"]),
    ]

    static let exportStatusSchema: JSONValue = {
        var properties = jobStatusProperties
        properties["kind"] = .object(["type": "string"])
        properties["format"] = JSONSchema.enumeration(ExportFormat.allCases.map(\.rawValue))
        properties["rows"] = nullableInteger
        properties["bytes"] = nullableInteger
        properties["downloadUrl"] = nullableString
        let required = properties.keys.sorted()
        properties["downloadExpiresAt"] = JSONSchema.dateTime
        return JSONSchema.strict(properties, required: required)
    }()

    static let importStatusSchema: JSONValue = {
        var properties = jobStatusProperties
        let rowError = JSONSchema.strict(
            [
                "row": JSONSchema.integer, "line": JSONSchema.integer, "type": JSONSchema.enumeration(["invalid", "duplicate"]),
                "field": nullableString, "message": JSONSchema.string, "existingId": JSONSchema.id,
            ], required: ["row", "line", "type", "field", "message"])
        let summary = JSONSchema.strict(
            [
                "rows": JSONSchema.integer, "imported": JSONSchema.integer, "duplicates": JSONSchema.integer,
                "invalid": JSONSchema.integer, "skipped": JSONSchema.integer,
                "errors": .object(["type": "array", "items": rowError]), "errorsTruncated": JSONSchema.boolean,
                "mapping": .object(["type": "object", "additionalProperties": JSONSchema.string]),
                "ignoredColumns": .object(["type": "array", "items": JSONSchema.string]),
            ], required: ["rows", "imported", "duplicates", "invalid", "skipped", "errors", "errorsTruncated", "mapping", "ignoredColumns"])
        properties["summary"] = .object(["oneOf": .array([summary, .object(["type": "null"])])])
        return JSONSchema.strict(properties, required: properties.keys.sorted())
    }()
}

extension HTTPField.Name {
    static let importMapping = HTTPField.Name("X-Import-Mapping")!
}
