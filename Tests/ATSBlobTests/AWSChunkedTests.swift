@testable import ATSBlob
import Foundation
import Testing

/// `aws-chunked` bodies: AWS's signed examples, the unsigned trailer form boto3 sends over
/// HTTPS, and broken framing.
@Suite("AWS chunked decoding and S3 checksums")
struct AWSChunkedTests {
    static let a65536 = [UInt8](repeating: UInt8(ascii: "a"), count: 65536)
    static let a1024 = [UInt8](repeating: UInt8(ascii: "a"), count: 1024)

    /// AWS's "PUT Object in chunks" example body (64 KiB + 1 KiB of 'a').
    static let awsExampleBody: [UInt8] =
        Array("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n".utf8) + a65536
        + Array("\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n".utf8) + a1024
        + Array("\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n".utf8)

    /// AWS's trailing-header example: the same payload, signed with trailer x-amz-checksum-crc32c.
    static let awsTrailerBody: [UInt8] =
        Array("10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n".utf8) + a65536
        + Array("\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n".utf8) + a1024
        + Array("\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n".utf8)
        + Array("x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n".utf8)

    static func signing(seed: String) -> SigV4ChunkSigning {
        SigV4ChunkSigning(
            signingKey: SigV4.signingKey(secret: SigV4Tests.example.secretKey, amzDate: "20130524T000000Z", credentials: SigV4Tests.example),
            amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", seedSignature: seed)
    }

    static func decode(
        _ body: [UInt8], chunkSize: Int, _ configuration: AWSChunkedConfiguration
    ) async throws -> ([UInt8], AWSChunkedTrailers) {
        let decoder = AWSChunkedDecoder(ByteChunks(body, chunkSize: chunkSize), configuration: configuration)
        var out = [UInt8]()
        for try await chunk in decoder { out += chunk }
        return (out, decoder.trailers)
    }

    static func expectChunkedError(
        _ code: AWSChunkedError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            Issue.record("expected AWSChunkedError.\(code)", sourceLocation: sourceLocation)
        } catch let error as AWSChunkedError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected AWSChunkedError.\(code), got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("AWS's signed chunk example verifies whatever the read sizes", arguments: [1, 7, 100, 65_600, 1 << 20])
    func signedExample(_ readSize: Int) async throws {
        let signing = Self.signing(seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
        let (payload, trailers) = try await Self.decode(
            Self.awsExampleBody, chunkSize: readSize, .init(signing: signing, decodedLength: 66560))
        #expect(payload == Self.a65536 + Self.a1024)
        #expect(trailers.values.isEmpty)
    }

    @Test("AWS's signed trailer example verifies chunks, trailer signature and CRC-32C")
    func signedTrailerExample() async throws {
        let signing = Self.signing(seed: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e")
        let (payload, trailers) = try await Self.decode(
            Self.awsTrailerBody, chunkSize: 4096, .init(signing: signing, trailer: "x-amz-checksum-crc32c", decodedLength: 66560))
        #expect(payload.count == 66560)
        #expect(trailers.value("x-amz-checksum-crc32c") == "sOO8/Q==")
        // Without the final empty line, as some clients end it.
        _ = try await Self.decode(Array(Self.awsTrailerBody.dropLast(2)), chunkSize: 999, .init(signing: signing, trailer: "x-amz-checksum-crc32c"))
        // A changed trailer value breaks the trailer signature.
        var forged = Self.awsTrailerBody
        let needle = Array("sOO8/Q==".utf8)
        let at = try #require((0..<(forged.count - needle.count)).first { Array(forged[$0..<($0 + needle.count)]) == needle })
        #expect(forged[at] == UInt8(ascii: "s"))
        forged[at] = UInt8(ascii: "t")
        await Self.expectChunkedError(.signatureMismatch) { _ = try await Self.decode(forged, chunkSize: 4096, .init(signing: signing)) }
    }

    @Test("a changed byte or a reordered chunk breaks the chain")
    func signedTampering() async throws {
        let signing = Self.signing(seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
        var body = Self.awsExampleBody
        body[200] = UInt8(ascii: "b")
        await Self.expectChunkedError(.signatureMismatch) { _ = try await Self.decode(body, chunkSize: 5000, .init(signing: signing)) }
        // No payload byte of a chunk with a bad signature is released.
        let decoder = AWSChunkedDecoder(ByteChunks(body, chunkSize: 5000), configuration: .init(signing: signing))
        var released = 0
        do { for try await chunk in decoder { released += chunk.count } } catch {}
        #expect(released == 0)
        // Another seed (another request) does not verify either.
        let other = Self.signing(seed: String(repeating: "0", count: 64))
        await Self.expectChunkedError(.signatureMismatch) { _ = try await Self.decode(Self.awsExampleBody, chunkSize: 5000, .init(signing: other)) }
        // Unsigned chunk lines in a signed upload are refused.
        await Self.expectChunkedError(.malformed) {
            _ = try await Self.decode(Array("3\r\nabc\r\n0\r\n\r\n".utf8), chunkSize: 10, .init(signing: signing))
        }
    }

    static func unsignedBody(_ payload: [UInt8], chunk: Int, trailer: String?) -> [UInt8] {
        var out = [UInt8]()
        var offset = 0
        while offset < payload.count {
            let end = min(payload.count, offset + chunk)
            out += Array(String(end - offset, radix: 16).utf8) + [13, 10] + payload[offset..<end] + [13, 10]
            offset = end
        }
        out += Array("0\r\n".utf8)
        if let trailer { out += Array((trailer + "\r\n").utf8) }
        out += [13, 10]
        return out
    }

    @Test("STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC-32 trailer, as boto3 sends it", arguments: [1, 3, 8192, 100_000])
    func unsignedTrailer(_ readSize: Int) async throws {
        let payload = randomBytes(150_000, seed: 21)
        let crc = S3Checksum.base64(.crc32, of: payload)
        let body = Self.unsignedBody(payload, chunk: 65536, trailer: "x-amz-checksum-crc32:\(crc)")
        let (decoded, trailers) = try await Self.decode(
            body, chunkSize: readSize, .init(trailer: "x-amz-checksum-crc32", decodedLength: 150_000))
        #expect(decoded == payload)
        #expect(trailers.value("x-amz-checksum-crc32") == crc)
        let wrong = Self.unsignedBody(payload, chunk: 65536, trailer: "x-amz-checksum-crc32:AAAAAA==")
        await Self.expectChunkedError(.checksumMismatch) { _ = try await Self.decode(wrong, chunkSize: readSize, .init(trailer: "x-amz-checksum-crc32")) }
        await Self.expectChunkedError(.lengthMismatch) {
            _ = try await Self.decode(body, chunkSize: readSize, .init(trailer: "x-amz-checksum-crc32", decodedLength: 149_999))
        }
        let missing = Self.unsignedBody(payload, chunk: 65536, trailer: nil)
        await Self.expectChunkedError(.malformed) { _ = try await Self.decode(missing, chunkSize: readSize, .init(trailer: "x-amz-checksum-crc32")) }
    }

    @Test("broken framing is refused")
    func framing() async throws {
        let cases: [(String, AWSChunkedError.Code)] = [
            ("zz\r\nhello\r\n0\r\n\r\n", .malformed),
            ("5\r\nhelloX\r\n0\r\n\r\n", .malformed),
            ("5\r\nhel", .incomplete),
            ("5\r\nhello\r\n", .incomplete),
            ("", .incomplete),
            ("5\r\nhello\r\n0\r\n\r\ngarbage", .malformed),
            ("ffffffffffffffffff\r\n", .malformed),
            (String(repeating: "1", count: 5000), .malformed),
        ]
        for (body, code) in cases {
            await Self.expectChunkedError(code) { _ = try await Self.decode(Array(body.utf8), chunkSize: 3, .init()) }
        }
        // Signatures in an unsigned decode are ignored; CRLF inside data is data.
        let (payload, _) = try await Self.decode(
            Array("4;chunk-signature=deadbeef\r\na\r\nb\r\n0;chunk-signature=x\r\n\r\n".utf8), chunkSize: 2, .init())
        #expect(payload == Array("a\r\nb".utf8))
    }

    @Test("a chunked upload whose trailer checksum fails stores nothing")
    func putWithBadTrailer() async throws {
        try await withStore(.file) { subject in
            let payload = sampleText(100_000)
            let body = Self.unsignedBody(payload, chunk: 8192, trailer: "x-amz-checksum-crc32c:AAAAAA==")
            let decoder = AWSChunkedDecoder(ByteChunks(body, chunkSize: 4096), configuration: .init(trailer: "x-amz-checksum-crc32c"))
            await Self.expectChunkedError(.checksumMismatch) { _ = try await subject.store.put(decoder, limit: .max) }
            #expect(try await subject.store.list().isEmpty)
            #expect(subject.leftovers().isEmpty)
            let good = Self.unsignedBody(payload, chunk: 8192, trailer: "x-amz-checksum-crc32c:" + S3Checksum.base64(.crc32c, of: payload))
            let info = try await subject.store.put(
                AWSChunkedDecoder(ByteChunks(good, chunkSize: 4096), configuration: .init(trailer: "x-amz-checksum-crc32c")), limit: .max)
            #expect(try await subject.store.readAll(info.id) == payload)
        }
    }

    // MARK: Checksums

    @Test("CRC check values from the catalogue, whole or in pieces")
    func crcCheckValues() {
        let check = Array("123456789".utf8)
        var crc32 = CRC32()
        crc32.update(check)
        #expect(crc32.value == 0xCBF4_3926)
        var crc32c = CRC32.castagnoli()
        crc32c.update(check)
        #expect(crc32c.value == 0xE306_9283)
        var crc64 = CRC64NVME()
        crc64.update(check)
        #expect(crc64.value == 0xAE8B_1486_0A79_9888)
        // Split at every position: the same result as one pass (exercises the 8-byte path).
        let data = randomBytes(1000, seed: 5)
        var whole = CRC32.castagnoli()
        whole.update(data)
        for split in stride(from: 0, through: 1000, by: 37) {
            var parts = CRC32.castagnoli()
            parts.update(Array(data[..<split]))
            parts.update(Array(data[split...]))
            #expect(parts.value == whole.value)
        }
        // AWS's trailer example: CRC-32C of 66560 'a'.
        #expect(S3Checksum.base64(.crc32c, of: Self.a65536 + Self.a1024) == "sOO8/Q==")
    }

    @Test("S3Checksum verifies known algorithms and accepts unknown ones")
    func checksums() async throws {
        let bytes = Array("hello world".utf8)
        #expect(S3Checksum.base64(.sha256, of: bytes) == "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
        #expect(S3Checksum.base64(.sha1, of: bytes) == "Kq5sNclPz7QV2+lfQIuc6R7oRu0=")
        #expect(S3Checksum.base64(.md5, of: bytes) == "XrY7u+Ae7tCTyyK7j1rNww==")
        #expect(S3Checksum.base64(.crc32, of: bytes) == "DUoRhQ==")
        #expect(S3Checksum.verify(name: "x-amz-checksum-sha256", base64: "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=", bytes: bytes))
        #expect(S3Checksum.verify(name: "X-Amz-Checksum-CRC32", base64: "DUoRhQ==", bytes: bytes))
        #expect(!S3Checksum.verify(name: "x-amz-checksum-crc32", base64: "DUoRhA==", bytes: bytes))
        #expect(!S3Checksum.verify(name: "x-amz-checksum-crc32", base64: "not base64!", bytes: bytes))
        #expect(S3Checksum.verify(name: "x-amz-checksum-xxhash3", base64: "anything", bytes: bytes))

        let headers = [("x-amz-checksum-crc32", "DUoRhQ=="), ("Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww=="), ("x-amz-checksum-foo", "?")]
        let expectations = try S3Checksum.expectations(headers: headers, payloadHash: sha256Hex(bytes))
        #expect(expectations.map(\.algorithm) == [.crc32, .md5, .sha256])
        var out = [UInt8]()
        for try await chunk in S3Checksum.verifying(ByteChunks(bytes, chunkSize: 3), expectations) { out += chunk }
        #expect(out == bytes)
        let tampered = Array("hello World".utf8)
        await #expect(throws: S3ChecksumError.self) {
            for try await _ in S3Checksum.verifying(ByteChunks(tampered, chunkSize: 3), expectations) {}
        }
        #expect(throws: S3ChecksumError.self) { _ = try S3Checksum.expectations(headers: [("x-amz-checksum-sha1", "AAAA")]) }
    }
}
