import Synchronization

/// Why an `aws-chunked` body was refused (S3 answers 400 or 403 for signatures).
public struct AWSChunkedError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// Not aws-chunked framing (bad size line, missing CRLF, oversized line or chunk).
        case malformed
        /// The body ended before the final chunk.
        case incomplete
        /// A chunk or trailer signature does not chain from the request's signature.
        case signatureMismatch
        /// The trailer checksum (x-amz-trailer) does not match the decoded payload.
        case checksumMismatch
        /// The decoded length differs from `x-amz-decoded-content-length`.
        case lengthMismatch
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "AWSChunkedError.\(code.rawValue): \(message)" }
}

/// The trailers an `aws-chunked` body carried, readable once the body has been consumed.
public final class AWSChunkedTrailers: Sendable {
    private let storage = Mutex<[(String, String)]>([])

    public init() {}

    /// Lowercased names and trimmed values, in order (without `x-amz-trailer-signature`).
    public var values: [(String, String)] { storage.withLock { $0 } }

    /// The value of trailer `name` (case-insensitive).
    public func value(_ name: String) -> String? {
        let lowered = name.lowercased()
        return values.first { $0.0 == lowered }?.1
    }

    func set(_ trailers: [(String, String)]) { storage.withLock { $0 = trailers } }
}

/// How to decode an aws-chunked body (see `AWSChunkedDecoder`).
public struct AWSChunkedConfiguration: Sendable {
    /// The chain to check chunk signatures against; nil ignores them.
    public var signing: SigV4ChunkSigning?
    /// The `x-amz-trailer` header: which trailer checksum to verify.
    public var trailer: String?
    /// `x-amz-decoded-content-length`, checked when given.
    public var decodedLength: Int64?
    /// Largest chunk held for signature checking.
    public var maxSignedChunkSize: Int

    public init(
        signing: SigV4ChunkSigning? = nil, trailer: String? = nil, decodedLength: Int64? = nil,
        maxSignedChunkSize: Int = 16 << 20
    ) {
        self.signing = signing
        self.trailer = trailer
        self.decodedLength = decodedLength
        self.maxSignedChunkSize = maxSignedChunkSize
    }

    /// Reads `x-amz-trailer` and `x-amz-decoded-content-length` from the request and takes the
    /// chunk signing chain from its verification.
    public init(request: SigV4Request, verified: SigV4Verified) {
        self.init(
            signing: verified.chunkSigning, trailer: request.header("x-amz-trailer"),
            decodedLength: request.header("x-amz-decoded-content-length").flatMap { Int64($0.trimmingSpaces) })
    }
}

/// Streaming decoder of `Content-Encoding: aws-chunked` bodies (x-amz-content-sha256 of
/// STREAMING-UNSIGNED-PAYLOAD-TRAILER or STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]): yields
/// the payload bytes and keeps the trailers in `trailers`.
///
/// Chunk signatures are **checked** when `Configuration.signing` is given (pass
/// `SigV4Verified.chunkSigning`): each signed chunk is held (at most `maxSignedChunkSize`) until
/// its signature verifies, then released, and a signed trailer block must carry a valid
/// `x-amz-trailer-signature`. Without `signing` they are ignored. A trailer checksum named by
/// `x-amz-trailer` (e.g. `x-amz-checksum-crc32`) is computed over the payload and compared;
/// any failure is thrown before the sequence ends, so a blob store's `put` stores nothing.
public struct AWSChunkedDecoder<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == [UInt8] {
    public typealias Element = [UInt8]

    public typealias Configuration = AWSChunkedConfiguration

    let base: Base
    let configuration: Configuration
    /// Filled when the body has been read to its end.
    public let trailers: AWSChunkedTrailers

    public init(_ base: Base, configuration: Configuration = .init()) {
        self.base = base
        self.configuration = configuration
        trailers = AWSChunkedTrailers()
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), parser: AWSChunkedParser(configuration), trailers: trailers)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        var parser: AWSChunkedParser
        let trailers: AWSChunkedTrailers
        var queue: [[UInt8]] = []
        var queueIndex = 0
        var finished = false

        init(base: Base.AsyncIterator, parser: AWSChunkedParser, trailers: AWSChunkedTrailers) {
            self.base = base
            self.parser = parser
            self.trailers = trailers
        }

        public mutating func next() async throws -> [UInt8]? {
            while true {
                if queueIndex < queue.count {
                    defer { queueIndex += 1 }
                    return queue[queueIndex]
                }
                if finished { return nil }
                queue.removeAll(keepingCapacity: true)
                queueIndex = 0
                if let input = try await base.next() {
                    try parser.consume(input) { queue.append($0) }
                } else {
                    try parser.finish { queue.append($0) }
                    trailers.set(parser.trailers)
                    finished = true
                }
            }
        }
    }
}

