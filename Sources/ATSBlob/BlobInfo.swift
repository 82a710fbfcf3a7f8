import Foundation

/// What the store knows about one blob; enough for HTTP headers (length, ETag, type, Last-Modified).
public struct BlobInfo: Sendable, Hashable {
    /// The content's address.
    public let id: BlobID
    /// Logical (uncompressed) size in bytes.
    public let size: Int64
    /// MD5 of the content as 32 lowercase hex digits: S3's ETag for a single-part object.
    public let md5Hex: String
    /// Media type sniffed from the content at put (see `ContentSniffer`); never the uploader's word.
    public let contentType: String
    /// Bytes the blob takes on disk (compressed size when `compressed`).
    public let storedSize: Int64
    /// Kept zstd-compressed at rest.
    public let compressed: Bool
    /// Last put or deduplication (the GC's grace period runs from here).
    public let modified: Date

    public init(
        id: BlobID, size: Int64, md5Hex: String, contentType: String, storedSize: Int64, compressed: Bool,
        modified: Date
    ) {
        self.id = id
        self.size = size
        self.md5Hex = md5Hex
        self.contentType = contentType
        self.storedSize = storedSize
        self.compressed = compressed
        self.modified = modified
    }

    /// The S3/HTTP entity tag: the MD5 in double quotes.
    public var etag: String { "\"" + md5Hex + "\"" }
}
