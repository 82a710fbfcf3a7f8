import ATSBlob
import ATSDomain
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension S3Endpoint {
    // MARK: GetObject, HeadObject

    func getObject(_ scope: S3Scope, key: String, head: Bool) async throws -> Response {
        guard let object = try await scope.catalog.s3Object(organizationID: scope.organization.id, key: key) else {
            throw S3Error.noSuchKey(key)
        }
        let request = scope.request
        let etag = "\"\(object.md5)\""
        let modified = Timestamp.parse(object.modifiedAt) ?? Date(timeIntervalSince1970: 0)
        var headers: HTTPFields = [
            .eTag: etag, .lastModified: HTTPDate.format(modified), .acceptRanges: "bytes", .contentType: object.contentType,
            .xContentTypeOptions: "nosniff",
        ]
        // A type a browser would run (HTML, SVG, XML, script) opens sandboxed, without scripts:
        // a presigned link to it is served from the API's own origin.
        // Presigned links may name the download's headers (response-content-disposition ...).
        for (parameter, name) in Self.responseOverrides {
            if let value = scope.query[parameter], !value.isEmpty, !value.contains(where: { $0.isNewline }) { headers[name] = value }
        }
        // Decided on the type actually served, after any override.
        if Self.isActiveContent(headers[.contentType] ?? "") { headers[.contentSecurityPolicy] = "default-src 'none'; sandbox" }
        try Self.checkPreconditions(request.headers, etag: etag, modified: modified, notModifiedHeaders: headers)
        var range: ClosedRange<Int64>?
        if let header = request.headers[.range], request.headers[.ifRange].map({ $0 == etag || HTTPDate.parse($0) == Self.seconds(modified) }) ?? true {
            switch ByteRange.parse(header, size: object.size) {
            case .whole: break
            case .range(let value): range = value
            case .unsatisfiable:
                throw S3Error(
                    .rangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable",
                    details: [("RangeRequested", header), ("ActualObjectSize", String(object.size))],
                    headers: [.contentRange: "bytes */\(object.size)"])
            }
        }
        let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? object.size
        headers[.contentLength] = String(length)
        if let range { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(object.size)" }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        guard let id = BlobID(hex: object.blob) else { throw S3Error.internalError }
        if head {
            return Response(status: status, headers: headers)
        }
        // Verified before the first byte (a corrupted blob throws here and is never served).
        let reader = try await scope.files.blobs.read(id, range: range)
        return Response(
            status: status, headers: headers,
            body: ResponseBody { writer in
                // Straight from the file into the buffers NIO writes: one copy per byte.
                var iterator = reader.makeAsyncIterator()
                let allocator = ByteBufferAllocator()
                while true {
                    var buffer = allocator.buffer(capacity: BlobReader.chunkSize)
                    let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: BlobReader.chunkSize) {
                        try iterator.read(into: $0)
                    }
                    if count == 0 { break }
                    try await writer.write(buffer)
                }
                try await writer.finish(nil)
            })
    }

    /// If-Match / If-Unmodified-Since (412), then If-None-Match / If-Modified-Since (304), in
    /// RFC 9110's order, as S3 applies them.
    static func checkPreconditions(_ headers: HTTPFields, etag: String, modified: Date, notModifiedHeaders: HTTPFields) throws {
        let seconds = Self.seconds(modified)
        if let match = headers[.ifMatch] {
            guard Self.etagList(match, contains: etag) else { throw S3Error.preconditionFailed("If-Match") }
        } else if let since = headers[.ifUnmodifiedSince].flatMap(HTTPDate.parse), seconds > since {
            throw S3Error.preconditionFailed("If-Unmodified-Since")
        }
        var notModified = false
        if let match = headers[.ifNoneMatch] {
            notModified = Self.etagList(match, contains: etag)
        } else if let since = headers[.ifModifiedSince].flatMap(HTTPDate.parse) {
            notModified = seconds <= since
        }
        if notModified {
            var fields = notModifiedHeaders
            fields[.contentType] = nil
            throw S3NotModified(headers: fields)
        }
    }

    static func etagList(_ header: String, contains etag: String) -> Bool {
        header.split(separator: ",").contains { item in
            let tag = item.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag || "\"" + tag + "\"" == etag
        }
    }

    /// HTTP dates have whole seconds.
    static func seconds(_ date: Date) -> Date { Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)) }

    static func isActiveContent(_ type: String) -> Bool {
        let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return media.contains("html") || media.contains("xml") || media.contains("svg") || media.contains("javascript")
            || media.contains("ecmascript") || media.hasPrefix("multipart/")
    }

    static let responseOverrides: [(String, HTTPField.Name)] = [
        ("response-content-type", .contentType), ("response-content-disposition", .contentDisposition),
        ("response-cache-control", .cacheControl), ("response-content-language", .contentLanguage),
        ("response-expires", .expires), ("response-content-encoding", .contentEncoding),
    ]

    // MARK: PutObject

    func putObject(_ scope: S3Scope, key: String) async throws -> Response {
        let request = scope.request
        let limit = scope.files.maxBytes
        let upload = try S3Upload(request: request, caller: scope.caller, limit: limit)
        try await checkWritePreconditions(scope, key: key)
        // Every digest the client declared is checked before the blob store keeps the bytes.
        let info = try await upload.store(request.body, in: scope.files.blobs, limit: limit)
        if let declared = upload.declaredSize, declared != info.size {
            throw S3Error(.badRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
        }
        let object = S3Object(
            organizationID: scope.organization.id, key: key, blob: info.id.hex, size: info.size, md5: info.md5Hex,
            contentType: upload.contentType, modifiedAt: Timestamp.format(Date()))
        try await scope.catalog.putS3Object(object)
        var headers: HTTPFields = [.eTag: info.etag]
        for (name, value) in upload.echoedChecksums { headers[name] = value }
        return Response(status: .ok, headers: headers)
    }

    /// Conditional writes: `If-None-Match: *` creates only, `If-Match: "etag"` replaces only that version.
    func checkWritePreconditions(_ scope: S3Scope, key: String) async throws {
        let headers = scope.request.headers
        guard headers[.ifNoneMatch] != nil || headers[.ifMatch] != nil else { return }
        let existing = try await scope.catalog.s3Object(organizationID: scope.organization.id, key: key)
        if let noneMatch = headers[.ifNoneMatch], let existing, Self.etagList(noneMatch, contains: "\"\(existing.md5)\"") {
            throw S3Error.preconditionFailed("If-None-Match")
        }
        if let match = headers[.ifMatch] {
            guard let existing else { throw S3Error.noSuchKey(key) }
            guard Self.etagList(match, contains: "\"\(existing.md5)\"") else { throw S3Error.preconditionFailed("If-Match") }
        }
    }

    // MARK: CopyObject

    /// A copy within the organization's bucket is a new name for the same blob.
    func copyObject(_ scope: S3Scope, key: String) async throws -> Response {
        var source = scope.request.headers[.xAmzCopySource] ?? ""
        if let question = source.firstIndex(of: "?") { source = String(source[..<question]) }  // ?versionId=
        guard let decoded = S3Path.percentDecode(Substring(source)) else {
            throw S3Error.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey", name: "x-amz-copy-source")
        }
        let trimmed = decoded.hasPrefix("/") ? String(decoded.dropFirst()) : decoded
        guard let slash = trimmed.firstIndex(of: "/") else {
            throw S3Error.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey", name: "x-amz-copy-source")
        }
        let bucket = String(trimmed[..<slash])
        let sourceKey = String(trimmed[trimmed.index(after: slash)...])
        guard bucket == scope.organization.slug else { throw S3Error.accessDenied() }
        if let reason = S3Path.validate(key: sourceKey) { throw S3Error.invalidKey(reason) }
        guard let original = try await scope.catalog.s3Object(organizationID: scope.organization.id, key: sourceKey) else {
            throw S3Error.noSuchKey(sourceKey)
        }
        try await checkWritePreconditions(scope, key: key)
        let directive = scope.request.headers[.xAmzMetadataDirective]?.uppercased() ?? "COPY"
        let contentType = directive == "REPLACE" ? (scope.request.headers[.contentType] ?? "binary/octet-stream") : original.contentType
        let now = Timestamp.format(Date())
        try await scope.catalog.putS3Object(
            S3Object(
                organizationID: scope.organization.id, key: key, blob: original.blob, size: original.size, md5: original.md5,
                contentType: contentType, modifiedAt: now))
        return Self.xml(
            S3XML.declaration + "<CopyObjectResult xmlns=\"\(S3XML.namespace)\"><LastModified>\(now)</LastModified>"
                + "<ETag>&quot;\(original.md5)&quot;</ETag></CopyObjectResult>")
    }

    // MARK: DeleteObject

    /// 204 whether or not the key existed, as S3 answers.
    func deleteObject(_ scope: S3Scope, key: String) async throws -> Response {
        _ = try await scope.catalog.deleteS3Object(organizationID: scope.organization.id, key: key)
        return Response(status: .noContent)
    }
}

/// A 304: thrown through the precondition check, answered without a body.
struct S3NotModified: Error, Sendable {
    let headers: HTTPFields
}

extension S3Error {
    static func preconditionFailed(_ condition: String) -> S3Error {
        S3Error(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
            details: [("Condition", condition)])
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let xAmzMetadataDirective = HTTPField.Name("x-amz-metadata-directive")!
}
