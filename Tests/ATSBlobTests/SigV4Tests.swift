@testable import ATSBlob
import Foundation
import Testing

/// AWS's published S3 SigV4 examples (AKIAIOSFODNN7EXAMPLE, 2013-05-24) and the ways a
/// presigned URL must fail.
@Suite("SigV4")
struct SigV4Tests {
    static let example = SigV4Credentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func lookUp(_ id: String) async -> SigV4Credentials? { id == example.accessKeyID ? example : nil }

    /// Splits a presigned `path?query` and verifies it as a request to `host`.
    static func verify(
        _ url: String, method: String = "GET", host: String = "examplebucket.s3.amazonaws.com", now: Date,
        lookUp: (String) async -> SigV4Credentials? = SigV4Tests.lookUp
    ) async throws(SigV4Error) -> SigV4Verified {
        let parts = url.split(separator: "?", maxSplits: 1).map(String.init)
        let request = SigV4Request(method: method, path: parts[0], query: parts.count > 1 ? parts[1] : "", headers: [("Host", host)])
        return try await SigV4.verify(request, now: now, secret: lookUp)
    }

    static func expectError(
        _ code: SigV4Error.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            Issue.record("expected SigV4Error.\(code)", sourceLocation: sourceLocation)
        } catch let error as SigV4Error {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected SigV4Error.\(code), got \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: AWS vectors

    @Test("AWS example: presigned GET of examplebucket/test.txt for 86400 s")
    func presignedGetVector() async throws {
        let url = SigV4.presign(
            method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: [],
            credentials: Self.example, date: Self.exampleDate, expires: 86400)
        #expect(
            url == "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        )
        let verified = try await Self.verify(url, now: Self.exampleDate.addingTimeInterval(3600))
        #expect(verified.accessKeyID == "AKIAIOSFODNN7EXAMPLE")
        #expect(verified.form == .query)
        #expect(verified.payloadHash == "UNSIGNED-PAYLOAD")
        #expect(verified.expiresAt == Self.exampleDate.addingTimeInterval(86400))
    }

    @Test("AWS example: GET object with Range, Authorization header")
    func getObjectVector() async throws {
        var request = SigV4Request(
            method: "GET", path: "/test.txt",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", Self.emptyHash), ("x-amz-date", "20130524T000000Z"),
            ])
        let authorization = SigV4.authorization(
            for: request, credentials: Self.example, date: Self.exampleDate, payloadHash: Self.emptyHash)
        #expect(
            authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
        // As a client would send it, with spaces after the commas.
        request.headers.append(("Authorization", authorization.replacingOccurrences(of: ",", with: ", ")))
        let verified = try await SigV4.verify(request, now: Self.exampleDate.addingTimeInterval(60), secret: Self.lookUp)
        #expect(verified.form == .header)
        #expect(verified.payloadHash == Self.emptyHash)
        #expect(verified.payloadHashIsDigest)
        #expect(verified.signedHeaders == ["host", "range", "x-amz-content-sha256", "x-amz-date"])
        #expect(verified.chunkSigning == nil)
        // Another range is another request.
        request.headers[1] = ("Range", "bytes=0-99")
        await Self.expectError(.signatureMismatch) {
            _ = try await SigV4.verify(request, now: Self.exampleDate, secret: Self.lookUp)
        }
    }

    @Test("AWS example: PUT object test$file.text with a signed payload")
    func putObjectVector() async throws {
        let payloadHash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        #expect(sha256Hex(Array("Welcome to Amazon S3.".utf8)) == payloadHash)
        let request = SigV4Request(
            method: "PUT", path: "/test%24file.text",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", payloadHash),
                ("Authorization",
                 "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
            ])
        let verified = try await SigV4.verify(request, now: Self.exampleDate, secret: Self.lookUp)
        #expect(verified.payloadHash == payloadHash)
        // '$' unencoded in the raw path is the same object: the path is normalised before signing.
        var unencoded = request
        unencoded.path = "/test$file.text"
        _ = try await SigV4.verify(unencoded, now: Self.exampleDate, secret: Self.lookUp)
        // Another key name is not.
        var renamed = request
        renamed.path = "/test%24file.txt"
        await Self.expectError(.signatureMismatch) { _ = try await SigV4.verify(renamed, now: Self.exampleDate, secret: Self.lookUp) }
    }

