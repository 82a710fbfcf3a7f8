/// A blob's address: the SHA-256 of its (uncompressed) content, as 64 lowercase hex digits.
///
/// The initializer accepts nothing else, so an id can be joined to a path without any
/// possibility of traversal (`..`, `/`, NUL, percent escapes are all rejected).
public struct BlobID: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// 64 lowercase hex digits.
    public let hex: String

    /// Validates `hex`: exactly 64 characters of `[0-9a-f]`, or nil.
    public init?(hex: String) {
        guard Hex.isLowercase(hex, count: 64) else { return nil }
        self.hex = hex
    }

    /// The id of a 32-byte SHA-256 digest.
    init(digest: [UInt8]) {
        precondition(digest.count == 32, "a BlobID is a SHA-256 digest")
        hex = Hex.encode(digest)
    }

    /// The id of `bytes` (hashes them); handy for tests and for callers that hold small content.
    public init(of bytes: [UInt8]) {
        self.init(digest: Digest.hash(.sha256, bytes))
    }

    public var description: String { hex }

    public static func < (lhs: BlobID, rhs: BlobID) -> Bool { lhs.hex < rhs.hex }

    /// `ab/cd/<hex>`: the two-level fan-out the file store and the replica use.
    var relativePath: String {
        let utf8 = Array(hex.utf8)
        return String(decoding: utf8[0..<2], as: UTF8.self) + "/" + String(decoding: utf8[2..<4], as: UTF8.self) + "/" + hex
    }
}
