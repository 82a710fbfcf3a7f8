/// Turns texts into vectors for the vector side of search. Implementations are swappable
/// (the built-in hashing embedder, an HTTP model server), so callers store the `identifier`
/// next to each vector and re-embed when it changes.
public protocol Embedder: Sendable {
    /// Stable name of model + parameters; vectors from different identifiers never mix.
    var identifier: String { get }
    /// The length of every vector `embed` returns.
    var dimensions: Int { get }
    /// One L2-normalized vector per text, in the order of `texts`.
    func embed(_ texts: [String]) async throws -> [[Float]]
}

extension Embedder {
    /// One text's vector: a convenience over the batch call.
    public func embed(_ text: String) async throws -> [Float] {
        let vectors = try await embed([text])
        guard let first = vectors.first else {
            throw EmbedderError(.malformedResponse, "the embedder returned no vector")
        }
        return first
    }
}

/// Why an embedder could not produce vectors; the HTTP embedder maps transport and server
/// failures into this, so callers (the embedding jobs) decide to retry without knowing which
/// embedder runs.
public struct EmbedderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Reason: String, Sendable, Hashable {
        /// The configuration cannot work (bad base URL, unsupported scheme, bad sizes).
        case invalidConfiguration = "invalid-configuration"
        /// The server could not be reached, timed out, or kept answering 429/5xx past the retries.
        case unavailable
        /// The server refused the request (4xx other than 429): a bad key or model, say.
        case rejected
        /// The answer is not the JSON an embeddings endpoint returns.
        case malformedResponse = "malformed-response"
        /// The vectors do not have the configured number of dimensions.
        case dimensionMismatch = "dimension-mismatch"
    }

    public let reason: Reason
    public let message: String
    /// The HTTP status of the last answer, when there was one.
    public let status: Int?

    public init(_ reason: Reason, _ message: String, status: Int? = nil) {
        self.reason = reason
        self.message = message
        self.status = status
    }

    public var description: String {
        "EmbedderError.\(reason.rawValue): \(message)" + (status.map { " (HTTP \($0))" } ?? "")
    }
}
