/// The integrity checksums S3 clients send (`x-amz-checksum-*` headers or aws-chunked
/// trailers, base64 of the big-endian digest), plus `Content-MD5` and a hex
/// `x-amz-content-sha256`. Unknown algorithms are accepted unverified.
public enum S3ChecksumAlgorithm: String, Sendable, Hashable, CaseIterable {
    case crc32, crc32c, crc64nvme, sha1, sha256
    /// `Content-MD5` (base64 MD5), not an `x-amz-checksum-*` algorithm but checked the same way.
    case md5

    /// From a header or trailer name such as `x-amz-checksum-crc32` (any case); nil when unknown.
    public init?(headerName: String) {
        let lowered = headerName.lowercased()
        if lowered == "content-md5" {
            self = .md5
            return
        }
        guard lowered.hasPrefix("x-amz-checksum-"), let algorithm = S3ChecksumAlgorithm(rawValue: String(lowered.dropFirst(15))),
            algorithm != .md5
        else { return nil }
        self = algorithm
    }

    /// `x-amz-checksum-<name>` (or `content-md5`).
    public var headerName: String { self == .md5 ? "content-md5" : "x-amz-checksum-" + rawValue }

    /// Digest length in bytes.
    public var digestLength: Int {
        switch self {
        case .crc32, .crc32c: 4
        case .crc64nvme: 8
        case .sha1: 20
        case .sha256: 32
        case .md5: 16
        }
    }
}

/// A streaming hasher for one algorithm.
public final class S3ChecksumHasher {
    public let algorithm: S3ChecksumAlgorithm
    private var crc32: CRC32?
    private var crc64: CRC64NVME?
    private let digest: Digest?

    public init(_ algorithm: S3ChecksumAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .crc32: crc32 = CRC32(); crc64 = nil; digest = nil
        case .crc32c: crc32 = CRC32.castagnoli(); crc64 = nil; digest = nil
        case .crc64nvme: crc32 = nil; crc64 = CRC64NVME(); digest = nil
        case .sha1: crc32 = nil; crc64 = nil; digest = Digest(.sha1)
        case .sha256: crc32 = nil; crc64 = nil; digest = Digest(.sha256)
        case .md5: crc32 = nil; crc64 = nil; digest = Digest(.md5)
        }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        if crc32 != nil { crc32!.update(bytes) }
        if crc64 != nil { crc64!.update(bytes) }
        digest?.update(bytes)
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The digest bytes; call once, at the end.
    public func finish() -> [UInt8] {
        if let crc32 { return crc32.bytes }
        if let crc64 { return crc64.bytes }
        return digest!.finish()
    }
}

/// A checksum the body must match, read from a request header or trailer.
public struct S3ChecksumExpectation: Sendable, Hashable {
    public let algorithm: S3ChecksumAlgorithm
    public let expected: [UInt8]

    public init(algorithm: S3ChecksumAlgorithm, expected: [UInt8]) {
        self.algorithm = algorithm
        self.expected = expected
    }

    /// From a header (`x-amz-checksum-*` or `content-md5`) and its base64 value: nil for an
    /// unknown algorithm (accepted unverified); throws `.malformed` for a value that is not
    /// base64 of the right length.
    public init?(header name: String, base64 value: String) throws(S3ChecksumError) {
        guard let algorithm = S3ChecksumAlgorithm(headerName: name) else { return nil }
        guard let bytes = Base64.decode(value.trimmingSpaces), bytes.count == algorithm.digestLength else {
            throw S3ChecksumError(.malformed, algorithm: algorithm.headerName, "the \(algorithm.headerName) value is not valid")
        }
        self.init(algorithm: algorithm, expected: bytes)
    }
}