    @Test("AWS example: GET bucket list with max-keys and prefix")
    func listObjectsVector() async throws {
        let request = SigV4Request(
            method: "GET", path: "/", query: "max-keys=2&prefix=J",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("x-amz-content-sha256", Self.emptyHash),
                ("x-amz-date", "20130524T000000Z"),
                ("Authorization",
                 "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
            ])
        _ = try await SigV4.verify(request, now: Self.exampleDate, secret: Self.lookUp)
        // Query order on the wire does not matter; values do.
        var reordered = request
        reordered.query = "prefix=J&max-keys=2"
        _ = try await SigV4.verify(reordered, now: Self.exampleDate, secret: Self.lookUp)
        var changed = request
        changed.query = "max-keys=3&prefix=J"
        await Self.expectError(.signatureMismatch) { _ = try await SigV4.verify(changed, now: Self.exampleDate, secret: Self.lookUp) }
    }

    @Test("AWS example: the seed signature of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload")
    func streamingSeedVector() async throws {
        let request = SigV4Request(
            method: "PUT", path: "/examplebucket/chunkObject.txt",
            headers: [
                ("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), ("Content-Encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824"),
                ("Authorization",
                 "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
            ])
        let verified = try await SigV4.verify(request, now: Self.exampleDate, secret: Self.lookUp)
        #expect(verified.isStreaming)
        let signing = try #require(verified.chunkSigning)
        #expect(signing.seedSignature == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
        #expect(signing.scope == "20130524/us-east-1/s3/aws4_request")
        let decoder = AWSChunkedDecoder(
            ByteChunks(AWSChunkedTests.awsExampleBody, chunkSize: 1000),
            configuration: .init(request: request, verified: verified))
        var payload = [UInt8]()
        for try await chunk in decoder { payload += chunk }
        #expect(payload == [UInt8](repeating: UInt8(ascii: "a"), count: 66560))
    }

    // MARK: Failures

    static let appliance = SigV4Credentials(accessKeyID: "ATSKEY1", secretKey: "secret-one")
    static func applianceLookUp(_ id: String) async -> SigV4Credentials? {
        switch id {
        case "ATSKEY1": appliance
        case "ATSKEY2": SigV4Credentials(accessKeyID: "ATSKEY2", secretKey: "secret-two")
        default: nil
        }
    }

    func presigned(method: String = "GET", path: String = "/files/abc", date: Date = Date(), expires: Int = 900) -> String {
        SigV4.presign(
            method: method, host: "localhost:8080", path: path, query: [("response-content-disposition", "attachment; filename=\"cv.pdf\"")],
            credentials: Self.appliance, date: date, expires: expires)
    }

    func verify(_ url: String, method: String = "GET", now: Date = Date()) async throws(SigV4Error) -> SigV4Verified {
        try await Self.verify(url, method: method, host: "localhost:8080", now: now, lookUp: Self.applianceLookUp)
    }

    @Test("a fresh presigned URL verifies; an expired one does not")
    func expiry() async throws {
        let signedAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 100).rounded(.down))
        let url = presigned(date: signedAt, expires: 60)
        await Self.expectError(.expired) { _ = try await verify(url) }
        _ = try await verify(url, now: signedAt.addingTimeInterval(59))
        _ = try await verify(url, now: signedAt.addingTimeInterval(60))
        await Self.expectError(.expired) { _ = try await verify(url, now: signedAt.addingTimeInterval(61)) }
        // Signed an hour in the future: not valid yet.
        let future = presigned(date: Date().addingTimeInterval(3600))
        await Self.expectError(.requestTimeTooSkewed) { _ = try await verify(future) }
    }

