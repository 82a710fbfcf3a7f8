import Foundation

/// The blob tier: immutable, content-addressed bytes (CVs, attachments, exports).
///
/// Contract for every implementation (the conformance suite in `Tests/ATSBlobTests` checks it):
/// - `put` streams: it never holds the whole body, hashes as the bytes arrive, and returns the
///   blob's id (SHA-256 of the content); putting the same content twice stores it once and
///   restarts its GC grace period (`modified` moves forward);
/// - `put` throws `.tooLarge` as soon as more than `limit` bytes arrived, and then nothing is
///   stored (no blob, no temporary file left behind); a body that throws stores nothing either;
/// - `read` verifies the content against its id before the first byte is handed out; a
///   corrupted blob throws `.corrupted` and is never served;
/// - ranges are inclusive byte offsets in the logical content; an upper bound past the end is
///   clamped, a lower bound at or after the end throws `.invalidRange`;
/// - `delete(_:ifUnmodifiedSince:)` and `put` are atomic with respect to each other (across
///   processes for the file store): a blob put or deduplicated after `cutoff` is never deleted;
/// - errors are `BlobError`s; native errors never escape.
public protocol BlobStore: Sendable {
    /// Streams chunks into the store, hashing on the way; never holds the whole body; dedups.
    /// Throws `.tooLarge` (and stores nothing) as soon as more than `limit` bytes arrive.
    func put<S: AsyncSequence & Sendable>(_ body: S, limit: Int64) async throws -> BlobInfo
    where S.Element == [UInt8]
    /// The blob's metadata, or nil when there is no such blob. Does not verify the content.
    func info(_ id: BlobID) async throws -> BlobInfo?
    /// Verifies the blob (SHA-256) before the first byte is returned: a corrupted blob throws
    /// `.corrupted`, never serves. `range` is inclusive, in logical bytes; nil reads it all.
    func read(_ id: BlobID, range: ClosedRange<Int64>?) async throws -> BlobReader
    /// Removes the blob; no error when it is already gone.
    func delete(_ id: BlobID) async throws
    /// Deletes it only when not modified (put or deduplicated) since `cutoff`: the GC's
    /// race-free delete. True when it was deleted.
    func delete(_ id: BlobID, ifUnmodifiedSince cutoff: Date) async throws -> Bool
    /// Every blob's id (unordered); the GC and the scrubber walk it.
    func list() async throws -> [BlobID]
    /// Re-hashes the blob whatever any cache says (the scrubber's check); false when corrupted,
    /// throws `.notFound` when missing.
    func verify(_ id: BlobID) async throws -> Bool
    /// Removes what interrupted uploads left behind before `cutoff` (the GC's other half);
    /// returns how many. Stores without temporary files keep the default (none).
    func sweepTemporaries(olderThan cutoff: Date) async throws -> Int
    /// Running totals since the store was opened.
    var figures: BlobFigures { get }
}

extension BlobStore {
    /// Stores a byte array (tests, exports built in memory).
    public func put(bytes: [UInt8], limit: Int64 = .max) async throws -> BlobInfo {
        try await put(ByteChunks(bytes), limit: limit)
    }

    /// Reads the whole blob into memory (small blobs only: tests, CV text extraction).
    public func readAll(_ id: BlobID) async throws -> [UInt8] {
        let reader = try await read(id, range: nil)
        var out = [UInt8]()
        out.reserveCapacity(Int(clamping: reader.length))
        for try await chunk in reader { out.append(contentsOf: chunk) }
        return out
    }

    /// Reads the whole blob.
    public func read(_ id: BlobID) async throws -> BlobReader {
        try await read(id, range: nil)
    }

    public func sweepTemporaries(olderThan cutoff: Date) async throws -> Int { 0 }

    /// The default check: a full read, which verifies before serving.
    public func verify(_ id: BlobID) async throws -> Bool {
        do {
            let reader = try await read(id, range: nil)
            for try await _ in reader {}
            return true
        } catch let error as BlobError where error.code == .corrupted {
            return false
        }
    }
}

/// A byte array cut into 256 KiB chunks, as an async sequence (for `put(bytes:)`).
public struct ByteChunks: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let bytes: [UInt8]
    let chunkSize: Int

    /// Serves `bytes` in chunks of `chunkSize`.
    public init(_ bytes: [UInt8], chunkSize: Int = 256 * 1024) {
        self.bytes = bytes
        self.chunkSize = Swift.max(1, chunkSize)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let bytes: [UInt8]
        let chunkSize: Int
        var offset = 0

        public mutating func next() async -> [UInt8]? {
            guard offset < bytes.count else { return nil }
            let end = Swift.min(bytes.count, offset + chunkSize)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes, chunkSize: chunkSize) }
}

/// A blob store's running totals, for `/metrics`.
public struct BlobFigures: Sendable, Hashable {
    /// New blobs stored, and their logical bytes.
    public var stored: Int = 0
    public var storedBytes: Int64 = 0
    /// Puts whose content was already there.
    public var deduplicated: Int = 0
    /// Reads opened (each verified, from the cache or by hashing).
    public var reads: Int = 0
    /// Full hashes of stored content (verification on read, scrubbing).
    public var verifications: Int = 0
    /// Reads or checks that found content not matching its id.
    public var corrupted: Int = 0
    /// Blobs deleted (by the garbage collector or explicitly).
    public var deleted: Int = 0

    public init() {}
}

extension BlobStore {
    /// Stores without counters report zeros.
    public var figures: BlobFigures { BlobFigures() }
}
