import ATSBlob
import ATSDomain
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The S3-compatible endpoint: `http://HOST:PORT/s3` is an S3 client's endpoint URL
/// (path-style addressing), one bucket per organization named by its slug, objects kept in the
/// blob tier and named in the `FileCatalog`. PutObject, GetObject (Range, conditional
/// requests), HeadObject, DeleteObject, CopyObject within the bucket, ListObjectsV2 and
/// ListObjects, HeadBucket, GetBucketLocation and ListBuckets; AWS Signature Version 4 in the
/// Authorization header or in the query string (presigned URLs; legacy SigV2 presigned URLs
/// too, see `S3SigV2`), with the access keys of `ats s3-key create`. Errors are S3's XML error
/// documents, which S3 clients parse. Not here: multipart uploads, DeleteObjects, versions,
/// ACLs and tags (501 NotImplemented); user metadata (`x-amz-meta-*`) is accepted but not kept.
///
/// The routes are added straight to the router, not as documented operations: this surface is
/// described by the S3 API, not by `/openapi.json`.
extension RouteTable {
    func addS3Routes() {
        let endpoint = S3Endpoint(gateway: gateway)
        for path in [S3Path.root, S3Path.root + "/:bucket", S3Path.root + "/:bucket/**"] {
            for method in [HTTPRequest.Method.get, .head, .put, .delete, .post] {
                router.on(RouterPath(stringLiteral: path), method: method) { request, context in
                    await endpoint.respond(request, context: context)
                }
            }
        }
    }
}

/// One S3 request's way through: address, authentication, operation, and errors as XML.
struct S3Endpoint: Sendable {
    let gateway: Gateway

    func respond(_ request: Request, context: ATSRequestContext) async -> Response {
        let head = request.method == .head
        do {
            guard let files = gateway.files else { throw S3Error.unavailable }
            guard let target = S3Path(rawPath: request.uri.path) else {
                throw S3Error(.badRequest, "InvalidURI", "Couldn't parse the specified URI.")
            }
            let query = S3Query(raw: request.uri.query)
            var response = try await route(request, context: context, target: target, query: query, files: files)
            response.headers[.xAmzRequestID] = context.requestID
            return response
        } catch let notModified as S3NotModified {
            var headers = notModified.headers
            headers[.xAmzRequestID] = context.requestID
            return Response(status: .notModified, headers: headers)
        } catch {
            return Self.s3Error(for: error, logger: context.logger)
                .response(resource: request.uri.path, requestID: context.requestID, head: head)
        }
    }

    private func route(
        _ request: Request, context: ATSRequestContext, target: S3Path, query: S3Query, files: FileServices
    ) async throws -> Response {
        guard let bucket = target.bucket else {
            guard request.method == .get else { throw S3Error.methodNotAllowed() }
            let caller = try await authenticate(request, context: context, files: files)
            return try await listBuckets(caller)
        }
        // The signature first, the bucket after: an unsigned or wrongly signed request learns
        // nothing about which organizations exist, and a signed one gets the same 403 for a
        // missing bucket as for another organization's.
        let caller = try await authenticate(request, context: context, files: files)
        guard let organization = try await gateway.store.organization(slug: bucket), organization.id == caller.key.organizationID
        else { throw S3Error.accessDenied() }
        let scope = S3Scope(organization: organization, caller: caller, files: files, request: request, query: query)
        guard let rawKey = target.rawKey else {
            return try await bucketOperation(scope)
        }
        if let reason = S3Path.validate(key: rawKey) {
            throw rawKey.utf8.count > 1024
                ? S3Error(.badRequest, "KeyTooLongError", "Your key is too long.", details: [("MaxSizeAllowed", "1024")])
                : S3Error.invalidKey(reason)
        }
        if let subresource = Self.objectSubresources.first(where: query.has) {
            throw S3Error.notImplemented("The `\(subresource)` subresource")
        }
        switch request.method {
        case .get: return try await getObject(scope, key: rawKey, head: false)
        case .head: return try await getObject(scope, key: rawKey, head: true)
        case .put:
            if request.headers[.xAmzCopySource] != nil { return try await copyObject(scope, key: rawKey) }
            return try await putObject(scope, key: rawKey)
        case .delete: return try await deleteObject(scope, key: rawKey)
        default: throw S3Error.notImplemented("POST on an object (multipart uploads)")
        }
    }

