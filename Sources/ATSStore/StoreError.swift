import ATSDomain

/// What the store tier reports; every backend maps its native errors into this, so the HTTP
/// edge can answer with the right status without knowing which database runs.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// No such row in this organization (another tenant's row answers the same).
        case notFound
        /// The write breaks a uniqueness or integrity rule (slug taken, row still referenced ...).
        case conflict
        /// A candidate with the same normalized email or phone exists (`existingID`).
        case duplicate
        /// A field names a row that does not exist in this organization (`fieldErrors`).
        case invalidReference
        /// A stage that the job's pipeline lacks, or a pipeline change that would strand applications.
        case invalidStage
        /// The document breaks a rule of its kind that the schema alone cannot say.
        case validation
        /// The database cannot be reached or is read-only for now.
        case unavailable
        /// The disk (or quota) under the database is full: the write was rolled back whole and
        /// succeeds again once space is freed (HTTP 507, and `/readyz` not ready meanwhile).
        case storageFull
    }

    public let code: Code
    public let message: String
    public var existingID: String?
    public var fieldErrors: [FieldError]

    public init(_ code: Code, _ message: String, existingID: String? = nil, fieldErrors: [FieldError] = []) {
        self.code = code
        self.message = message
        self.existingID = existingID
        self.fieldErrors = fieldErrors
    }

    public static func notFound(_ what: String) -> StoreError { StoreError(.notFound, "\(what) not found") }

    public var description: String { "StoreError.\(code.rawValue): \(message)" }
}
