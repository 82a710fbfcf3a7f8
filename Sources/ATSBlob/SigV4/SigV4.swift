#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// AWS Signature Version 4 for S3: presigned URLs (query form) and the `Authorization` header
/// form, both signed and verified exactly as AWS documents for S3 (the URI path is encoded once,
/// not twice; query parameters sorted by encoded name then value; header values trimmed with
/// inner runs of spaces collapsed).
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// Longest presigned URL lifetime S3 allows: 7 days.
    public static let maximumExpires = 604_800
    /// How far a header-signed request's time may be from the server's.
    public static let allowedSkew: TimeInterval = 15 * 60

    // MARK: Presigning

    /// A presigned URL's path and query (`/path?X-Amz-Algorithm=...&X-Amz-Signature=...`) to
    /// append to `scheme://host`. `path` may be decoded or already percent-encoded: each segment
    /// is decoded, then encoded the AWS way ('/' kept), exactly as `verify` canonicalises the
    /// path it receives (so a decoded name containing '%' followed by two hex digits must be
    /// given encoded). `host` must be the Host header the client will send (with its port).
    /// `query` holds extra decoded parameters that are signed too (e.g.
    /// `response-content-disposition`). Only `host` is signed and the payload is
    /// UNSIGNED-PAYLOAD. `expires` is clamped to 1...604800 seconds.
    public static func presign(
        method: String, host: String, path: String, query: [(String, String)], credentials: SigV4Credentials,
        date: Date, expires: Int
    ) -> String {
        let amzDate = formatAmzDate(date)
        let scope = credentialScope(amzDate: amzDate, credentials: credentials)
        var parameters = query
        parameters.append(("X-Amz-Algorithm", algorithm))
        parameters.append(("X-Amz-Credential", credentials.accessKeyID + "/" + scope))
        parameters.append(("X-Amz-Date", amzDate))
        parameters.append(("X-Amz-Expires", String(min(max(expires, 1), maximumExpires))))
        parameters.append(("X-Amz-SignedHeaders", "host"))
        let canonicalPath = normalizePath(path.hasPrefix("/") ? path : "/" + path)
        let canonicalQuery = canonicalQueryString(parameters)
        let request = canonicalRequest(
            method: method, canonicalPath: canonicalPath, canonicalQuery: canonicalQuery,
            canonicalHeaders: "host:" + canonicalHeaderValue([host]) + "\n", signedHeaders: "host",
            payloadHash: unsignedPayload)
        let key = signingKey(secret: credentials.secretKey, amzDate: amzDate, credentials: credentials)
        let signature = sign(canonicalRequest: request, amzDate: amzDate, scope: scope, key: key)
        return canonicalPath + "?" + canonicalQuery + "&X-Amz-Signature=" + signature
    }

    /// The `Authorization` header value for `request` (a client's job; used by tests and by an
    /// S3 client). Signs every header in `request.headers`, which must include `host`,
    /// `x-amz-date` (matching `date`) and, for S3, `x-amz-content-sha256` (= `payloadHash`).
    public static func authorization(
        for request: SigV4Request, credentials: SigV4Credentials, date: Date, payloadHash: String
    ) -> String {
        let amzDate = formatAmzDate(date)
        let scope = credentialScope(amzDate: amzDate, credentials: credentials)
        let names = Array(Set(request.headers.map { $0.0.lowercased() })).sorted()
        let (canonicalHeaders, signedHeaders) = canonicalHeaders(names, in: request)
        let canonical = canonicalRequest(
            method: request.method, canonicalPath: normalizePath(request.path),
            canonicalQuery: canonicalQueryString(parseQuery(request.query)), canonicalHeaders: canonicalHeaders,
            signedHeaders: signedHeaders, payloadHash: payloadHash)
        let key = signingKey(secret: credentials.secretKey, amzDate: amzDate, credentials: credentials)
        let signature = sign(canonicalRequest: canonical, amzDate: amzDate, scope: scope, key: key)
        return "\(algorithm) Credential=\(credentials.accessKeyID)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)"
    }

    // MARK: Verification

    /// Verifies query-string (presigned) or `Authorization`-header authentication; looks the
    /// secret up by access key id. Checks, in order: the form is well-formed (and X-Amz-Expires
    /// within 7 days), the key exists and its region/service match the scope, the signature
    /// matches (constant-time), then the time (presigned: not expired and not signed more than
    /// 15 minutes in the future; header: within 15 minutes of `now`).
    public static func verify(
        _ request: SigV4Request, now: Date, secret: (String) async -> SigV4Credentials?
    ) async throws(SigV4Error) -> SigV4Verified {
        let authorization = request.header("authorization")
        let parameters = parseQuery(request.query)
        let presigned = parameters.contains { $0.0 == "X-Amz-Algorithm" || $0.0 == "X-Amz-Signature" }
        if let authorization, authorization.hasPrefix("AWS4-") || authorization.hasPrefix("AWS ") {
            if presigned { throw SigV4Error(.malformed, "both an Authorization header and a presigned query") }
            return try await verifyHeader(request, authorization: authorization, parameters: parameters, now: now, secret: secret)
        }
        if presigned {
            return try await verifyQuery(request, parameters: parameters, now: now, secret: secret)
        }
        throw SigV4Error(.missing, "the request is not signed")
    }

    private static func verifyQuery(
        _ request: SigV4Request, parameters: [(String, String)], now: Date, secret: (String) async -> SigV4Credentials?
    ) async throws(SigV4Error) -> SigV4Verified {
        func single(_ name: String) throws(SigV4Error) -> String {
            let values = parameters.filter { $0.0 == name }
            guard values.count == 1 else {
                throw SigV4Error(values.isEmpty ? .missing : .malformed, "\(name) must appear exactly once")
            }
            return values[0].1
        }
        guard try single("X-Amz-Algorithm") == algorithm else {
            throw SigV4Error(.malformed, "X-Amz-Algorithm must be \(algorithm)")
        }
        let credential = try parseCredential(try single("X-Amz-Credential"))
        let amzDate = try single("X-Amz-Date")
        guard let signedAt = parseAmzDate(amzDate) else { throw SigV4Error(.malformed, "X-Amz-Date is not yyyyMMddTHHmmssZ") }
        guard amzDate.hasPrefix(credential.date) else {
            throw SigV4Error(.malformed, "the credential date does not match X-Amz-Date")
        }
        let expiresText = try single("X-Amz-Expires")
        guard let expires = Int(expiresText), expires >= 1, expiresText.allSatisfy(\.isASCII) else {
            throw SigV4Error(.malformed, "X-Amz-Expires must be a positive number of seconds")
        }
        guard expires <= maximumExpires else {
            throw SigV4Error(.expiresTooLong, "X-Amz-Expires must be at most \(maximumExpires) seconds (7 days)")
        }
        let signedHeaders = try parseSignedHeaders(try single("X-Amz-SignedHeaders"))
        let signature = try single("X-Amz-Signature")
        guard Hex.isLowercase(signature, count: 64) else { throw SigV4Error(.malformed, "X-Amz-Signature is not 64 hex digits") }
        let credentials = try await lookUp(credential, secret: secret)

        let unsigned = parameters.filter { $0.0 != "X-Amz-Signature" }
        let payloadHash = unsigned.first { $0.0 == "X-Amz-Content-Sha256" }?.1 ?? unsignedPayload
        let (canonicalHeaders, signedList) = try canonicalHeadersForVerification(signedHeaders, in: request)
        let canonical = canonicalRequest(
            method: request.method, canonicalPath: normalizePath(request.path),
            canonicalQuery: canonicalQueryString(unsigned), canonicalHeaders: canonicalHeaders, signedHeaders: signedList,
            payloadHash: payloadHash)
        let key = signingKey(secret: credentials.secretKey, amzDate: amzDate, credentials: credentials)
        let expected = sign(canonicalRequest: canonical, amzDate: amzDate, scope: credential.scope, key: key)
        guard constantTimeEqual(Array(expected.utf8), Array(signature.utf8)) else {
            throw SigV4Error(.signatureMismatch, "the signature does not match this request")
        }
        let expiresAt = signedAt.addingTimeInterval(TimeInterval(expires))
        if now > expiresAt { throw SigV4Error(.expired, "the URL expired") }
        if signedAt.timeIntervalSince(now) > allowedSkew {
            throw SigV4Error(.requestTimeTooSkewed, "the URL is not valid yet")
        }
        return SigV4Verified(
            accessKeyID: credential.accessKeyID, form: .query, payloadHash: payloadHash, signedHeaders: signedHeaders,
            signedAt: signedAt, expiresAt: expiresAt, chunkSigning: nil)
    }

    private static func verifyHeader(
        _ request: SigV4Request, authorization: String, parameters: [(String, String)], now: Date,
        secret: (String) async -> SigV4Credentials?
    ) async throws(SigV4Error) -> SigV4Verified {
        guard authorization.hasPrefix(algorithm + " ") else {
            throw SigV4Error(.malformed, "only \(algorithm) is supported")
        }
        var fields: [String: String] = [:]
        for part in authorization.dropFirst(algorithm.count + 1).split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let equals = trimmed.firstIndex(of: "=") else { throw SigV4Error(.malformed, "unreadable Authorization header") }
            let name = String(trimmed[..<equals])
            guard fields[name] == nil else { throw SigV4Error(.malformed, "\(name) appears twice in Authorization") }
            fields[name] = String(trimmed[trimmed.index(after: equals)...])
        }
        guard let credentialText = fields["Credential"], let signedText = fields["SignedHeaders"],
            let signature = fields["Signature"]
        else {
            throw SigV4Error(.malformed, "Authorization needs Credential, SignedHeaders and Signature")
        }
        let credential = try parseCredential(credentialText)
        let signedHeaders = try parseSignedHeaders(signedText)
        guard Hex.isLowercase(signature, count: 64) else { throw SigV4Error(.malformed, "Signature is not 64 hex digits") }
        guard let amzDate = request.header("x-amz-date")?.trimmingCharacters(in: .whitespaces) else {
            throw SigV4Error(.malformed, "the x-amz-date header is required")
        }
        guard let signedAt = parseAmzDate(amzDate) else { throw SigV4Error(.malformed, "x-amz-date is not yyyyMMddTHHmmssZ") }
        guard amzDate.hasPrefix(credential.date) else {
            throw SigV4Error(.malformed, "the credential date does not match x-amz-date")
        }
        let payloadHash: String
        if let declared = request.header("x-amz-content-sha256")?.trimmingCharacters(in: .whitespaces) {
            guard Hex.isLowercase(declared, count: 64) || declared == unsignedPayload || declared.hasPrefix("STREAMING-")
            else {
                throw SigV4Error(.malformed, "x-amz-content-sha256 is not a SHA-256, UNSIGNED-PAYLOAD or STREAMING-*")
            }
            payloadHash = declared
        } else if credential.service == "s3" {
            throw SigV4Error(.malformed, "the x-amz-content-sha256 header is required")
        } else {
            payloadHash = Hex.encode(Digest.hash(.sha256, []))
        }
        let credentials = try await lookUp(credential, secret: secret)
        let (canonicalHeaders, signedList) = try canonicalHeadersForVerification(signedHeaders, in: request)
        let canonical = canonicalRequest(
            method: request.method, canonicalPath: normalizePath(request.path),
            canonicalQuery: canonicalQueryString(parameters), canonicalHeaders: canonicalHeaders, signedHeaders: signedList,
            payloadHash: payloadHash)
        let key = signingKey(secret: credentials.secretKey, amzDate: amzDate, credentials: credentials)
        let expected = sign(canonicalRequest: canonical, amzDate: amzDate, scope: credential.scope, key: key)
        guard constantTimeEqual(Array(expected.utf8), Array(signature.utf8)) else {
            throw SigV4Error(.signatureMismatch, "the signature does not match this request")
        }
        guard abs(signedAt.timeIntervalSince(now)) <= allowedSkew else {
            throw SigV4Error(.requestTimeTooSkewed, "the request time is more than 15 minutes from the server's")
        }
        let chunkSigning =
            payloadHash.hasPrefix("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
            ? SigV4ChunkSigning(signingKey: key, amzDate: amzDate, scope: credential.scope, seedSignature: signature) : nil
        return SigV4Verified(
            accessKeyID: credential.accessKeyID, form: .header, payloadHash: payloadHash, signedHeaders: signedHeaders,
            signedAt: signedAt, expiresAt: nil, chunkSigning: chunkSigning)
    }

    // MARK: Pieces

    struct Credential {
        let accessKeyID: String
        let date: String
        let region: String
        let service: String
        var scope: String { "\(date)/\(region)/\(service)/aws4_request" }
    }

    static func parseCredential(_ text: String) throws(SigV4Error) -> Credential {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, !parts[0].isEmpty, parts[1].count == 8, parts[1].allSatisfy(\.isASCIIDigit),
            !parts[2].isEmpty, !parts[3].isEmpty, parts[4] == "aws4_request"
        else {
            throw SigV4Error(.malformed, "the credential must be KEY/yyyyMMdd/region/service/aws4_request")
        }
        return Credential(accessKeyID: parts[0], date: parts[1], region: parts[2], service: parts[3])
    }

    static func parseSignedHeaders(_ text: String) throws(SigV4Error) -> [String] {
        let names = text.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && $0 == $0.lowercased() }) else {
            throw SigV4Error(.malformed, "SignedHeaders must be lowercase names separated by ';'")
        }
        guard names.contains("host") else { throw SigV4Error(.malformed, "the host header must be signed") }
        return names
    }

    private static func lookUp(
        _ credential: Credential, secret: (String) async -> SigV4Credentials?
    ) async throws(SigV4Error) -> SigV4Credentials {
        guard let credentials = await secret(credential.accessKeyID) else {
            throw SigV4Error(.unknownKey, "the access key id does not exist")
        }
        guard credentials.region == credential.region else {
            throw SigV4Error(.malformed, "the credential region '\(credential.region)' is wrong; expecting '\(credentials.region)'")
        }
        guard credentials.service == credential.service else {
            throw SigV4Error(.malformed, "the credential service '\(credential.service)' is wrong; expecting '\(credentials.service)'")
        }
        return credentials
    }

    static func credentialScope(amzDate: String, credentials: SigV4Credentials) -> String {
        "\(amzDate.prefix(8))/\(credentials.region)/\(credentials.service)/aws4_request"
    }

    /// HMAC chain: "AWS4"+secret -> date -> region -> service -> "aws4_request".
    public static func signingKey(secret: String, amzDate: String, credentials: SigV4Credentials) -> [UInt8] {
        let dateKey = hmacSHA256(key: Array(("AWS4" + secret).utf8), String(amzDate.prefix(8)))
        let regionKey = hmacSHA256(key: dateKey, credentials.region)
        let serviceKey = hmacSHA256(key: regionKey, credentials.service)
        return hmacSHA256(key: serviceKey, "aws4_request")
    }

    static func canonicalRequest(
        method: String, canonicalPath: String, canonicalQuery: String, canonicalHeaders: String, signedHeaders: String,
        payloadHash: String
    ) -> String {
        "\(method)\n\(canonicalPath)\n\(canonicalQuery)\n\(canonicalHeaders)\n\(signedHeaders)\n\(payloadHash)"
    }

    static func sign(canonicalRequest: String, amzDate: String, scope: String, key: [UInt8]) -> String {
        let hash = Hex.encode(Digest.hash(.sha256, Array(canonicalRequest.utf8)))
        let stringToSign = "\(algorithm)\n\(amzDate)\n\(scope)\n\(hash)"
        return Hex.encode(hmacSHA256(key: key, stringToSign))
    }

    /// Canonical headers for the names a client listed; a listed header the request lacks is malformed.
    private static func canonicalHeadersForVerification(
        _ names: [String], in request: SigV4Request
    ) throws(SigV4Error) -> (String, String) {
        for name in names where request.headerValues(name).isEmpty {
            throw SigV4Error(.malformed, "the signed header '\(name)' is missing")
        }
        return canonicalHeaders(names, in: request)
    }

    static func canonicalHeaders(_ names: [String], in request: SigV4Request) -> (String, String) {
        var text = ""
        for name in names {
            text += name + ":" + canonicalHeaderValue(request.headerValues(name)) + "\n"
        }
        return (text, names.joined(separator: ";"))
    }

    /// Values trimmed, inner runs of spaces collapsed to one, repeated headers joined by ','.
    static func canonicalHeaderValue(_ values: [String]) -> String {
        values.map { value -> String in
            var out = ""
            var lastWasSpace = false
            for character in value.trimmingCharacters(in: .whitespaces) {
                if character == " " || character == "\t" {
                    if !lastWasSpace { out.append(" ") }
                    lastWasSpace = true
                } else {
                    out.append(character)
                    lastWasSpace = false
                }
            }
            return out
        }.joined(separator: ",")
    }

    /// Splits a raw query string into percent-decoded (name, value) pairs. A raw '+' is a space,
    /// as form encoding and the S3 endpoint read it, so what is signed is what is served (a
    /// client that means '+' sends %2B).
    public static func parseQuery(_ query: String) -> [(String, String)] {
        guard !query.isEmpty else { return [] }
        return query.replacingOccurrences(of: "+", with: "%20").split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let equals = pair.firstIndex(of: "=") {
                return (percentDecode(pair[..<equals]), percentDecode(pair[pair.index(after: equals)...]))
            }
            return (percentDecode(pair), "")
        }
    }

    /// Encoded pairs sorted by encoded name, then encoded value.
    static func canonicalQueryString(_ parameters: [(String, String)]) -> String {
        var encoded: [(name: String, value: String)] = parameters.map { pair in
            (uriEncode(pair.0, encodeSlash: true), uriEncode(pair.1, encodeSlash: true))
        }
        encoded.sort { left, right in left.name == right.name ? left.value < right.value : left.name < right.name }
        return encoded.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// A received raw path in canonical form: each segment decoded, then encoded the S3 way.
    static func normalizePath(_ raw: String) -> String {
        guard !raw.isEmpty else { return "/" }
        return raw.split(separator: "/", omittingEmptySubsequences: false)
            .map { uriEncode(percentDecode($0), encodeSlash: true) }
            .joined(separator: "/")
    }

    /// Encodes a decoded path, keeping '/'.
    public static func encodePath(_ path: String) -> String {
        let encoded = uriEncode(path, encodeSlash: false)
        return encoded.hasPrefix("/") ? encoded : "/" + encoded
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// AWS URI encoding: unreserved characters (A-Z a-z 0-9 - _ . ~) kept, everything else %XX
    /// (uppercase hex) over UTF-8; '/' kept unless `encodeSlash`.
    public static func uriEncode(_ text: some StringProtocol, encodeSlash: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where !encodeSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes %XX escapes (an invalid escape stays literal); bytes that are not UTF-8 become U+FFFD.
    public static func percentDecode(_ text: some StringProtocol) -> String {
        let utf8 = Array(text.utf8)
        guard utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count,
                let high = Hex.value(utf8[index + 1]), let low = Hex.value(utf8[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Dates

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public static func formatAmzDate(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    /// Parses `yyyyMMdd'T'HHmmss'Z'`; nil for anything else.
    public static func parseAmzDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for index in range {
                guard bytes[index] >= 48 && bytes[index] <= 57 else { return nil }
                value = value * 10 + Int32(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
            let minute = number(11..<13), let second = number(13..<15), (1...12).contains(month), (1...31).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds = timegm(&parts)
        // timegm normalises out-of-range days (Feb 30): reject those.
        guard parts.tm_mday == day, parts.tm_mon == month - 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
