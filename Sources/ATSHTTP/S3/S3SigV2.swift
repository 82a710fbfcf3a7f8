import ATSBlob
import Foundation
import HTTPTypes
import Hummingbird

/// Legacy S3 query-string authentication (Signature Version 2, HMAC-SHA1): presigned URLs only.
/// boto3's `generate_presigned_url` still makes these for a client left at its defaults in
/// us-east-1 (`?AWSAccessKeyId=...&Signature=...&Expires=...`), so an agency script that
/// presigns without `signature_version="s3v4"` works too. Requests themselves must use SigV4.
/// Expiry is capped at 7 days, as for SigV4.
enum S3SigV2 {
    /// Query parameters whose values are signed (S3's "sub-resources" and response overrides).
    static let signedParameters: Set<String> = [
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy", "requestPayment",
        "response-cache-control", "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId",
        "versioning", "versions", "website",
    ]

    static func isPresigned(_ query: S3Query) -> Bool {
        query.has("AWSAccessKeyId") || (query.has("Signature") && query.has("Expires"))
    }

    /// The access key id whose secret signed the URL; S3 errors otherwise.
    static func verify(
        _ request: Request, query: S3Query, now: Date, secret: (String) async -> String?
    ) async throws(S3Error) -> String {
        // Base64 has no spaces: a '+' left unencoded in the URL reads back as one.
        guard let accessKeyID = query["AWSAccessKeyId"], let signature = query["Signature"]?.replacingOccurrences(of: " ", with: "+"),
            let expiresText = query["Expires"],
            let expires = Int64(expiresText)
        else {
            throw S3Error(.badRequest, "AuthorizationQueryParametersError", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
        }
        guard let secret = await secret(accessKeyID) else {
            throw S3Error(.forbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        }
        let headers = request.headers
        var amzHeaders: [String: [String]] = [:]
        for field in headers where field.name.canonicalName.hasPrefix("x-amz-") {
            amzHeaders[field.name.canonicalName, default: []].append(field.value.trimmingCharacters(in: .whitespaces))
        }
        let canonicalHeaders = amzHeaders.keys.sorted().map { "\($0):\(amzHeaders[$0]!.joined(separator: ","))\n" }.joined()
        var subresources = query.items.filter { signedParameters.contains($0.name) }
        subresources.sort { $0.name < $1.name }
        let suffix = subresources.isEmpty
            ? "" : "?" + subresources.map { $0.value.isEmpty ? $0.name : "\($0.name)=\($0.value)" }.joined(separator: "&")
        let head = "\(request.method.rawValue)\n\(headers[.contentMD5] ?? "")\n\(headers[.contentType] ?? "")\n\(expiresText)\n\(canonicalHeaders)"
        // botocore signs the path below the endpoint URL's own path (`/bucket/key`, not `/s3/...`).
        let path = request.uri.path
        let relative = path.hasPrefix(S3Path.root + "/") ? String(path.dropFirst(S3Path.root.count)) : path
        let matches = [relative, path].contains { resource in
            let expected = Data(hmacSHA1(key: Array(secret.utf8), Array((head + resource + suffix).utf8))).base64EncodedString()
            return constantTimeEqual(Array(expected.utf8), Array(signature.utf8))
        }
        guard matches else {
            throw S3Error(
                .forbidden, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
        }
        let seconds = Int64(now.timeIntervalSince1970)
        guard seconds <= expires else { throw S3Error.accessDenied("Request has expired") }
        guard expires - seconds <= Int64(SigV4.maximumExpires) else {
            throw S3Error(.badRequest, "AuthorizationQueryParametersError", "Expires must be less than a week (604800 seconds) from now")
        }
        return accessKeyID
    }

    /// HMAC-SHA1 (RFC 2104) over the public SHA-1 hasher.
    static func hmacSHA1(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var block = key
        if block.count > 64 {
            let hasher = S3ChecksumHasher(.sha1)
            hasher.update(block)
            block = hasher.finish()
        }
        block += [UInt8](repeating: 0, count: 64 - block.count)
        let inner = S3ChecksumHasher(.sha1)
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(message)
        let outer = S3ChecksumHasher(.sha1)
        outer.update(block.map { $0 ^ 0x5c })
        outer.update(inner.finish())
        return outer.finish()
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
