/// A verified blob's bytes as an async sequence of chunks of at most 256 KiB.
///
/// It holds the file open, so the bytes served are the ones that were verified even if the GC
/// unlinks the blob meanwhile. Iterating it again starts over. For the fewest copies, an HTTP
/// layer can call `Iterator.read(into:)` with its own buffer (one copy, kernel to buffer), or,
/// for an uncompressed blob, stream `plainFile` itself.
public struct BlobReader: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    /// Largest chunk `next()` returns.
    public static let chunkSize = 256 * 1024

    /// The blob's metadata (size is the whole blob's logical size).
    public let info: BlobInfo
    /// The bytes this reader serves (inclusive, clamped to the blob), or nil for all of it.
    public let range: ClosedRange<Int64>?
    let source: Source

    enum Source: Sendable {
        case plain(FileDescriptor, path: String)
        case zstd(FileDescriptor)
    }

    init(info: BlobInfo, range: ClosedRange<Int64>?, source: Source) {
        self.info = info
        self.range = range
        self.source = source
    }

    /// Number of bytes this reader yields (Content-Length).
    public var length: Int64 {
        guard let range else { return info.size }
        return range.upperBound - range.lowerBound + 1
    }

    /// Where the served bytes sit in a plain (uncompressed) file, for a zero-copy `sendfile`
    /// path; nil for a compressed blob. The file was verified when this reader was made.
    public var plainFile: (path: String, offset: Int64, length: Int64)? {
        guard case .plain(_, let path) = source else { return nil }
        return (path, range?.lowerBound ?? 0, length)
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(source: source, start: range?.lowerBound ?? 0, length: length)
    }

    /// Reads chunks with `pread` (plain) or through a streaming zstd decoder (compressed).
    public struct Iterator: AsyncIteratorProtocol {
        let source: Source
        var position: Int64
        var remaining: Int64
        var skip: Int64
        var decoder: ZstdFileDecoder?

        init(source: Source, start: Int64, length: Int64) {
            self.source = source
            remaining = length
            switch source {
            case .plain:
                position = start
                skip = 0
            case .zstd:
                position = 0
                skip = start
            }
        }

        /// The next chunk (at most 256 KiB), or nil at the end.
        public mutating func next() async throws -> [UInt8]? {
            try nextChunk()
        }

        /// Synchronous form of `next()` for callers already off the cooperative pool.
        public mutating func nextChunk() throws -> [UInt8]? {
            guard remaining > 0 else { return nil }
            let wanted = Int(Swift.min(Int64(BlobReader.chunkSize), remaining))
            var failure: (any Error)?
            let chunk = [UInt8](unsafeUninitializedCapacity: wanted) { buffer, count in
                do {
                    count = try read(into: UnsafeMutableRawBufferPointer(buffer))
                } catch {
                    failure = error
                    count = 0
                }
            }
            if let failure { throw failure }
            return chunk.isEmpty ? nil : chunk
        }

        /// Fills `buffer` with the next bytes (up to its size); returns how many, 0 at the end.
        /// Throws `.corrupted` if the file changed under the reader (shorter than verified).
        public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            guard remaining > 0, buffer.count > 0 else { return 0 }
            let wanted = Int(Swift.min(Int64(buffer.count), remaining))
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted])
            let count: Int
            do {
                switch source {
                case .plain(let file, _):
                    count = try POSIX.pread(file.fd, target, at: position)
                case .zstd(let file):
                    if decoder == nil { decoder = ZstdFileDecoder(fd: file.fd) }
                    while skip > 0 {
                        let step = Int(Swift.min(Int64(target.count), skip))
                        let skipped = try decoder!.read(into: UnsafeMutableRawBufferPointer(rebasing: target[0..<step]))
                        if skipped == 0 { break }
                        skip -= Int64(skipped)
                    }
                    count = try skip > 0 ? 0 : decoder!.read(into: target)
                }
            } catch let error as BlobError {
                throw error
            } catch {
                throw BlobError(.unavailable, "reading a blob failed: \(error)")
            }
            if count == 0 {
                throw BlobError(.corrupted, "the blob ended before its verified length")
            }
            position += Int64(count)
            remaining -= Int64(count)
            return count
        }
    }
}