    @Test("changing any parameter, the path or the method breaks the signature")
    func tampering() async throws {
        let url = presigned()
        _ = try await verify(url)
        let replacements: [(String, String)] = [
            ("X-Amz-Expires=900", "X-Amz-Expires=901"),
            ("/files/abc", "/files/abd"),
            ("/files/abc", "/files/abc/"),
            ("filename%3D%22cv.pdf%22", "filename%3D%22evil.html%22"),
            ("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=host&extra=1"),
            ("X-Amz-Date=", "X-Amz-Date=2"),
        ]
        for (from, to) in replacements {
            let tampered = url.replacingOccurrences(of: from, with: to)
            #expect(tampered != url)
            do {
                _ = try await verify(tampered)
                Issue.record("accepted a tampered URL: \(from) -> \(to)")
            } catch {
                #expect(error.code == .signatureMismatch || error.code == .malformed, "\(from) -> \(to): \(error)")
            }
        }
        // Another signature of the right shape.
        let signature = String(url.suffix(64))
        let flipped = String(signature.prefix(63)) + (signature.last == "0" ? "1" : "0")
        await Self.expectError(.signatureMismatch) { _ = try await verify(String(url.dropLast(64)) + flipped) }
        // A PUT URL cannot be used to GET and vice versa.
        await Self.expectError(.signatureMismatch) { _ = try await verify(url, method: "PUT") }
        await Self.expectError(.signatureMismatch) { _ = try await verify(presigned(method: "PUT"), method: "GET") }
        _ = try await verify(presigned(method: "PUT"), method: "PUT")
        // Another host (another appliance, another tenant's endpoint).
        do {
            _ = try await Self.verify(url, host: "evil.example", now: Date(), lookUp: Self.applianceLookUp)
            Issue.record("accepted another host")
        } catch { #expect(error.code == .signatureMismatch) }
    }

    @Test("X-Amz-Expires above 7 days, or nonsense, is refused")
    func expiresLimit() async throws {
        let sevenDays = presigned(expires: 604_800)
        _ = try await verify(sevenDays)
        // presign clamps; a hand-made URL with more is refused before any signature work.
        #expect(presigned(expires: 10_000_000).contains("X-Amz-Expires=604800"))
        await Self.expectError(.expiresTooLong) {
            _ = try await verify(sevenDays.replacingOccurrences(of: "X-Amz-Expires=604800", with: "X-Amz-Expires=604801"))
        }
        for bad in ["0", "-5", "abc", "1e3", ""] {
            await Self.expectError(.malformed) {
                _ = try await verify(sevenDays.replacingOccurrences(of: "X-Amz-Expires=604800", with: "X-Amz-Expires=\(bad)"))
            }
        }
    }

    @Test("another access key, an unknown one, or a wrong region is refused")
    func keys() async throws {
        let url = presigned()
        // Claiming another existing key: its secret does not produce this signature.
        await Self.expectError(.signatureMismatch) {
            _ = try await verify(url.replacingOccurrences(of: "ATSKEY1%2F", with: "ATSKEY2%2F"))
        }
        await Self.expectError(.unknownKey) {
            _ = try await verify(url.replacingOccurrences(of: "ATSKEY1%2F", with: "NOSUCHKEY%2F"))
        }
        await Self.expectError(.malformed) {
            _ = try await verify(url.replacingOccurrences(of: "%2Fus-east-1%2F", with: "%2Feu-west-1%2F"))
        }
        // A URL signed with a secret the server does not have for that key.
        let forged = SigV4.presign(
            method: "GET", host: "localhost:8080", path: "/files/abc", query: [],
            credentials: SigV4Credentials(accessKeyID: "ATSKEY1", secretKey: "guessed"), date: Date(), expires: 60)
        await Self.expectError(.signatureMismatch) { _ = try await verify(forged) }
    }

    @Test("missing, duplicated or malformed authentication")
    func malformed() async throws {
        await Self.expectError(.missing) { _ = try await verify("/files/abc") }
        await Self.expectError(.missing) { _ = try await verify("/files/abc?X-Amz-Algorithm=AWS4-HMAC-SHA256") }
        let url = presigned()
        await Self.expectError(.malformed) { _ = try await verify(url + "&X-Amz-Date=20130524T000000Z") }
        await Self.expectError(.malformed) {
            _ = try await verify(url.replacingOccurrences(of: "AWS4-HMAC-SHA256", with: "AWS4-HMAC-SHA1"))
        }
        await Self.expectError(.malformed) {
            _ = try await verify(url.replacingOccurrences(of: "X-Amz-SignedHeaders=host", with: "X-Amz-SignedHeaders=range"))
        }
        // Both forms at once.
        let parts = url.split(separator: "?", maxSplits: 1).map(String.init)
        let both = SigV4Request(
            method: "GET", path: parts[0], query: parts[1],
            headers: [("Host", "localhost:8080"), ("Authorization", "AWS4-HMAC-SHA256 Credential=x")])
        do {
            _ = try await SigV4.verify(both, now: Date(), secret: Self.applianceLookUp)
            Issue.record("accepted two forms")
        } catch { #expect(error.code == .malformed) }
    }

    @Test("header form: skew beyond 15 minutes and a missing signed header are refused")
    func headerForm() async throws {
        func request(at date: Date) -> SigV4Request {
            var request = SigV4Request(
                method: "PUT", path: "/s3/agency/cv%20final.pdf", query: "x-id=PutObject",
                headers: [
                    ("Host", "127.0.0.1:9000"), ("x-amz-date", SigV4.formatAmzDate(date)),
                    ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("Content-Type", "application/pdf"),
                ])
            request.headers.append(
                ("Authorization", SigV4.authorization(for: request, credentials: Self.appliance, date: date, payloadHash: "UNSIGNED-PAYLOAD")))
            return request
        }
        let now = Date()
        _ = try await SigV4.verify(request(at: now.addingTimeInterval(-14 * 60)), now: now, secret: Self.applianceLookUp)
        _ = try await SigV4.verify(request(at: now.addingTimeInterval(14 * 60)), now: now, secret: Self.applianceLookUp)
        do {
            _ = try await SigV4.verify(request(at: now.addingTimeInterval(-16 * 60)), now: now, secret: Self.applianceLookUp)
            Issue.record("accepted a stale request")
        } catch { #expect(error.code == .requestTimeTooSkewed) }
        var missing = request(at: now)
        missing.headers.removeAll { $0.0 == "Content-Type" }
        do {
            _ = try await SigV4.verify(missing, now: now, secret: Self.applianceLookUp)
            Issue.record("accepted a request without a signed header")
        } catch { #expect(error.code == .malformed) }
        var noHash = request(at: now)
        noHash.headers.removeAll { $0.0 == "x-amz-content-sha256" }
        do {
            _ = try await SigV4.verify(noHash, now: now, secret: Self.applianceLookUp)
            Issue.record("accepted a request without x-amz-content-sha256")
        } catch { #expect(error.code == .malformed) }
    }

    @Test("paths and parameters with spaces, unicode and reserved characters round-trip")
    func encoding() async throws {
        let url = SigV4.presign(
            method: "GET", host: "localhost:8080", path: "/s3/agency/CVs/Zoë (final) 100%+v2.pdf",
            query: [("response-content-type", "application/pdf"), ("a b", "c/d&e=f")], credentials: Self.appliance,
            date: Date(), expires: 300)
        #expect(url.hasPrefix("/s3/agency/CVs/Zo%C3%AB%20%28final%29%20100%25%2Bv2.pdf?"))
        #expect(url.contains("a%20b=c%2Fd%26e%3Df"))
        _ = try await verify(url)
        // An already-encoded path presigns to the same URL.
        let encoded = SigV4.presign(
            method: "GET", host: "localhost:8080", path: "/s3/agency/file%20name.pdf", query: [], credentials: Self.appliance,
            date: Self.exampleDate, expires: 300)
        let decoded = SigV4.presign(
            method: "GET", host: "localhost:8080", path: "/s3/agency/file name.pdf", query: [], credentials: Self.appliance,
            date: Self.exampleDate, expires: 300)
        #expect(encoded == decoded)
        #expect(encoded.hasPrefix("/s3/agency/file%20name.pdf?"))
        // A client that left '(' and ')' unencoded signs the same canonical path.
        _ = try await verify(url.replacingOccurrences(of: "%28", with: "(").replacingOccurrences(of: "%29", with: ")"))
    }

    @Test("amz dates format and parse in UTC; impossible dates are refused")
    func dates() {
        #expect(SigV4.formatAmzDate(Self.exampleDate) == "20130524T000000Z")
        #expect(SigV4.parseAmzDate("20130524T000000Z") == Self.exampleDate)
        #expect(SigV4.parseAmzDate("20240229T235959Z") != nil)
        for bad in ["20230230T000000Z", "2013-05-24T00:00:00Z", "20130524T000000", "20131324T000000Z", "2013052AT000000Z"] {
            #expect(SigV4.parseAmzDate(bad) == nil, "\(bad)")
        }
    }

    @Test("URI encoding follows AWS: unreserved kept, the rest %XX uppercase")
    func uriEncoding() {
        #expect(SigV4.uriEncode("A-z_0.9~", encodeSlash: true) == "A-z_0.9~")
        #expect(SigV4.uriEncode("a b+c", encodeSlash: true) == "a%20b%2Bc")
        #expect(SigV4.uriEncode("a/b", encodeSlash: false) == "a/b")
        #expect(SigV4.uriEncode("a/b", encodeSlash: true) == "a%2Fb")
        #expect(SigV4.uriEncode("ключ", encodeSlash: true) == "%D0%BA%D0%BB%D1%8E%D1%87")
        #expect(SigV4.percentDecode("a%20b%2") == "a b%2")
        #expect(SigV4.normalizePath("/a%2Fb/c d") == "/a%2Fb/c%20d")
    }
}
