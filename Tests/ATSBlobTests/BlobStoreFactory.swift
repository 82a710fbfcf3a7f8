@testable import ATSBlob
import Foundation
import Testing

/// A fresh, empty blob store and what the conformance suite needs to poke at it.
struct BlobStoreUnderTest: Sendable {
    let store: any BlobStore
    /// Whether compressible content is expected to be stored compressed.
    let compresses: Bool
    /// Flips one byte of the stored representation (simulates bit rot or tampering).
    let corrupt: @Sendable (BlobID) throws -> Void
    /// Temporary upload files left behind.
    let leftovers: @Sendable () -> [String]
    let cleanup: @Sendable () -> Void
}

/// One way to get a blob store. The conformance suite runs once per factory; an S3 store joins
/// by adding itself to `all`.
struct BlobStoreFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () throws -> BlobStoreUnderTest

    var testDescription: String { name }

    static let file = BlobStoreFactory(name: "FileBlobStore") {
        let root = try temporaryDirectory("blobs")
        let store = try FileBlobStore(configuration: .init(root: root, verifiedCacheMinimumAge: 0.02))
        return BlobStoreUnderTest(
            store: store, compresses: true,
            corrupt: { id in try flipByte(in: store.storedPath(id)!, at: 0.5) },
            leftovers: { (try? FileManager.default.contentsOfDirectory(atPath: root + "/tmp")) ?? [] },
            cleanup: { try? FileManager.default.removeItem(atPath: root) })
    }

    static let all: [BlobStoreFactory] = [.file]
}

func withStore(_ factory: BlobStoreFactory, _ body: (BlobStoreUnderTest) async throws -> Void) async throws {
    let subject = try factory.make()
    defer { subject.cleanup() }
    try await body(subject)
}

/// A new empty folder under the system temporary directory.
func temporaryDirectory(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "ats-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// XORs one byte at a relative position of a file, in place.
func flipByte(in path: String, at fraction: Double) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    let size = try handle.seekToEnd()
    let offset = UInt64(Double(size - 1) * fraction)
    try handle.seek(toOffset: offset)
    let byte = try handle.read(upToCount: 1)!
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: Data([byte[0] ^ 0x5A]))
}

/// Deterministic pseudo-random bytes (xorshift), fast enough for tens of MB.
struct ByteGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var index = 0
            while index < count {
                var word = next()
                for _ in 0..<8 where index < count {
                    buffer[index] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    index += 1
                }
            }
            initialized = count
        }
    }
}

func randomBytes(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
    var generator = ByteGenerator(seed: seed)
    return generator.bytes(count)
}

/// A CV-like text that compresses well.
func sampleText(_ bytes: Int) -> [UInt8] {
    let line = "Senior Swift engineer, 8 years of experience with server-side Swift, SQLite and Kubernetes. Zürich.\n"
    var out = [UInt8]()
    var index = 0
    while out.count < bytes {
        out.append(contentsOf: "\(index) ".utf8)
        out.append(contentsOf: line.utf8)
        index += 1
    }
    return Array(out.prefix(bytes))
}

/// A body produced lazily chunk by chunk, never held whole; `onChunk` sees each chunk's index.
struct GeneratedBody: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let total: Int
    let chunkSize: Int
    let seed: UInt64
    let failAfter: Int?
    let onChunk: @Sendable (Int) -> Void

    init(total: Int, chunkSize: Int = 64 * 1024, seed: UInt64 = 7, failAfter: Int? = nil, onChunk: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.total = total
        self.chunkSize = chunkSize
        self.seed = seed
        self.failAfter = failAfter
        self.onChunk = onChunk
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: GeneratedBody
        var generator: ByteGenerator
        var produced = 0
        var index = 0

        mutating func next() async throws -> [UInt8]? {
            if let failAfter = body.failAfter, produced >= failAfter { throw BodyFailure() }
            guard produced < body.total else { return nil }
            let count = Swift.min(body.chunkSize, body.total - produced)
            produced += count
            body.onChunk(index)
            index += 1
            return generator.bytes(count)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self, generator: ByteGenerator(seed: seed)) }
}

struct BodyFailure: Error {}

/// Resident set size of this process, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func sha256Hex(_ bytes: [UInt8]) -> String { BlobID(of: bytes).hex }

func md5Hex(_ bytes: [UInt8]) -> String { Hex.encode(Digest.hash(.md5, bytes)) }

/// Expects `body` to throw a `BlobError` with `code`.
func expectBlobError(
    _ code: BlobError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected BlobError.\(code)", sourceLocation: sourceLocation)
    } catch let error as BlobError {
        #expect(error.code == code, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected BlobError.\(code), got \(error)", sourceLocation: sourceLocation)
    }
}