    private func bucketOperation(_ scope: S3Scope) async throws -> Response {
        let query = scope.query
        switch scope.request.method {
        case .head:
            return Response(status: .ok, headers: [.xAmzBucketRegion: scope.files.region])
        case .get:
            if query.has("location") {
                let region = scope.files.region == "us-east-1" ? "" : S3XML.escape(scope.files.region)
                return Self.xml(S3XML.declaration + "<LocationConstraint xmlns=\"\(S3XML.namespace)\">\(region)</LocationConstraint>")
            }
            if let subresource = Self.bucketSubresources.first(where: query.has) {
                throw S3Error.notImplemented("The `\(subresource)` subresource")
            }
            return try await listObjects(scope, version: query["list-type"] == "2" ? 2 : 1)
        case .put:
            throw S3Error(
                .conflict, "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
                details: [("BucketName", scope.organization.slug)])
        case .delete:
            throw S3Error(.conflict, "BucketNotEmpty", "An organization's bucket cannot be deleted.")
        default:
            throw S3Error.notImplemented("POST on a bucket (DeleteObjects)")
        }
    }

    // MARK: Answers

    static func xml(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Query parameters naming S3 features this endpoint does not have.
    static let objectSubresources = [
        "uploads", "uploadId", "acl", "tagging", "retention", "legal-hold", "torrent", "attributes", "restore", "select",
        "versionId",
    ]
    static let bucketSubresources = [
        "uploads", "acl", "tagging", "versioning", "versions", "policy", "cors", "lifecycle", "website", "encryption",
        "replication", "notification", "logging", "object-lock", "ownershipControls", "publicAccessBlock", "delete",
    ]

    /// Every failure as an S3 error; unknown ones are logged by type only (a message could
    /// carry a key, which may name a person).
    static func s3Error(for error: any Error, logger: Logger) -> S3Error {
        switch error {
        case let error as S3Error:
            return error
        case let error as BlobError:
            switch error.code {
            case .tooLarge: return .entityTooLarge(limit: error.limit ?? 0, proposed: nil)
            case .invalidRange: return S3Error(.rangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
            case .unavailable:
                logger.error("blob store unavailable", metadata: ["error_type": "BlobError.unavailable"])
                return S3Error(.serviceUnavailable, "ServiceUnavailable", "The file store is unavailable; retry shortly.",
                    headers: [.retryAfter: "1"])
            case .storageFull:
                // No S3 code says it; 507 with a plain message is what a person reading it needs.
                return S3Error(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), "InsufficientStorage",
                    "The disk is full: the object was not stored. Retry once space is freed.", headers: [.retryAfter: "60"])
            case .corrupted, .notFound:
                // The catalog names a blob that is damaged or gone: never serve it, say so loudly.
                logger.error("object's blob unreadable", metadata: ["error_type": "BlobError.\(error.code.rawValue)"])
                return .internalError
            }
        case let error as StoreError where error.code == .storageFull:
            return S3Error(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), "InsufficientStorage",
                "The disk is full: the database cannot be written. Retry once space is freed.", headers: [.retryAfter: "60"])
        case let error as StoreError where error.code == .unavailable:
            logger.warning("store unavailable", metadata: ["error": "\(error.code)"])
            return S3Error(.serviceUnavailable, "ServiceUnavailable", "The database is busy; retry shortly.", headers: [.retryAfter: "1"])
        case let error as HTTPError where error.status == .contentTooLarge:
            return .entityTooLarge(limit: 0, proposed: nil)
        case is NIOTooManyBytesError:
            return .entityTooLarge(limit: 0, proposed: nil)
        case is RequestBodyTimeout:
            return S3Error(.badRequest, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period.")
        case let error where ConnectionGuardHandler.isParseError(error):
            return S3Error(.badRequest, "IncompleteBody", "The request body is not valid HTTP/1.1 framing.")
        default:
            logger.error("unhandled S3 error", metadata: ["error_type": "\(type(of: error))"])
            return .internalError
        }
    }
}

/// An authenticated request on one organization's bucket.
struct S3Scope: Sendable {
    let organization: Organization
    let caller: S3Caller
    let files: FileServices
    let request: Request
    let query: S3Query

    var catalog: any FileCatalog { files.catalog }
}

extension HTTPField.Name {
    static let xAmzCopySource = HTTPField.Name("x-amz-copy-source")!
}