/// The incremental aws-chunked state machine behind `AWSChunkedDecoder` (synchronous, for
/// callers that feed buffers themselves).
public struct AWSChunkedParser {
    private enum State {
        case sizeLine
        case data(remaining: Int64)
        case dataEnd(seen: Int)
        case trailerLine
        case done
    }

    private let configuration: AWSChunkedConfiguration
    private var state = State.sizeLine
    private var line: [UInt8] = []
    private var chunkSignature: String?
    private var previousSignature: String?
    private var chunkBuffer: [UInt8] = []
    private var chunkDigest: Digest?
    private var checksum: S3ChecksumHasher?
    private var trailerSignature: String?
    private var sawFinalChunk = false
    /// Payload bytes emitted so far.
    public private(set) var decodedLength: Int64 = 0
    /// Trailers seen so far (lowercased names, trimmed values; the signature excluded).
    public private(set) var trailers: [(String, String)] = []

    private static let maxLine = 4096

    public init(_ configuration: AWSChunkedConfiguration) {
        self.configuration = configuration
        previousSignature = configuration.signing?.seedSignature
        if let trailer = configuration.trailer, let algorithm = S3ChecksumAlgorithm(headerName: trailer.trimmingSpaces),
            algorithm != .md5
        {
            checksum = S3ChecksumHasher(algorithm)
        }
    }

    /// Feeds raw body bytes; `emit` receives decoded payload pieces.
    public mutating func consume(_ input: [UInt8], emit: ([UInt8]) -> Void) throws(AWSChunkedError) {
        var index = 0
        let count = input.count
        while index < count {
            switch state {
            case .sizeLine, .trailerLine:
                let byte = input[index]
                index += 1
                if byte == UInt8(ascii: "\n") {
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    let text = String(decoding: line, as: UTF8.self)
                    line.removeAll(keepingCapacity: true)
                    if case .sizeLine = state {
                        try sizeLine(text, emit: emit)
                    } else {
                        try trailerLine(text)
                    }
                } else {
                    line.append(byte)
                    if line.count > Self.maxLine { throw AWSChunkedError(.malformed, "a chunk header line is too long") }
                }
            case .data(let remaining):
                let take = Int(min(Int64(count - index), remaining))
                let piece = Array(input[index..<(index + take)])
                index += take
                try payload(piece, emit: emit)
                let left = remaining - Int64(take)
                state = left == 0 ? .dataEnd(seen: 0) : .data(remaining: left)
                if left == 0 { try endOfChunkData(emit: emit) }
            case .dataEnd(let seen):
                let expected: UInt8 = seen == 0 ? UInt8(ascii: "\r") : UInt8(ascii: "\n")
                guard input[index] == expected else {
                    throw AWSChunkedError(.malformed, "chunk data is not followed by CRLF")
                }
                index += 1
                state = seen == 0 ? .dataEnd(seen: 1) : .sizeLine
            case .done:
                // Only stray line ends may follow the last CRLF.
                guard input[index] == UInt8(ascii: "\r") || input[index] == UInt8(ascii: "\n") else {
                    throw AWSChunkedError(.malformed, "bytes after the end of the aws-chunked body")
                }
                index += 1
            }
        }
    }

    /// Ends the body: checks it was complete, the signatures, the trailer checksum and the length.
    public mutating func finish(emit: ([UInt8]) -> Void = { _ in }) throws(AWSChunkedError) {
        switch state {
        case .done:
            break
        case .trailerLine:
            // Tolerate a missing final empty line (some clients stop after the last trailer).
            if !line.isEmpty {
                let text = String(decoding: line, as: UTF8.self)
                line.removeAll()
                try trailerLine(text)
            }
            if case .trailerLine = state { try endOfTrailers() }
        default:
            throw AWSChunkedError(.incomplete, "the body ended before the final chunk")
        }
    }

