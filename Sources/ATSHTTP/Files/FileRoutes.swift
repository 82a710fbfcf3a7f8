import ATSBlob
import ATSDomain
import ATSStore
import ATSWork
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The presigned links themselves: `GET /files/{sha256}/{name}` serves a file (Range, ETag,
/// If-None-Match, a safe Content-Disposition, the sniffed Content-Type) and
/// `PUT /files/uploads/{id}` takes an upload. The signature is the only credential: it names
/// the organization's key, the method, the path and the expiry, so a changed link, another
/// file, another method or an expired link answers 403.
extension RouteTable {
    func addFileRoutes() {
        let gateway = self.gateway
        let signatureParameters = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"]
            .map { ParameterDoc(name: $0, location: .query, schema: JSONSchema.string, summary: "AWS Signature Version 4 (query form).") }
        let fileParameters = [
            ParameterDoc(name: "sha256", location: .path, schema: JSONSchema.string, summary: "The file's SHA-256."),
            ParameterDoc(name: "name", location: .path, schema: JSONSchema.string, summary: "The name the file is saved as."),
        ] + signatureParameters
        for method in [HTTPRequest.Method.get, .head] {
            add(
                Operation(
                    method: method, path: "/files/{sha256}/{name}", operationID: method == .get ? "downloadFile" : "headFile",
                    summary: "A file behind a presigned link from the API (Range -> 206, If-None-Match -> 304).", tag: "documents",
                    access: .open, parameters: fileParameters,
                    success: (200, .object(["type": "string", "format": "binary"]), "application/octet-stream"),
                    errors: [206, 304, 403, 404, 416, 503]
                ) { request, context in
                    let files = try gateway.requireFiles()
                    let key = try await files.verifyPresigned(request)
                    guard let hex = context.parameters.get("sha256"), let id = BlobID(hex: hex) else { throw Problem.notFound("File") }
                    let name = context.parameters.get("name")?.removingPercentEncoding ?? "download"
                    guard try await files.catalog.refersToBlob(organizationID: key.organizationID, blob: hex, now: Timestamp.format(Date())),
                        let info = try await files.blobs.info(id)
                    else { throw Problem.notFound("File") }
                    return try await Self.serve(info, name: name, request: request, files: files, head: method == .head)
                })
        }

        add(
            Operation(
                method: .put, path: "/files/uploads/{id}", operationID: "uploadFile",
                summary: "The body of a presigned upload link from the API: the file, at most ATS_BLOB_MAX_MB; answers with the new document.",
                tag: "documents", access: .open,
                parameters: [ParameterDoc(name: "id", location: .path, schema: JSONSchema.string, summary: "The upload's id.")] + signatureParameters,
                requestBody: .object(["type": "string", "format": "binary"]), requestContentType: "application/octet-stream",
                success: (201, JSONSchema.ref("Document"), "application/json"), errors: [403, 404, 409, 413, 415, 503]
            ) { request, context in
                let files = try gateway.requireFiles()
                let key = try await files.verifyPresigned(request)
                let uploadID = try gateway.id(context)
                guard let upload = try await files.catalog.upload(organizationID: key.organizationID, id: uploadID) else {
                    throw Problem.notFound("Upload")
                }
                guard upload.documentID == nil, try await files.catalog.claimUpload(organizationID: key.organizationID, id: uploadID)
                else {
                    throw Problem.conflict("upload-used", "This link was already used; ask the API for a new one.")
                }
                let document: Record
                do {
                    let info: BlobInfo
                    do {
                        info = try await files.traced("blob.put") {
                            try await files.blobs.put(request.body.map { Array($0.readableBytesView) }, limit: files.maxBytes)
                        }
                    } catch let error as BlobError {
                        throw Self.problem(error, limit: files.maxBytes)
                    }
                    guard info.size > 0 else { throw Problem.badRequest("empty-file", "The file is empty.") }
                    try Self.checkDeclaredType(declared: request.headers[.contentType], filename: upload.filename, sniffed: info.contentType)
                    try Self.checkParsable(info, kind: upload.kind)
                    document = try await Self.createDocument(
                        gateway: gateway, organizationID: key.organizationID, candidateID: upload.candidateID, kind: upload.kind,
                        filename: upload.filename, info: info, actor: upload.actor)
                } catch {
                    // Nothing was made: the link may be used again until it expires.
                    try? await files.catalog.releaseUpload(organizationID: key.organizationID, id: uploadID)
                    throw error
                }
                try await files.catalog.completeUpload(organizationID: key.organizationID, id: uploadID, documentID: document.id)
                return gateway.json(document.json, status: .created, headers: [.location: "/api/v1/documents/\(document.id)"])
            })
        addWrongMethodFileRoutes()
    }

    /// A link used with another method than it was signed for answers 403, like any link that
    /// does not match its signature (not 404: the link exists, it is the request that is wrong).
    func addWrongMethodFileRoutes() {
        let gateway = self.gateway
        let refuse: @Sendable (Request, ATSRequestContext) async throws -> Response = { request, _ in
            let files = try gateway.requireFiles()
            _ = try await files.verifyPresigned(request)
            throw Problem(.methodNotAllowed, "method-not-allowed", "Method not allowed", detail: "This link takes another method.")
        }
        for method in [HTTPRequest.Method.put, .post, .delete, .patch] {
            router.on("/files/:sha256/:name", method: method, use: refuse)
        }
        for method in [HTTPRequest.Method.get, .head, .post, .delete, .patch] {
            router.on("/files/uploads/:id", method: method, use: refuse)
        }
    }

    /// A blob as an HTTP response: conditional and range requests, the sniffed type, and a
    /// download name that cannot break the header.
    static func serve(_ info: BlobInfo, name: String, request: Request, files: FileServices, head: Bool) async throws -> Response {
        let etag = "\"\(info.id.hex)\""
        var headers: HTTPFields = [
            .eTag: etag, .acceptRanges: "bytes", .contentType: info.contentType,
            .contentDisposition: FileServices.contentDisposition(name), .cacheControl: "private, max-age=300",
            .lastModified: HTTPDate.format(info.modified), HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ]
        if let match = request.headers[.ifNoneMatch],
            match.split(separator: ",").contains(where: { let tag = $0.trimmingCharacters(in: .whitespaces); return tag == etag || tag == "*" || tag == "W/" + etag })
        {
            return Response(status: .notModified, headers: headers)
        }
        var range: ClosedRange<Int64>?
        if let header = request.headers[.range], request.headers[.ifRange].map({ $0 == etag }) ?? true {
            switch ByteRange.parse(header, size: info.size) {
            case .whole: break
            case .range(let value): range = value
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(info.size)"
                throw Problem(
                    .rangeNotSatisfiable, "invalid-range", "Range not satisfiable", detail: "The file has \(info.size) bytes.",
                    headers: [.contentRange: "bytes */\(info.size)"])
            }
        }
        let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? info.size
        headers[.contentLength] = String(length)
        if let range { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(info.size)" }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        if head { return Response(status: status, headers: headers) }
        let reader: BlobReader
        do {
            // Verified before the first byte: a corrupted file answers an error, never wrong bytes.
            reader = try await files.traced("blob.read") { try await files.blobs.read(info.id, range: range) }
        } catch let error as BlobError {
            throw Self.problem(error, limit: files.maxBytes)
        }
        return Response(status: status, headers: headers, body: ResponseBody(asyncSequence: BlobBuffers(reader: reader)))
    }
}

/// One `Range: bytes=...` request (RFC 9110): a single range is served; several, or a header
/// that is not a byte range, serve the whole file (which the RFC allows).
enum ByteRange: Equatable {
    case whole
    case range(ClosedRange<Int64>)
    case unsatisfiable

    static func parse(_ header: String, size: Int64) -> ByteRange {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes="), !trimmed.contains(",") else { return .whole }
        let spec = trimmed.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return .whole }
        if parts[0].isEmpty {
            // The last N bytes.
            guard let suffix = Int64(parts[1]), suffix > 0 else { return parts[1].isEmpty ? .whole : .unsatisfiable }
            guard size > 0 else { return .unsatisfiable }
            return .range(max(0, size - suffix)...(size - 1))
        }
        guard let start = Int64(parts[0]), start >= 0 else { return .whole }
        guard start < size else { return .unsatisfiable }
        if parts[1].isEmpty { return .range(start...(size - 1)) }
        guard let end = Int64(parts[1]), end >= start else { return .whole }
        return .range(start...min(end, size - 1))
    }
}

/// A blob's bytes as `ByteBuffer`s filled straight from the file (one copy, kernel to buffer).
struct BlobBuffers: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let reader: BlobReader

    struct AsyncIterator: AsyncIteratorProtocol {
        var inner: BlobReader.Iterator
        let allocator = ByteBufferAllocator()

        mutating func next() async throws -> ByteBuffer? {
            var buffer = allocator.buffer(capacity: BlobReader.chunkSize)
            var failure: (any Error)?
            var inner = self.inner
            _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: BlobReader.chunkSize) { pointer in
                do {
                    return try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: pointer[0..<BlobReader.chunkSize]))
                } catch {
                    failure = error
                    return 0
                }
            }
            self.inner = inner
            if let failure { throw failure }
            return buffer.readableBytes == 0 ? nil : buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: reader.makeAsyncIterator()) }
}
