import ATSBlob
import ATSDomain
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird

/// Who signed an S3 request, and how.
struct S3Caller: Sendable {
    let key: S3Key
    /// `x-amz-content-sha256` as signed: a hex SHA-256, `UNSIGNED-PAYLOAD` or a `STREAMING-...` mode.
    let payloadHash: String
    /// How to decode an `aws-chunked` body (with the chunk signing chain of a signed stream).
    let chunked: AWSChunkedConfiguration?
}

extension S3Endpoint {
    /// Checks the request's SigV4 signature (header or query form) with the key it names; the
    /// key must be live. It looks at no bucket: the caller matches the key's organization to the
    /// bucket afterwards. Every refusal is a 403 (or a 400 for a signature that cannot be
    /// parsed), never a hint about which organizations or keys exist.
    func authenticate(_ request: Request, context: ATSRequestContext, files: FileServices) async throws -> S3Caller {
        let catalog = files.catalog
        let region = files.region
        let caller: S3Caller
        let query = S3Query(raw: request.uri.query)
        // The key the signature named, read once: the lookup closures keep it.
        var found: S3Key?
        if S3SigV2.isPresigned(query) {
            // SigV2 signs no query parameters: only a link to one object may use it, never a
            // listing whose prefix or token could be edited.
            let parts = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count >= 3, [.get, .head, .put].contains(request.method) else {
                throw S3Error.accessDenied("Signature Version 2 links are accepted for one object's GET, HEAD or PUT only.")
            }
            _ = try await S3SigV2.verify(request, query: query, now: Date()) { accessKeyID in
                guard let key = try? await catalog.s3Key(accessKeyID: accessKeyID), key.revokedAt == nil else { return nil }
                found = key
                return key.secret
            }
            guard let key = found else { throw S3Error.internalError }
            caller = S3Caller(key: key, payloadHash: SigV4.unsignedPayload, chunked: nil)
        } else {
            var headers = request.headers.map { ($0.name.canonicalName, $0.value) }
            if let authority = request.head.authority { headers.append(("host", authority)) }
            let signed = SigV4Request(
                method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "", headers: headers)
            let verified: SigV4Verified
            do {
                verified = try await SigV4.verify(signed, now: Date()) { accessKeyID in
                    guard let key = try? await catalog.s3Key(accessKeyID: accessKeyID), key.revokedAt == nil else { return nil }
                    found = key
                    return SigV4Credentials(accessKeyID: key.accessKeyID, secretKey: key.secret, region: region)
                }
            } catch {
                throw Self.s3Error(error, presigned: query.has("X-Amz-Signature"), region: region)
            }
            guard let key = found, key.accessKeyID == verified.accessKeyID else { throw S3Error.internalError }
            // Headers that change what a request does must be signed, as AWS requires: a
            // presigned upload link cannot be turned into a copy of another object.
            for name in ["x-amz-copy-source", "x-amz-metadata-directive"]
            where request.headers[HTTPField.Name(name)!] != nil && !verified.signedHeaders.contains(name) {
                throw S3Error.accessDenied("The \(name) header must be signed.")
            }
            caller = S3Caller(
                key: key, payloadHash: verified.payloadHash,
                chunked: verified.isStreaming ? AWSChunkedConfiguration(request: signed, verified: verified) : nil)
        }
        let key = caller.key
        if let wait = gateway.limiter.take("s3:" + key.accessKeyID) {
            var error = S3Error.slowDown
            error.headers[.retryAfter] = String(wait)
            throw error
        }
        context.span?.attributes["ats.org"] = key.organizationID
        return caller
    }


    /// SigV4's refusals in S3's words (clients and people both read the Code).
    static func s3Error(_ error: SigV4Error, presigned: Bool, region: String) -> S3Error {
        switch error.code {
        case .missing:
            return .accessDenied("Anonymous access is not allowed: sign requests with an access key from `ats s3-key create`.")
        case .malformed:
            return presigned
                ? S3Error(.badRequest, "AuthorizationQueryParametersError", error.message)
                : S3Error(.badRequest, "AuthorizationHeaderMalformed", error.message, details: [("Region", region)])
        case .expired:
            return .accessDenied("Request has expired")
        case .expiresTooLong:
            return S3Error(
                .badRequest, "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800")
        case .signatureMismatch:
            return S3Error(
                .forbidden, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
        case .unknownKey:
            return S3Error(.forbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        case .requestTimeTooSkewed:
            return S3Error(.forbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
        }
    }
}