    private mutating func sizeLine(_ text: String, emit: ([UInt8]) -> Void) throws(AWSChunkedError) {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false)
        let sizeText = parts[0].trimmingCharacters(in: .whitespaces)
        guard !sizeText.isEmpty, sizeText.utf8.count <= 15, let size = Int64(sizeText, radix: 16), size >= 0 else {
            throw AWSChunkedError(.malformed, "a chunk size is not hexadecimal")
        }
        chunkSignature = nil
        for extensionText in parts.dropFirst() {
            let pair = extensionText.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == "chunk-signature" {
                chunkSignature = pair[1].trimmingCharacters(in: .whitespaces)
            }
        }
        if configuration.signing != nil {
            guard let chunkSignature, Hex.isLowercase(chunkSignature, count: 64) else {
                throw AWSChunkedError(.malformed, "a signed chunk has no chunk-signature")
            }
            guard size <= Int64(configuration.maxSignedChunkSize) else {
                throw AWSChunkedError(.malformed, "a signed chunk is larger than \(configuration.maxSignedChunkSize) bytes")
            }
            chunkDigest = Digest(.sha256)
            chunkBuffer.removeAll(keepingCapacity: true)
        }
        if let limit = configuration.decodedLength, decodedLength + size > limit {
            throw AWSChunkedError(.lengthMismatch, "the chunks are longer than x-amz-decoded-content-length")
        }
        if size == 0 {
            try verifyChunk()
            sawFinalChunk = true
            state = .trailerLine
        } else {
            state = .data(remaining: size)
        }
    }

    private mutating func payload(_ piece: [UInt8], emit: ([UInt8]) -> Void) throws(AWSChunkedError) {
        if let chunkDigest {
            chunkDigest.update(piece)
            chunkBuffer.append(contentsOf: piece)
        } else {
            release(piece, emit: emit)
        }
    }

    private mutating func release(_ piece: [UInt8], emit: ([UInt8]) -> Void) {
        guard !piece.isEmpty else { return }
        checksum?.update(piece)
        decodedLength += Int64(piece.count)
        emit(piece)
    }

    private mutating func endOfChunkData(emit: ([UInt8]) -> Void) throws(AWSChunkedError) {
        guard configuration.signing != nil else { return }
        try verifyChunk()
        let held = chunkBuffer
        chunkBuffer = []
        release(held, emit: emit)
    }

    /// Checks the current chunk's signature against the chain (signed mode only).
    private mutating func verifyChunk() throws(AWSChunkedError) {
        guard let signing = configuration.signing else { return }
        guard let claimed = chunkSignature, let previous = previousSignature else {
            throw AWSChunkedError(.malformed, "a signed chunk has no chunk-signature")
        }
        let dataHash = Hex.encode((chunkDigest ?? Digest(.sha256)).finish())
        chunkDigest = nil
        let expected = signing.chunkSignature(previous: previous, dataHash: dataHash)
        guard constantTimeEqual(Array(expected.utf8), Array(claimed.utf8)) else {
            throw AWSChunkedError(.signatureMismatch, "a chunk signature does not match")
        }
        previousSignature = expected
    }

    private mutating func trailerLine(_ text: String) throws(AWSChunkedError) {
        if text.isEmpty {
            try endOfTrailers()
            return
        }
        guard let colon = text.firstIndex(of: ":") else {
            throw AWSChunkedError(.malformed, "a trailer line has no ':'")
        }
        let name = text[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, trailers.count < 32 else { throw AWSChunkedError(.malformed, "too many or empty trailers") }
        if name == "x-amz-trailer-signature" {
            trailerSignature = value
        } else {
            trailers.append((name, value))
        }
    }

    private mutating func endOfTrailers() throws(AWSChunkedError) {
        state = .done
        if let signing = configuration.signing, !trailers.isEmpty || trailerSignature != nil {
            guard let claimed = trailerSignature, let previous = previousSignature else {
                throw AWSChunkedError(.signatureMismatch, "signed trailers need x-amz-trailer-signature")
            }
            let canonical = trailers.map { "\($0.0):\($0.1)\n" }.joined()
            let expected = signing.trailerSignature(previous: previous, canonicalTrailers: canonical)
            guard constantTimeEqual(Array(expected.utf8), Array(claimed.utf8)) else {
                throw AWSChunkedError(.signatureMismatch, "the trailer signature does not match")
            }
        }
        if let checksum {
            let name = checksum.algorithm.headerName
            guard let value = trailers.first(where: { $0.0 == name })?.1 else {
                throw AWSChunkedError(.malformed, "the \(name) trailer announced by x-amz-trailer is missing")
            }
            guard let expected = Base64.decode(value), expected.count == checksum.algorithm.digestLength else {
                throw AWSChunkedError(.malformed, "the \(name) trailer is not valid base64")
            }
            guard constantTimeEqual(checksum.finish(), expected) else {
                throw AWSChunkedError(.checksumMismatch, "the payload does not match its \(name) trailer")
            }
            self.checksum = nil
        }
        if let expectedLength = configuration.decodedLength, expectedLength != decodedLength {
            throw AWSChunkedError(.lengthMismatch, "the payload length differs from x-amz-decoded-content-length")
        }
    }
}
