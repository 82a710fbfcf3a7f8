import HTTPTypes
import Hummingbird
import NIOCore

/// An error of the S3-compatible endpoint. S3 clients read the `Code` of S3's XML error
/// document (boto3 raises `ClientError` with it), so `/s3` answers those instead of the rest of
/// the API's problem+json. Messages name no file content and no secret.
struct S3Error: Error, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    /// Extra elements of the document, in order (`Key`, `BucketName`, `MaxSizeAllowed` ...).
    var details: [(String, String)] = []
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, details: [(String, String)] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }

    /// The error document; HEAD answers carry no body, as S3's do (clients go by the status).
    func response(resource: String, requestID: String, head: Bool) -> Response {
        var fields = headers
        fields[.xAmzRequestID] = requestID
        guard !head else {
            return Response(status: status, headers: fields)
        }
        var xml = S3XML.declaration + "<Error><Code>" + S3XML.escape(code) + "</Code><Message>" + S3XML.escape(message) + "</Message>"
        for (name, value) in details {
            xml += "<\(name)>" + S3XML.escape(value) + "</\(name)>"
        }
        xml += "<Resource>" + S3XML.escape(resource) + "</Resource><RequestId>" + S3XML.escape(requestID) + "</RequestId></Error>"
        fields[.contentType] = "application/xml"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: xml)))
    }
}

extension S3Error {
    static func accessDenied(_ message: String = "Access Denied") -> S3Error {
        S3Error(.forbidden, "AccessDenied", message)
    }

    static func noSuchKey(_ key: String) -> S3Error {
        S3Error(.notFound, "NoSuchKey", "The specified key does not exist.", details: [("Key", key)])
    }

    static func invalidArgument(_ message: String, name: String? = nil) -> S3Error {
        S3Error(.badRequest, "InvalidArgument", message, details: name.map { [("ArgumentName", $0)] } ?? [])
    }

    static func invalidKey(_ reason: String) -> S3Error {
        S3Error(.badRequest, "InvalidArgument", "Invalid object key: \(reason).", details: [("ArgumentName", "key")])
    }

    static func entityTooLarge(limit: Int64, proposed: Int64?) -> S3Error {
        var details = [("MaxSizeAllowed", String(limit))]
        if let proposed { details.append(("ProposedSize", String(proposed))) }
        return S3Error(.contentTooLarge, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.", details: details)
    }

    static func notImplemented(_ what: String) -> S3Error {
        S3Error(.notImplemented, "NotImplemented", "\(what) is not implemented by this endpoint.")
    }

    static func methodNotAllowed() -> S3Error {
        S3Error(.methodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
    }

    static let internalError = S3Error(
        .internalServerError, "InternalError", "We encountered an internal error. Please try again.")

    static let slowDown = S3Error(.serviceUnavailable, "SlowDown", "Please reduce your request rate.", headers: [.retryAfter: "1"])

    static let unavailable = S3Error(
        .serviceUnavailable, "ServiceUnavailable", "The file store is not available on this server.", headers: [.retryAfter: "1"])
}

extension HTTPField.Name {
    static let xAmzRequestID = HTTPField.Name("x-amz-request-id")!
    static let xAmzDecodedContentLength = HTTPField.Name("x-amz-decoded-content-length")!
    static let xAmzBucketRegion = HTTPField.Name("x-amz-bucket-region")!
    static let contentMD5 = HTTPField.Name("Content-MD5")!
}
