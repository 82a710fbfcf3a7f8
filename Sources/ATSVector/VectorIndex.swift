/// A nearest-neighbour index over normalized float32 vectors, keyed by the caller's ids
/// (candidate or job ids). Shared by concurrent requests: searches run concurrently, writes
/// exclusively.
public protocol VectorIndex: Sendable {
    /// The length every vector must have.
    var dimensions: Int { get }
    /// How many ids the index holds.
    var count: Int { get }
    /// Adds `vector` under `id`, replacing an existing one. The vector is normalized here, so
    /// a caller's unnormalized vector still ranks by cosine. Precondition: `vector.count == dimensions`.
    func upsert(id: String, vector: [Float])
    /// Forgets `id` (nothing happens when it is absent).
    func remove(id: String)
    /// Top k by cosine (vectors are normalized: dot product), best first; `allowed` restricts to those ids.
    func search(_ query: [Float], k: Int, allowed: Set<String>?) -> [VectorMatch]
    /// The stored (normalized) vector of `id`, for "more like this" and matching.
    func vector(for id: String) -> [Float]?
    /// Writes the index to `path` atomically (a temporary file, then a rename).
    func save(to path: String) throws
}

extension VectorIndex {
    /// Top k over the whole index.
    public func search(_ query: [Float], k: Int) -> [VectorMatch] {
        search(query, k: k, allowed: nil)
    }
}

/// One search result: an id and its cosine similarity to the query (higher is closer).
public struct VectorMatch: Sendable, Hashable {
    public var id: String
    public var score: Float

    public init(id: String, score: Float) {
        self.id = id
        self.score = score
    }
}

/// Why an index file could not be read or written.
public struct VectorIndexError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        /// The file could not be opened, read, written or renamed.
        case io
        /// Not an index file, a version this build does not read, or the wrong kind of index.
        case unsupportedFormat = "unsupported-format"
        /// The file is truncated or its contents are inconsistent (checksum, ranges).
        case corrupt
    }

    public let reason: Reason
    public let message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "VectorIndexError.\(reason.rawValue): \(message)" }
}
