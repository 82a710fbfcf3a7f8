/// What the cache tier reports besides a loader's own errors; a networked backend maps its
/// client's errors into this, so callers can treat the cache as optional (fall back to the
/// store) without knowing which backend runs.
public struct CacheError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The backend cannot be reached or did not answer in time.
        case unavailable
        /// The backend answered something this client cannot read.
        case protocolViolation
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "CacheError.\(code.rawValue): \(message)" }
}
