import ATSBlob
import ATSDomain
import ATSStore
import ATSWork
import Foundation
import HTTPTypes
import Hummingbird
import Tracing

/// The file tier as the gateway sees it: blobs, the store's records of them, limits, and the
/// presigned links (AWS Signature Version 4 in query form, signed with the organization's
/// internal key, so the link itself is the permission and expires on its own).
public struct FileServices: Sendable {
    public let blobs: any BlobStore
    public let catalog: any FileCatalog
    /// Largest file, in bytes (413 above).
    public let maxBytes: Int64
    /// Lifetime of the links the API hands out.
    public let presignSeconds: Int
    /// `https://ats.example.com` when clients reach the server through another address.
    public let publicURL: String?
    public let region: String
    /// Text extraction and CV parsing (`from-cv` runs it in the request).
    public let ingest: DocumentIngest
    /// Spans for file reads and writes (`blob.put`, `blob.read`); nil: none.
    public let tracer: (any Tracer)?

    public init(
        blobs: any BlobStore, catalog: any FileCatalog, maxBytes: Int64, presignSeconds: Int = 900, publicURL: String? = nil,
        region: String = "us-east-1", ingest: DocumentIngest, tracer: (any Tracer)? = nil
    ) {
        self.tracer = tracer
        self.blobs = blobs
        self.catalog = catalog
        self.maxBytes = maxBytes
        self.presignSeconds = presignSeconds
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.region = region
        self.ingest = ingest
    }

    /// A presigned link to `path` (already percent-encoded), valid for `seconds`.
    public func presign(
        method: String, path: String, query: [(String, String)] = [], organizationID: String, request: Request, seconds: Int? = nil,
        now: Date = Date()
    ) async throws -> (url: String, expiresAt: String) {
        let key = try await catalog.internalS3Key(organizationID: organizationID)
        let base = publicURL ?? "http://" + Self.host(request)
        let host = base.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? "127.0.0.1"
        let lifetime = min(604_800, max(1, seconds ?? presignSeconds))
        let signed = SigV4.presign(
            method: method, host: host, path: path, query: query,
            credentials: SigV4Credentials(accessKeyID: key.accessKeyID, secretKey: key.secret, region: region), date: now,
            expires: lifetime)
        return (base + signed, Timestamp.format(now.addingTimeInterval(Double(lifetime))))
    }

    /// Runs a blob operation inside a span of its own (the request's child), when tracing.
    func traced<T: Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        guard let tracer, let context = ServiceContext.current else { return try await body() }
        let span = tracer.startSpan(name, context: context, ofKind: .internal)
        defer { span.end() }
        do {
            return try await body()
        } catch {
            span.setStatus(SpanStatus(code: .error))
            span.attributes["error.type"] = String(describing: type(of: error))
            throw error
        }
    }

    /// Checks a presigned request; the organization whose key signed it. 403 for anything else.
    func verifyPresigned(_ request: Request, now: Date = Date()) async throws -> S3Key {
        let catalog = self.catalog
        let region = self.region
        let signed = SigV4Request(
            method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
            headers: request.headers.map { ($0.name.canonicalName, $0.value) } + [("host", Self.host(request))])
        do {
            let verified = try await SigV4.verify(signed, now: now) { accessKeyID in
                guard let key = try? await catalog.s3Key(accessKeyID: accessKeyID), key.revokedAt == nil, key.isInternal else { return nil }
                return SigV4Credentials(accessKeyID: key.accessKeyID, secretKey: key.secret, region: region)
            }
            guard let key = try await catalog.s3Key(accessKeyID: verified.accessKeyID) else { throw Problem.forbidden("Unknown key.") }
            return key
        } catch let error as SigV4Error {
            throw Problem(.forbidden, "invalid-signature", "Link not valid", detail: Self.explain(error))
        }
    }

    /// The Host the request came with (HTTP/1.1 requires one); what links are signed for.
    static func host(_ request: Request) -> String {
        request.head.authority ?? "localhost"
    }

    static func explain(_ error: SigV4Error) -> String {
        switch error.code {
        case .expired: "The link has expired; ask the API for a new one."
        case .signatureMismatch: "The link's signature does not match this request (a changed link, another file or another method)."
        case .missing: "The link carries no signature."
        case .expiresTooLong: "A link may live at most 7 days (X-Amz-Expires 604800)."
        case .unknownKey: "The link was signed with a key that is unknown or revoked."
        default: "The link is not a valid presigned link: \(error.message)"
        }
    }

    /// `attachment; filename="cv.pdf"; filename*=UTF-8''...`: an ASCII fallback without quotes,
    /// slashes or control characters, and the exact name percent-encoded for browsers that read it.
    static func contentDisposition(_ filename: String, inline: Bool = false) -> String {
        let name = String(RouteTable.safeFilename(filename, fallback: "download").prefix(200))
        let ascii = String(
            name.unicodeScalars.map { scalar -> Character in
                let allowed = (scalar.value >= 0x20 && scalar.value < 0x7F) && !"\"\\;%".unicodeScalars.contains(scalar)
                return allowed ? Character(scalar) : "_"
            })
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ascii
        return "\(inline ? "inline" : "attachment"); filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }

    /// A path segment for a file name in a link (RFC 3986 unreserved characters only).
    static func pathSegment(_ filename: String) -> String {
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        let name = String(RouteTable.safeFilename(filename, fallback: "download").prefix(200))
        return name.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "download"
    }
}
