import ATSDomain
import ATSStore
import Foundation
import Hummingbird
import NIOCore

/// An RFC 9457 problem: the one shape of every error the API returns.
/// `type` is stable (`/problems/<slug>`), so scripts can branch on it.
public struct Problem: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let slug: String
    public let title: String
    public let detail: String
    public var errors: [FieldError]
    public var extra: JSONObject
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, _ slug: String, _ title: String, detail: String, errors: [FieldError] = [],
        extra: JSONObject = [:], headers: HTTPFields = [:]
    ) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.extra = extra
        self.headers = headers
    }

    public var type: String { "/problems/\(slug)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let requestID = (context as? ATSRequestContext)?.requestID
        return makeResponse(instance: request.uri.path, requestID: requestID)
    }

    func makeResponse(instance: String, requestID: String?) -> Response {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: document(instance: instance, requestID: requestID))))
    }

    /// The JSON document; `instance` is nil where no request path can be trusted (a request
    /// the parser rejected).
    func document(instance: String?, requestID: String?) -> String {
        var doc: JSONObject = extra
        doc["type"] = .string(type)
        doc["title"] = .string(title)
        doc["status"] = .int(Int64(status.code))
        doc["detail"] = .string(detail)
        if let instance { doc["instance"] = .string(instance) }
        if let requestID, !requestID.isEmpty { doc["requestId"] = .string(requestID) }
        if !errors.isEmpty {
            doc["errors"] = .array(errors.map { .object(["field": .string($0.field), "message": .string($0.message)]) })
        }
        return JSONCoding.encode(doc)
    }
}

extension Problem {
    static func validation(_ errors: [FieldError]) -> Problem {
        let fields = errors.prefix(5).map(\.field).joined(separator: ", ")
        return Problem(
            .unprocessableContent, "validation", "Invalid fields",
            detail: "The request has \(errors.count) invalid field(s): \(fields).", errors: errors)
    }

    static func badRequest(_ slug: String, _ detail: String, errors: [FieldError] = []) -> Problem {
        Problem(.badRequest, slug, "Bad request", detail: detail, errors: errors)
    }

    static func notFound(_ what: String) -> Problem {
        Problem(.notFound, "not-found", "Not found", detail: "\(what) does not exist.")
    }

    static let unauthorized = Problem(
        .unauthorized, "unauthorized", "Authentication required",
        detail: "Send `Authorization: Bearer <API key or session token>`.", headers: [.wwwAuthenticate: "Bearer"])

    static func forbidden(_ detail: String) -> Problem {
        Problem(.forbidden, "forbidden", "Not allowed", detail: detail)
    }

    static func conflict(_ slug: String, _ detail: String, extra: JSONObject = [:]) -> Problem {
        Problem(.conflict, slug, "Conflict", detail: detail, extra: extra)
    }

    /// Maps store errors to answers; the store never reports a native database error.
    static func from(_ error: StoreError) -> Problem {
        switch error.code {
        case .notFound:
            return Problem(.notFound, "not-found", "Not found", detail: error.message)
        case .conflict:
            return Problem(.conflict, "conflict", "Conflict", detail: error.message)
        case .duplicate:
            var extra: JSONObject = [:]
            if let id = error.existingID { extra["existingId"] = .string(id) }
            return Problem(
                .conflict, "duplicate-candidate", "Possible duplicate",
                detail: error.message + " Send `?allowDuplicate=true` to create it anyway, or merge the two.",
                extra: extra)
        case .invalidReference:
            return Problem(
                .unprocessableContent, "invalid-reference", "Unknown reference", detail: error.message,
                errors: error.fieldErrors)
        case .invalidStage:
            return Problem(
                .unprocessableContent, "invalid-stage", "Stage not in pipeline", detail: error.message,
                errors: error.fieldErrors)
        case .validation:
            return Problem(
                .unprocessableContent, "validation", "Invalid fields", detail: error.message, errors: error.fieldErrors)
        case .unavailable:
            return Problem(
                .serviceUnavailable, "store-unavailable", "Store unavailable",
                detail: "The database is busy or unreachable; retry shortly.", headers: [.retryAfter: "1"])
        case .storageFull:
            return insufficientStorage("the database")
        }
    }

    /// 507: a write failed because the disk (or quota) is full. Nothing of it was kept; the same
    /// request succeeds once space is freed, so it says which store is out of space and why.
    static func insufficientStorage(_ what: String) -> Problem {
        Problem(
            HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), "insufficient-storage", "Insufficient storage",
            detail: "The disk is full: \(what) cannot be written, and nothing of this request was kept. Retry once space is freed.",
            headers: [.retryAfter: "60"])
    }
}
