import ATSBlob
import ATSDocuments
import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// CVs and attachments: multipart uploads, candidates made from a CV, presigned download and
/// upload links, and a candidate's documents as one zip.
extension RouteTable {
    func addDocumentRoutes() {
        let gateway = self.gateway
        let idParameter = ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "The candidate's id.")
        let documentIDParameter = ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "The document's id.")
        let multipart: JSONValue = .object([
            "type": "object",
            "properties": .object([
                "file": .object(["type": "string", "format": "binary", "description": "The file (PDF, DOCX, RTF, text ...)."]),
                "kind": JSONSchema.enumeration(EntitySchema.documentKindValues),
            ]),
            "required": .array(["file"]),
        ])
        let link = JSONSchema.strict(
            ["url": JSONSchema.string, "method": JSONSchema.string, "expiresAt": JSONSchema.dateTime, "uploadId": JSONSchema.string,
             "files": .object(["type": "integer"])],
            required: ["url", "method", "expiresAt"])

        add(
            Operation(
                method: .post, path: "/api/v1/candidates/{id}/documents", operationID: "uploadCandidateDocument",
                summary: """
                    Upload a CV or attachment to a candidate as multipart/form-data (`file`, optional `kind`: cv by default). \
                    The type is decided from the content; a job extracts the text and, for a CV, fills the candidate's empty \
                    fields (parseStatus pending -> parsed or failed).
                    """,
                tag: "documents", access: .role(.recruiter), parameters: [idParameter], requestBody: multipart,
                requestContentType: "multipart/form-data", success: (201, JSONSchema.ref("Document"), "application/json"),
                errors: [404, 413, 415, 503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let files = try gateway.requireFiles()
                let candidateID = try gateway.id(context)
                guard try await gateway.store.record(.candidate, organizationID: principal.organizationID, id: candidateID) != nil else {
                    throw Problem.notFound("Candidate")
                }
                let upload = try await Self.receiveMultipart(request, files: files)
                let kind = upload.fields["kind"] ?? "cv"
                guard EntitySchema.documentKindValues.contains(kind) else {
                    throw Problem.validation([FieldError("kind", "must be one of \(EntitySchema.documentKindValues.joined(separator: ", "))")])
                }
                try Self.checkParsable(upload.info, kind: kind)
                let document = try await Self.createDocument(
                    gateway: gateway, organizationID: principal.organizationID, candidateID: candidateID, kind: kind,
                    filename: upload.filename, info: upload.info, actor: principal.actor)
                return gateway.json(document.json, status: .created, headers: [.location: "/api/v1/documents/\(document.id)"])
            })

        add(
            Operation(
                method: .post, path: "/api/v1/candidates/from-cv", operationID: "createCandidateFromCV",
                summary: """
                    Create a candidate from a CV (multipart/form-data `file`; optional `firstName`, `lastName`, `email`, \
                    `phone` override what the parser finds). The CV is parsed in the request; the answer holds the \
                    candidate, its CV document and the parse with its confidence. 409 when the email or phone belongs \
                    to another candidate (existingId), 422 when no name is found and none was given.
                    """,
                tag: "documents", access: .role(.recruiter), requestBody: multipart, requestContentType: "multipart/form-data",
                success: (
                    201,
                    JSONSchema.strict(
                        ["candidate": JSONSchema.ref("Candidate"), "document": JSONSchema.ref("Document")],
                        required: ["candidate", "document"]), "application/json"
                ), errors: [409, 413, 415, 422, 503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let files = try gateway.requireFiles()
                let upload = try await Self.receiveMultipart(request, files: files)
                try Self.checkParsable(upload.info, kind: "cv")
                let analysis: DocumentIngest.Analysis
                do {
                    analysis = try await files.ingest.analyse(upload.info.id, parse: true)
                } catch let failure as DocumentIngest.Failure {
                    throw Problem(.unprocessableContent, "unreadable-document", "Cannot read this CV", detail: failure.reason)
                }
                var fields = analysis.parsed.map { DocumentIngest.candidateFields($0) } ?? [:]
                for name in ["firstName", "lastName", "email", "phone"] {
                    if let value = upload.fields[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty { fields[name] = .string(value) }
                }
                guard fields["firstName"] != nil, fields["lastName"] != nil else {
                    throw Problem(
                        .unprocessableContent, "name-not-found", "No name found in the CV",
                        detail: "The parser found no name in this CV; send the firstName and lastName form fields with it.")
                }
                fields["source"] = "cv-upload"
                let schema = EntitySchema.of(.candidate)
                // A parsed value the schema refuses (an odd phone format) is dropped, not fatal.
                var validated: JSONObject = [:]
                for _ in 0..<3 {
                    do {
                        validated = try schema.validateCreate(fields)
                        break
                    } catch let error as ValidationError {
                        for field in error.errors {
                            let name = String(field.field.split(separator: ".").first ?? "")
                            if ["firstName", "lastName"].contains(name) { throw Problem.validation(error.errors) }
                            fields[name] = nil
                        }
                    }
                }
                let candidate = try await gateway.store.create(
                    .candidate, organizationID: principal.organizationID, fields: validated, actor: principal.actor,
                    options: WriteOptions())
                var parsed = analysis.parsed?.json ?? [:]
                parsed["filled"] = .array(validated.keys.sorted().map(JSONValue.string))
                let document = try await gateway.store.create(
                    .document, organizationID: principal.organizationID,
                    fields: Self.documentFields(
                        candidateID: candidate.id, kind: "cv", filename: upload.filename, info: upload.info,
                        extra: [
                            "extractedText": .string(String(analysis.text.prefix(200_000))), "parseStatus": "parsed",
                            "parsed": .object(parsed),
                        ]),
                    actor: principal.actor, options: WriteOptions(systemFields: true))
                return gateway.json(
                    "{\"candidate\":\(candidate.json),\"document\":\(document.json)}", status: .created,
                    headers: [.location: "/api/v1/candidates/\(candidate.id)"])
            })

        add(
            Operation(
                method: .get, path: "/api/v1/documents/{id}/download-url", operationID: "documentDownloadURL",
                summary: "A presigned link to the document's file (GET, no credentials needed, expires; Range and ETag supported).",
                tag: "documents", access: .role(.viewer), parameters: [documentIDParameter], success: (200, link, "application/json"),
                errors: [404, 409, 503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let files = try gateway.requireFiles()
                let id = try gateway.id(context)
                guard let document = try await gateway.store.record(.document, organizationID: principal.organizationID, id: id) else {
                    throw Problem.notFound("Document")
                }
                guard let hex = document.fields["sha256"]?.stringValue else {
                    throw Problem.conflict("no-file", "This document has no file; upload one to the candidate.")
                }
                let filename = document.fields["filename"]?.stringValue ?? "document"
                let signed = try await files.presign(
                    method: "GET", path: "/files/\(hex)/\(FileServices.pathSegment(filename))",
                    organizationID: principal.organizationID, request: request)
                return gateway.json(["url": .string(signed.url), "method": "GET", "expiresAt": .string(signed.expiresAt)])
            })

        add(
            Operation(
                method: .post, path: "/api/v1/candidates/{id}/documents/upload-url", operationID: "documentUploadURL",
                summary: """
                    A presigned PUT link for uploading a file straight to the appliance (`{filename, kind}`); the PUT's \
                    body is the file, and it answers with the new document. One upload per link.
                    """,
                tag: "documents", access: .role(.recruiter), parameters: [idParameter],
                requestBody: JSONSchema.strict(
                    ["filename": .object(["type": "string", "minLength": 1, "maxLength": 255]),
                     "kind": JSONSchema.enumeration(EntitySchema.documentKindValues)], required: ["filename"]),
                success: (201, link, "application/json"), errors: [404, 503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let files = try gateway.requireFiles()
                let candidateID = try gateway.id(context)
                let body = try await gateway.jsonObject(request)
                var errors: [FieldError] = []
                for key in body.keys where !["filename", "kind"].contains(key) { errors.append(FieldError(key, "is not a known field")) }
                let raw = body["filename"]?.stringValue?.trimmingCharacters(in: .whitespaces) ?? ""
                let filename = Self.safeFilename(raw)
                if raw.isEmpty || raw.count > 255 || raw.contains("\u{0}") {
                    errors.append(FieldError("filename", "must be a file name of 1 to 255 characters"))
                }
                let kind = body["kind"]?.stringValue ?? "cv"
                if !EntitySchema.documentKindValues.contains(kind) {
                    errors.append(FieldError("kind", "must be one of \(EntitySchema.documentKindValues.joined(separator: ", "))"))
                }
                guard errors.isEmpty else { throw Problem.validation(errors) }
                guard try await gateway.store.record(.candidate, organizationID: principal.organizationID, id: candidateID) != nil else {
                    throw Problem.notFound("Candidate")
                }
                let uploadID = Identifier.make()
                let now = Date()
                let expires = now.addingTimeInterval(Double(files.presignSeconds))
                try await files.catalog.createUpload(
                    PendingUpload(
                        id: uploadID, organizationID: principal.organizationID, candidateID: candidateID, kind: kind,
                        filename: filename, actor: principal.actor, expiresAt: Timestamp.format(expires), documentID: nil))
                let signed = try await files.presign(
                    method: "PUT", path: "/files/uploads/\(uploadID)", organizationID: principal.organizationID, request: request,
                    now: now)
                return gateway.json(
                    ["url": .string(signed.url), "method": "PUT", "expiresAt": .string(signed.expiresAt), "uploadId": .string(uploadID)],
                    status: .created)
            })

        add(
            Operation(
                method: .post, path: "/api/v1/candidates/{id}/documents/zip", operationID: "candidateDocumentsZip",
                summary: "All of a candidate's files as one zip, behind a presigned link.", tag: "documents",
                // It writes a blob and a reference: a write, like an upload.
                access: .role(.recruiter), parameters: [idParameter], success: (200, link, "application/json"), errors: [404, 409, 503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let files = try gateway.requireFiles()
                let candidateID = try gateway.id(context)
                guard let candidate = try await gateway.store.record(.candidate, organizationID: principal.organizationID, id: candidateID)
                else { throw Problem.notFound("Candidate") }
                let page = try await gateway.store.list(
                    .document, organizationID: principal.organizationID,
                    query: ListQuery(equals: ["candidateId": candidateID], page: PageRequest(limit: PageRequest.maxLimit)))
                let documents = page.items.compactMap { JSONCoding.decodeObject(Data($0.json.utf8)) }
                    .filter { $0["sha256"]?.stringValue != nil }
                guard !documents.isEmpty else { throw Problem.conflict("no-files", "This candidate has no files to download.") }
                let info: BlobInfo
                do {
                    info = try await DocumentBundle.zip(documents, blobs: files.blobs, limit: files.maxBytes)
                } catch let error as BlobError {
                    throw Self.problem(error, limit: files.maxBytes)
                }
                let name = [candidate.fields["firstName"]?.stringValue, candidate.fields["lastName"]?.stringValue]
                    .compactMap { $0 }.joined(separator: "-")
                let now = Date()
                try await files.catalog.addBlobReference(
                    organizationID: principal.organizationID, blob: info.id.hex, owner: "zip:\(candidateID)",
                    expiresAt: Timestamp.format(now.addingTimeInterval(Double(files.presignSeconds))))
                let signed = try await files.presign(
                    method: "GET", path: "/files/\(info.id.hex)/\(FileServices.pathSegment((name.isEmpty ? "candidate" : name) + "-documents.zip"))",
                    organizationID: principal.organizationID, request: request, now: now)
                return gateway.json([
                    "url": .string(signed.url), "method": "GET", "expiresAt": .string(signed.expiresAt),
                    "files": .int(Int64(documents.count)),
                ])
            })

        add(
            Operation(
                method: .post, path: "/api/v1/documents/{id}/parse", operationID: "reparseDocument",
                summary: "Extract and parse the document's file again (after a parser upgrade, or a failure fixed).",
                tag: "documents", access: .role(.recruiter), parameters: [documentIDParameter],
                success: (202, JSONSchema.ref("Document"), "application/json"), errors: [404, 409, 503]
            ) { _, context in
                let principal = try gateway.principal(context)
                _ = try gateway.requireFiles()
                let work = try gateway.requireWork()
                let id = try gateway.id(context)
                guard let document = try await gateway.store.record(.document, organizationID: principal.organizationID, id: id) else {
                    throw Problem.notFound("Document")
                }
                guard document.fields["sha256"]?.stringValue != nil else {
                    throw Problem.conflict("no-file", "This document has no file to parse.")
                }
                let updated = try await gateway.store.update(
                    .document, organizationID: principal.organizationID, id: id, actor: principal.actor, options: WriteOptions(systemFields: true)
                ) { current in
                    var fields = current.fields
                    fields["parseStatus"] = "pending"
                    fields["parseError"] = .null
                    return fields
                }
                _ = try await Self.jobCall {
                    try await work.jobs.enqueue(FileWork.extractRequest(organizationID: principal.organizationID, documentID: id))
                }
                return gateway.json(updated.json, status: .accepted)
            })

        addFileRoutes()
    }

    /// What a multipart upload carried: the stored file and the small form fields.
    struct ReceivedUpload {
        var info: BlobInfo
        var filename: String
        var fields: [String: String]
    }

    /// Reads a multipart body: the first part with a filename streams into the blob store;
    /// other parts are small form fields. The declared type must agree with the content.
    static func receiveMultipart(_ request: Request, files: FileServices) async throws -> ReceivedUpload {
        guard let boundary = MultipartReader.boundary(contentType: request.headers[.contentType]) else {
            throw Problem(
                .unsupportedMediaType, "unsupported-media-type", "Unsupported media type",
                detail: "Send the file as multipart/form-data with a `file` part.")
        }
        let reader = MultipartReader(boundary: boundary, body: request.body)
        var fields: [String: String] = [:]
        var received: (BlobInfo, String, String?)?
        do {
            while let part = try await reader.nextPart() {
                if let filename = part.filename, received == nil, part.name == "file" || part.name.isEmpty || fields["__file"] == nil {
                    let info = try await files.traced("blob.put") { try await files.blobs.put(reader.partBody(), limit: files.maxBytes) }
                    received = (info, filename, part.contentType)
                    fields["__file"] = part.name
                } else if part.filename == nil, fields.count < 20 {
                    fields[part.name] = try await reader.value()
                }
            }
        } catch let error as MultipartReader.Malformed {
            throw Problem.badRequest("invalid-multipart", error.detail)
        } catch let error as BlobError {
            throw Self.problem(error, limit: files.maxBytes)
        }
        fields["__file"] = nil
        guard let (info, rawName, declared) = received else {
            throw Problem.badRequest("missing-file", "The multipart body has no file part (a part with a filename).")
        }
        guard info.size > 0 else { throw Problem.badRequest("empty-file", "The file is empty.") }
        let filename = Self.safeFilename(rawName)
        try Self.checkDeclaredType(declared: declared, filename: filename, sniffed: info.contentType)
        return ReceivedUpload(info: info, filename: filename, fields: fields)
    }

    /// The last path component, without control characters, at most 255 characters.
    static func safeFilename(_ raw: String, fallback: String = "upload") -> String {
        let last = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(last.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
            .trimmingCharacters(in: .whitespaces)
        return cleaned.isEmpty || cleaned == "." || cleaned == ".." ? fallback : String(cleaned.prefix(255))
    }

    /// A file whose content is not what its name or declared type says answers 415: a PDF
    /// that is really an executable never becomes a "PDF" document.
    static func checkDeclaredType(declared: String?, filename: String, sniffed: String) throws {
        let sniffedFamily = DeclaredType.family(sniffed)
        var claims: [String] = []
        if let declared, let family = DeclaredType.family(declared, strict: true) { claims.append(family) }
        if let byName = DeclaredType.family(forExtension: (filename as NSString).pathExtension) { claims.append(byName) }
        for claim in claims where !DeclaredType.compatible(claim: claim, sniffed: sniffedFamily) {
            throw Problem(
                .unsupportedMediaType, "content-mismatch", "The file is not what it claims to be",
                detail: "The file is declared as \(claim) but its content is \(sniffedFamily ?? "unrecognised binary data").")
        }
    }

    /// A CV must be a format text can be extracted from.
    static func checkParsable(_ info: BlobInfo, kind: String) throws {
        guard kind == "cv" else { return }
        guard DocumentFormat(contentType: info.contentType) != nil else {
            throw Problem(
                .unsupportedMediaType, "unsupported-cv-format", "Unsupported CV format",
                detail: "A CV must be a PDF, DOCX, RTF or plain-text file; this one is \(info.contentType). Upload it as kind attachment.")
        }
    }

    static func documentFields(candidateID: String, kind: String, filename: String, info: BlobInfo, extra: JSONObject = [:]) -> JSONObject {
        var fields: JSONObject = [
            "candidateId": .string(candidateID), "kind": .string(kind), "filename": .string(filename),
            "contentType": .string(info.contentType), "sizeBytes": .int(info.size), "sha256": .string(info.id.hex),
            "parseStatus": "pending",
        ]
        for (name, value) in extra { fields[name] = value }
        return fields
    }

    /// The document row for a stored file, and the job that reads it.
    static func createDocument(
        gateway: Gateway, organizationID: String, candidateID: String, kind: String, filename: String, info: BlobInfo, actor: String
    ) async throws -> Record {
        let parsable = DocumentFormat(contentType: info.contentType) != nil
        let document = try await gateway.store.create(
            .document, organizationID: organizationID,
            fields: documentFields(
                candidateID: candidateID, kind: kind, filename: filename, info: info,
                extra: parsable ? [:] : ["parseStatus": "none"]),
            actor: actor, options: WriteOptions(systemFields: true))
        if parsable, let work = gateway.work {
            _ = try await jobCall { try await work.jobs.enqueue(FileWork.extractRequest(organizationID: organizationID, documentID: document.id)) }
        }
        return document
    }

    static func problem(_ error: BlobError, limit: Int64) -> Problem {
        switch error.code {
        case .tooLarge: Problem.tooLarge(limit: Int(clamping: error.limit ?? limit))
        case .notFound: Problem.notFound("File")
        case .invalidRange: Problem(.rangeNotSatisfiable, "invalid-range", "Range not satisfiable", detail: "The range starts after the end of the file.")
        case .corrupted: Problem(
                .internalServerError, "corrupted-file", "The stored file is corrupted",
                detail: "The file no longer matches its checksum and is not served; restore it from a backup.")
        case .storageFull: Problem.insufficientStorage("the file storage")
        case .unavailable: Problem(.serviceUnavailable, "storage-unavailable", "File storage unavailable", detail: "The file storage cannot be written or read right now; retry later.", headers: [.retryAfter: "5"])
        }
    }
}

/// Type families for the declared-versus-content check.
enum DeclaredType {
    static let office = "application/vnd.openxmlformats-officedocument."

    /// `application/pdf; x=y` -> `application/pdf`; aliases folded. `strict`: nil for the
    /// declarations that claim nothing (octet-stream, empty).
    static func family(_ type: String?, strict: Bool = false) -> String? {
        guard let type else { return nil }
        let base = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if base.isEmpty || (strict && ["application/octet-stream", "binary/octet-stream", "application/x-www-form-urlencoded"].contains(base)) {
            return nil
        }
        switch base {
        case "text/rtf", "application/x-rtf": return "application/rtf"
        case "application/x-pdf": return "application/pdf"
        case "image/jpg", "image/pjpeg": return "image/jpeg"
        default: return base
        }
    }

    static func family(forExtension ext: String) -> String? {
        switch ext.lowercased() {
        case "pdf": "application/pdf"
        case "docx": office + "wordprocessingml.document"
        case "xlsx": office + "spreadsheetml.sheet"
        case "pptx": office + "presentationml.presentation"
        case "rtf": "application/rtf"
        case "txt", "md", "csv": "text/plain"
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "gif": "image/gif"
        case "doc": "application/msword"
        case "zip": "application/zip"
        default: nil
        }
    }

    static func compatible(claim: String, sniffed: String?) -> Bool {
        guard let sniffed else { return false }
        if claim == sniffed { return true }
        // Text is text: CSV, Markdown, JSON and HTML all sniff as some text type.
        let textual: (String) -> Bool = { $0.hasPrefix("text/") || $0 == "application/json" || $0 == "application/xml" }
        if textual(claim) && textual(sniffed) { return true }
        // Office files are zips; a zip claim accepts them.
        if claim == "application/zip" && sniffed.hasPrefix(office) { return true }
        return false
    }
}

extension Gateway {
    /// The file tier, or 503 where the process runs without it.
    func requireFiles() throws -> FileServices {
        guard let files else {
            throw Problem(.serviceUnavailable, "files-unavailable", "Files unavailable", detail: "This server runs without file storage.")
        }
        return files
    }
}

extension EntitySchema {
    static var documentKindValues: [String] {
        guard case .enumeration(let values)? = EntitySchema.of(.document).field("kind")?.type else { return ["cv"] }
        return values
    }
}
