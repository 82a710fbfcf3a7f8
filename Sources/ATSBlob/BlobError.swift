import Foundation

/// What the blob tier reports; adapters (the file store, a later S3 store) map their native
/// failures into these codes, and only the HTTP edge turns them into status codes.
public struct BlobError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The body passed `limit` bytes; nothing was stored (HTTP 413).
        case tooLarge
        /// No blob with that id (HTTP 404).
        case notFound
        /// The stored bytes no longer hash to the id; the blob is never served (HTTP 500, alert).
        case corrupted
        /// The requested range starts at or after the end of the blob (HTTP 416).
        case invalidRange
        /// The backend failed (I/O error, permissions) (HTTP 503).
        case unavailable
        /// The disk or quota is full (ENOSPC, EDQUOT): nothing was stored, no temporary file is
        /// left, and the same put succeeds once space is freed (HTTP 507).
        case storageFull
    }

    public let code: Code
    /// The size limit that was passed, for `.tooLarge`.
    public let limit: Int64?
    /// A sentence for logs and problem details; blob ids and errno only, no content.
    public let message: String

    public init(_ code: Code, _ message: String, limit: Int64? = nil) {
        self.code = code
        self.message = message
        self.limit = limit
    }

    public var description: String { "BlobError.\(code.rawValue): \(message)" }

    static func tooLarge(_ limit: Int64) -> BlobError {
        BlobError(.tooLarge, "the body is larger than the limit of \(limit) bytes", limit: limit)
    }

    static func notFound(_ id: BlobID) -> BlobError { BlobError(.notFound, "no blob \(id.hex)") }

    /// A native failure: out of space (ENOSPC, EDQUOT) is `.storageFull`, the rest `.unavailable`.
    static func unavailable(_ what: String, _ error: any Error) -> BlobError {
        if let failure = error as? POSIXFailure, failure.code == ENOSPC || failure.code == EDQUOT {
            return BlobError(.storageFull, "\(what): the disk is full (\(failure))")
        }
        return BlobError(.unavailable, "\(what): \(error)")
    }
}
