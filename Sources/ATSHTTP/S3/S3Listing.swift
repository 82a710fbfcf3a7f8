import ATSStore
import Foundation

/// The parameters of ListObjects (v1) and ListObjectsV2, validated.
struct S3ListRequest: Sendable {
    var prefix = ""
    var delimiter: String?
    /// `start-after` (v2) or `marker` (v1).
    var startAfter: String?
    var maxKeys = 1000
    var urlEncoding = false
    var fetchOwner = false

    static let maxKeysLimit = 1000

    init(query: S3Query, version: Int) throws(S3Error) {
        prefix = query["prefix"] ?? ""
        if let delimiter = query["delimiter"], !delimiter.isEmpty { self.delimiter = delimiter }
        let start = version == 2 ? query["start-after"] : query["marker"]
        if let start, !start.isEmpty { startAfter = start }
        if let raw = query["max-keys"] {
            // S3 answers at most 1,000 whatever is asked; a negative or non-numeric value is an error.
            guard let value = Int(raw), value >= 0 else {
                throw .invalidArgument("Provided max-keys not an integer or within integer range", name: "max-keys")
            }
            maxKeys = min(value, Self.maxKeysLimit)
        }
        if let encoding = query["encoding-type"] {
            guard encoding.lowercased() == "url" else {
                throw .invalidArgument("Invalid Encoding Method specified in Request", name: "encoding-type")
            }
            urlEncoding = true
        }
        fetchOwner = query["fetch-owner"]?.lowercased() == "true"
        for text in [prefix, delimiter ?? "", startAfter ?? ""] where text.unicodeScalars.contains(where: { $0.value == 0 }) {
            throw .invalidArgument("Listing parameters cannot contain NUL.")
        }
    }
}

/// One page of a listing: objects, then the common prefixes that rolled keys up.
struct S3Listing: Sendable {
    var contents: [S3Object] = []
    var commonPrefixes: [String] = []
    var isTruncated = false
    /// Where the next page starts (exclusive), when truncated: the last key returned, or for a
    /// common prefix the prefix followed by `S3Listing.pastPrefix`.
    var resumeAfter: String?
    /// The last entry returned (a key or a common prefix): ListObjects v1's `NextMarker`.
    var lastEntry: String?

    /// Appended to a common prefix, a lower bound past every key under it: U+10FFFF is the
    /// largest scalar, so its UTF-8 sorts after any other. (A key that itself continues with
    /// U+10FFFF, a noncharacter, would be skipped; none is expected.)
    static let pastPrefix = "\u{10FFFF}\u{10FFFF}\u{10FFFF}\u{10FFFF}"

    /// Lists keys under `prefix` after `startAfter` in bytewise order, rolling keys that contain
    /// `delimiter` after the prefix into common prefixes; each prefix counts as one entry.
    /// `fetch(startAfter, limit)` reads objects under the prefix from the catalog; a rolled-up
    /// prefix is skipped in one jump, not read key by key.
    static func list(
        prefix: String, delimiter: String?, startAfter: String?, maxKeys: Int,
        fetch: (_ startAfter: String?, _ limit: Int) async throws -> [S3Object]
    ) async throws -> S3Listing {
        var listing = S3Listing()
        let prefixBytes = prefix.utf8.count
        let delimiterBytes = delimiter.map { Array($0.utf8) } ?? []
        var cursor = startAfter
        // A marker that is itself a common prefix (v1's NextMarker) resumes past that prefix.
        if let start = startAfter, !delimiterBytes.isEmpty, start.hasPrefix(prefix),
            let end = firstRange(of: delimiterBytes, in: Array(start.utf8), from: prefixBytes), end == start.utf8.count
        {
            cursor = start + pastPrefix
        }
        let batch = min(maxKeys + 1, S3ListRequest.maxKeysLimit + 1)
        var entries = 0
        scanning: while true {
            let objects = try await fetch(cursor, batch)
            for object in objects {
                var rolledUp: String?
                if !delimiterBytes.isEmpty {
                    let key = Array(object.key.utf8)
                    if let end = firstRange(of: delimiterBytes, in: key, from: prefixBytes) {
                        rolledUp = String(decoding: key[..<end], as: UTF8.self)
                    }
                }
                if entries == maxKeys {
                    listing.isTruncated = maxKeys > 0
                    break scanning
                }
                entries += 1
                if let rolledUp {
                    listing.commonPrefixes.append(rolledUp)
                    listing.lastEntry = rolledUp
                    cursor = rolledUp + pastPrefix
                    listing.resumeAfter = cursor
                    continue scanning
                }
                listing.contents.append(object)
                listing.lastEntry = object.key
                cursor = object.key
                listing.resumeAfter = cursor
            }
            if objects.count < batch { break }
        }
        if !listing.isTruncated { listing.resumeAfter = nil }
        return listing
    }

    /// The end index of the first occurrence of `needle` in `bytes` at or after `from`.
    static func firstRange(of needle: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, bytes.count - from >= needle.count else { return nil }
        var index = from
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0], bytes[index..<index + needle.count].elementsEqual(needle) {
                return index + needle.count
            }
            index += 1
        }
        return nil
    }
}

/// ListObjectsV2's continuation token: opaque to clients (base64 of where the page ended).
/// A token only ever lists the caller's own bucket, so it needs no signature.
enum S3ContinuationToken {
    static func encode(_ resumeAfter: String) -> String {
        Data(("1:" + resumeAfter).utf8).base64EncodedString()
    }

    static func decode(_ token: String) -> String? {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8), text.hasPrefix("1:") else {
            return nil
        }
        return String(text.dropFirst(2))
    }
}
