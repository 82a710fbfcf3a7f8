import Foundation

/// An access key and what it signs for (region and service are part of the signing key).
public struct SigV4Credentials: Sendable, Hashable {
    public var accessKeyID: String
    public var secretKey: String
    public var region: String
    public var service: String

    public init(accessKeyID: String, secretKey: String, region: String = "us-east-1", service: String = "s3") {
        self.accessKeyID = accessKeyID
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }
}

/// A request as received, before any decoding: what SigV4 verification needs.
public struct SigV4Request: Sendable {
    /// HTTP method, e.g. "GET".
    public var method: String
    /// Raw path, percent-encoded as received (e.g. "/s3/bucket/my%20cv.pdf").
    public var path: String
    /// Raw query string without the '?', as received.
    public var query: String
    /// Header names and values as received (any case; repeated names allowed).
    public var headers: [(String, String)]

    public init(method: String, path: String, query: String = "", headers: [(String, String)]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The values of header `name` (case-insensitive), in order.
    public func headerValues(_ name: String) -> [String] {
        let lowered = name.lowercased()
        return headers.filter { $0.0.lowercased() == lowered }.map(\.1)
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? { headerValues(name).first }
}

/// A successfully verified request: who signed it and how.
public struct SigV4Verified: Sendable, Hashable {
    public enum Form: String, Sendable, Hashable {
        /// Presigned URL (X-Amz-* query parameters).
        case query
        /// `Authorization: AWS4-HMAC-SHA256 ...` header.
        case header
    }

    /// The access key id that signed (its secret verified the signature).
    public let accessKeyID: String
    public let form: Form
    /// The signed payload hash: `x-amz-content-sha256` (a hex SHA-256, UNSIGNED-PAYLOAD or a
    /// STREAMING-* value) or UNSIGNED-PAYLOAD for presigned URLs. A hex value must still be
    /// compared with the body's SHA-256 by the caller (the blob id is exactly that).
    public let payloadHash: String
    /// Lowercase names of the signed headers.
    public let signedHeaders: [String]
    /// When the request was signed (X-Amz-Date).
    public let signedAt: Date
    /// For presigned URLs: when the URL stops working.
    public let expiresAt: Date?
    /// For STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: what `AWSChunkedDecoder` needs to
    /// check the chunk signatures.
    public let chunkSigning: SigV4ChunkSigning?

    /// True when the body is `aws-chunked` (any STREAMING-* payload hash).
    public var isStreaming: Bool { payloadHash.hasPrefix("STREAMING-") }

    /// True when the payload hash is a literal SHA-256 the body must match.
    public var payloadHashIsDigest: Bool { Hex.isLowercase(payloadHash, count: 64) }
}

/// The chain the chunk signatures of a signed streaming upload hang from.
public struct SigV4ChunkSigning: Sendable, Hashable {
    /// The derived signing key (HMAC chain of secret, date, region, service).
    public let signingKey: [UInt8]
    /// X-Amz-Date of the request, e.g. 20130524T000000Z.
    public let amzDate: String
    /// Credential scope, e.g. 20130524/us-east-1/s3/aws4_request.
    public let scope: String
    /// The request's own signature: the first chunk's "previous signature".
    public let seedSignature: String

    public init(signingKey: [UInt8], amzDate: String, scope: String, seedSignature: String) {
        self.signingKey = signingKey
        self.amzDate = amzDate
        self.scope = scope
        self.seedSignature = seedSignature
    }

    private static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The signature of a chunk whose data hashes to `dataHash`, chained from `previous`.
    public func chunkSignature(previous: String, dataHash: String) -> String {
        let stringToSign = "AWS4-HMAC-SHA256-PAYLOAD\n\(amzDate)\n\(scope)\n\(previous)\n\(Self.emptyHash)\n\(dataHash)"
        return Hex.encode(hmacSHA256(key: signingKey, stringToSign))
    }

    /// The signature of the trailer block, whose canonical form is `name:value\n` per trailer.
    public func trailerSignature(previous: String, canonicalTrailers: String) -> String {
        let hash = Hex.encode(Digest.hash(.sha256, Array(canonicalTrailers.utf8)))
        let stringToSign = "AWS4-HMAC-SHA256-TRAILER\n\(amzDate)\n\(scope)\n\(previous)\n\(hash)"
        return Hex.encode(hmacSHA256(key: signingKey, stringToSign))
    }
}

/// Why a request's signature was refused; every code is a 403 at the edge except `missing`
/// (401/403 as the surface prefers) and `malformed` (400).
public struct SigV4Error: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// No SigV4 authentication at all.
        case missing
        /// Authentication present but unreadable (bad credential scope, date, parameter...).
        case malformed
        /// A presigned URL past its X-Amz-Date + X-Amz-Expires.
        case expired
        /// X-Amz-Expires above 604800 seconds (7 days).
        case expiresTooLong
        /// The signature does not match the request (tampered, wrong method, wrong secret).
        case signatureMismatch
        /// No such access key.
        case unknownKey
        /// The signing time is more than 15 minutes away from now.
        case requestTimeTooSkewed
    }

    public let code: Code
    /// A sentence for the client; never a secret, never the expected signature.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "SigV4Error.\(code.rawValue): \(message)" }
}
