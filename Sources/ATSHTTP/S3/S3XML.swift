import ATSStore

/// The XML S3 writes: one line, elements in S3's order, `"` escaped as `&quot;` (ETags).
enum S3XML {
    static let declaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    /// Text content and attribute values. Characters XML 1.0 cannot carry at all (C0 controls
    /// other than tab, LF, CR) are written as character references, as S3 does.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            case "\r": out += "&#13;"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "&#\(scalar.value);"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// `encoding-type=url`: every byte outside the unreserved set and `/` as `%XX` (clients
    /// decode with `unquote_plus`, so a space must not stay a space and `+` must be encoded).
    static func urlEncode(_ text: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The `ListBucketResult` of ListObjectsV2.
    static func listV2(
        bucket: String, request: S3ListRequest, listing: S3Listing, continuationToken: String?, nextContinuationToken: String?
    ) -> String {
        let encode: (String) -> String = request.urlEncoding ? { escape(urlEncode($0)) } : { escape($0) }
        var xml = declaration + "<ListBucketResult xmlns=\"\(namespace)\"><Name>" + escape(bucket) + "</Name>"
        xml += "<Prefix>" + encode(request.prefix) + "</Prefix>"
        if let continuationToken { xml += "<ContinuationToken>" + escape(continuationToken) + "</ContinuationToken>" }
        if let nextContinuationToken { xml += "<NextContinuationToken>" + escape(nextContinuationToken) + "</NextContinuationToken>" }
        if let startAfter = request.startAfter { xml += "<StartAfter>" + encode(startAfter) + "</StartAfter>" }
        xml += "<KeyCount>\(listing.contents.count + listing.commonPrefixes.count)</KeyCount><MaxKeys>\(request.maxKeys)</MaxKeys>"
        if let delimiter = request.delimiter { xml += "<Delimiter>" + encode(delimiter) + "</Delimiter>" }
        if request.urlEncoding { xml += "<EncodingType>url</EncodingType>" }
        xml += "<IsTruncated>\(listing.isTruncated)</IsTruncated>"
        appendEntries(&xml, listing: listing, owner: request.fetchOwner ? bucket : nil, encode: encode)
        return xml + "</ListBucketResult>"
    }

    /// The `ListBucketResult` of ListObjects (version 1: `marker`, `NextMarker`).
    static func listV1(bucket: String, request: S3ListRequest, listing: S3Listing, nextMarker: String?) -> String {
        let encode: (String) -> String = request.urlEncoding ? { escape(urlEncode($0)) } : { escape($0) }
        var xml = declaration + "<ListBucketResult xmlns=\"\(namespace)\"><Name>" + escape(bucket) + "</Name>"
        xml += "<Prefix>" + encode(request.prefix) + "</Prefix><Marker>" + encode(request.startAfter ?? "") + "</Marker>"
        if let nextMarker { xml += "<NextMarker>" + encode(nextMarker) + "</NextMarker>" }
        xml += "<MaxKeys>\(request.maxKeys)</MaxKeys>"
        if let delimiter = request.delimiter { xml += "<Delimiter>" + encode(delimiter) + "</Delimiter>" }
        if request.urlEncoding { xml += "<EncodingType>url</EncodingType>" }
        xml += "<IsTruncated>\(listing.isTruncated)</IsTruncated>"
        appendEntries(&xml, listing: listing, owner: bucket, encode: encode)
        return xml + "</ListBucketResult>"
    }

    private static func appendEntries(_ xml: inout String, listing: S3Listing, owner: String?, encode: (String) -> String) {
        for object in listing.contents {
            xml += "<Contents><Key>" + encode(object.key) + "</Key><LastModified>" + escape(object.modifiedAt) + "</LastModified>"
            xml += "<ETag>&quot;" + escape(object.md5) + "&quot;</ETag><Size>\(object.size)</Size>"
            if let owner { xml += "<Owner><ID>" + escape(owner) + "</ID><DisplayName>" + escape(owner) + "</DisplayName></Owner>" }
            xml += "<StorageClass>STANDARD</StorageClass></Contents>"
        }
        for prefix in listing.commonPrefixes {
            xml += "<CommonPrefixes><Prefix>" + encode(prefix) + "</Prefix></CommonPrefixes>"
        }
    }

    /// ListBuckets: the one bucket the key may use, its organization's.
    static func buckets(_ bucket: String, created: String) -> String {
        declaration + "<ListAllMyBucketsResult xmlns=\"\(namespace)\"><Owner><ID>" + escape(bucket) + "</ID><DisplayName>"
            + escape(bucket) + "</DisplayName></Owner><Buckets><Bucket><Name>" + escape(bucket) + "</Name><CreationDate>"
            + escape(created) + "</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>"
    }
}
