import ATSBlob
import Foundation
import HTTPTypes
import Hummingbird

/// A PutObject body as the client framed it: plain, or `aws-chunked` (the `STREAMING-*`
/// payload modes, with chunk signatures checked and trailer checksums verified), with every
/// digest the client declared (`x-amz-content-sha256`, `x-amz-checksum-*`, `Content-MD5`)
/// checked as the bytes stream into the blob store, so a mismatch stores nothing.
///
/// What boto3 sends over plain HTTP today: a plain body, the hex SHA-256 in
/// `x-amz-content-sha256`, `x-amz-checksum-crc32`, and `Expect: 100-continue`.
struct S3Upload: Sendable {
    /// The declared object size (`x-amz-decoded-content-length` or `Content-Length`), if any.
    let declaredSize: Int64?
    let contentType: String
    let expectations: [S3ChecksumExpectation]
    /// `aws-chunked` decoding, when the body is framed.
    let chunked: AWSChunkedConfiguration?
    /// The payload hash was a hex SHA-256 without a matching `x-amz-checksum-sha256`: its
    /// mismatch is S3's `XAmzContentSHA256Mismatch`.
    let payloadHashOnly: Bool
    /// `x-amz-checksum-*` headers to echo on success (S3 returns the checksums it verified).
    let echoedChecksums: [(HTTPField.Name, String)]

    init(request: Request, caller: S3Caller, limit: Int64) throws {
        let headers = request.headers
        let encoding = headers[.contentEncoding]?.lowercased() ?? ""
        let streaming = caller.payloadHash.hasPrefix("STREAMING-") || encoding.contains("aws-chunked")
        if streaming {
            guard let decoded = headers[.xAmzDecodedContentLength] else {
                throw S3Error(.lengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
            }
            guard let size = Int64(decoded.trimmingCharacters(in: .whitespaces)), size >= 0 else {
                throw S3Error.invalidArgument("x-amz-decoded-content-length is not a size", name: "x-amz-decoded-content-length")
            }
            declaredSize = size
            chunked = caller.chunked ?? AWSChunkedConfiguration(trailer: headers[.xAmzTrailer], decodedLength: size)
        } else {
            declaredSize = headers[.contentLength].flatMap { Int64($0) }
            chunked = nil
        }
        if let declaredSize, declaredSize > limit {
            throw S3Error.entityTooLarge(limit: limit, proposed: declaredSize)
        }
        contentType = headers[.contentType] ?? "binary/octet-stream"
        let checksumHeaders = headers.filter { field in
            let name = field.name.canonicalName
            return name.hasPrefix("x-amz-checksum-") || name == "content-md5"
        }.map { ($0.name.canonicalName, $0.value) }
        do {
            expectations = try S3Checksum.expectations(
                headers: checksumHeaders, payloadHash: caller.payloadHash.hasPrefix("STREAMING-") ? nil : caller.payloadHash)
        } catch {
            throw error.algorithm == "content-md5"
                ? S3Error(.badRequest, "InvalidDigest", "The Content-MD5 you specified was invalid.")
                : S3Error(.badRequest, "InvalidRequest", "Value for \(error.algorithm) header is invalid.")
        }
        payloadHashOnly = !checksumHeaders.contains { $0.0 == "x-amz-checksum-sha256" } && caller.payloadHash.count == 64
        echoedChecksums = checksumHeaders.compactMap { name, value in
            guard name.hasPrefix("x-amz-checksum-"), S3ChecksumAlgorithm(headerName: name) != nil,
                let field = HTTPField.Name(name)
            else { return nil }
            return (field, value)
        }
    }

    /// Stores the body in `blobs`, decoded and verified; S3 errors for every refusal.
    func store(_ body: RequestBody, in blobs: any BlobStore, limit: Int64) async throws -> BlobInfo {
        let bytes = body.map { Array($0.readableBytesView) }
        do {
            if let chunked {
                let decoded = AWSChunkedDecoder(bytes, configuration: chunked)
                return try await blobs.put(S3Checksum.verifying(decoded, expectations), limit: limit)
            }
            return try await blobs.put(S3Checksum.verifying(bytes, expectations), limit: limit)
        } catch let error as S3ChecksumError {
            if error.algorithm == "x-amz-checksum-sha256" && payloadHashOnly {
                throw S3Error(
                    .badRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
            }
            let name = error.algorithm == "content-md5" ? "Content-MD5" : error.algorithm
            throw S3Error(.badRequest, "BadDigest", "The \(name) you specified did not match the calculated checksum.")
        } catch let error as AWSChunkedError {
            switch error.code {
            case .signatureMismatch:
                throw S3Error(.forbidden, "SignatureDoesNotMatch", "A chunk signature does not match: \(error.message).")
            case .checksumMismatch:
                throw S3Error(.badRequest, "BadDigest", "The trailing checksum you specified did not match the calculated checksum.")
            case .incomplete, .lengthMismatch:
                throw S3Error(.badRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
            case .malformed:
                throw S3Error(.badRequest, "InvalidRequest", "The aws-chunked body is malformed: \(error.message).")
            }
        }
    }
}


extension HTTPField.Name {
    static let xAmzTrailer = HTTPField.Name("x-amz-trailer")!
}