/// Why a body's checksum was refused (S3 answers 400 BadDigest / InvalidDigest).
public struct S3ChecksumError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The body does not match the checksum the client sent (BadDigest).
        case mismatch
        /// The checksum value itself is unreadable (InvalidDigest).
        case malformed
    }

    public let code: Code
    /// The header name, e.g. `x-amz-checksum-crc32`.
    public let algorithm: String
    public let message: String

    public init(_ code: Code, algorithm: String, _ message: String) {
        self.code = code
        self.algorithm = algorithm
        self.message = message
    }

    public var description: String { "S3ChecksumError.\(code.rawValue): \(message)" }
}

public enum S3Checksum {
    /// Base64 of `algorithm`'s digest of `bytes` (what a client would send).
    public static func base64(_ algorithm: S3ChecksumAlgorithm, of bytes: [UInt8]) -> String {
        let hasher = S3ChecksumHasher(algorithm)
        hasher.update(bytes)
        return Base64.encode(hasher.finish())
    }

    /// True when `bytes` match the base64 checksum under header `name`; unknown algorithms are
    /// accepted (true), unreadable values are not (false).
    public static func verify(name: String, base64: String, bytes: [UInt8]) -> Bool {
        guard let algorithm = S3ChecksumAlgorithm(headerName: name) else { return true }
        guard let expected = Base64.decode(base64.trimmingSpaces), expected.count == algorithm.digestLength else {
            return false
        }
        let hasher = S3ChecksumHasher(algorithm)
        hasher.update(bytes)
        return constantTimeEqual(hasher.finish(), expected)
    }

    /// Every checksum a request's headers ask for: `x-amz-checksum-*`, `content-md5`, and a hex
    /// `x-amz-content-sha256` payload hash (give the verified `payloadHash`).
    public static func expectations(
        headers: [(String, String)], payloadHash: String? = nil
    ) throws(S3ChecksumError) -> [S3ChecksumExpectation] {
        var out: [S3ChecksumExpectation] = []
        for (name, value) in headers {
            if let expectation = try S3ChecksumExpectation(header: name, base64: value) { out.append(expectation) }
        }
        if let payloadHash, Hex.isLowercase(payloadHash, count: 64), let digest = Hex.decode(payloadHash),
            !out.contains(where: { $0.algorithm == .sha256 && $0.expected == digest })
        {
            out.append(S3ChecksumExpectation(algorithm: .sha256, expected: digest))
        }
        return out
    }

    /// Wraps a body so it throws `S3ChecksumError.mismatch` at its end when any expectation
    /// fails: a blob store's `put` then stores nothing.
    public static func verifying<Base: AsyncSequence & Sendable>(
        _ body: Base, _ expectations: [S3ChecksumExpectation]
    ) -> S3ChecksumVerifyingBody<Base> where Base.Element == [UInt8] {
        S3ChecksumVerifyingBody(base: body, expectations: expectations)
    }
}

/// A body that checks its checksums as it streams (see `S3Checksum.verifying`).
public struct S3ChecksumVerifyingBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable
where Base.Element == [UInt8] {
    public typealias Element = [UInt8]
    let base: Base
    let expectations: [S3ChecksumExpectation]

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), expectations: expectations)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let expectations: [S3ChecksumExpectation]
        let hashers: [S3ChecksumHasher]
        var done = false

        init(base: Base.AsyncIterator, expectations: [S3ChecksumExpectation]) {
            self.base = base
            self.expectations = expectations
            hashers = expectations.map { S3ChecksumHasher($0.algorithm) }
        }

        public mutating func next() async throws -> [UInt8]? {
            guard !done else { return nil }
            if let chunk = try await base.next() {
                chunk.withUnsafeBytes { bytes in for hasher in hashers { hasher.update(bytes) } }
                return chunk
            }
            done = true
            for (expectation, hasher) in zip(expectations, hashers)
            where !constantTimeEqual(hasher.finish(), expectation.expected) {
                throw S3ChecksumError(
                    .mismatch, algorithm: expectation.algorithm.headerName,
                    "the body does not match its \(expectation.algorithm.headerName)")
            }
            return nil
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return String(view)
    }
}
