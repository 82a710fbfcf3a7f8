import CLibZstd

struct ZstdFailure: Error, CustomStringConvertible {
    let message: String
    init(_ code: Int) { message = String(cString: ZSTD_getErrorName(code)) }
    init(message: String) { self.message = message }
    var description: String { "zstd: \(message)" }
}

/// A streaming zstd compressor writing one frame with a content checksum.
final class ZstdCompressor {
    private let context: OpaquePointer
    private var output: [UInt8]

    init(level: Int32) {
        guard let context = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx failed: out of memory") }
        self.context = context
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Feeds `input` and hands every produced block to `sink` (possibly none).
    func compress(_ input: UnsafeRawBufferPointer, end: Bool, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let directive = end ? ZSTD_e_end : ZSTD_e_continue
        let capacity = output.count
        while true {
            var remaining = 0
            let produced: Int = try output.withUnsafeMutableBytes { buffer in
                var destination = ZSTD_outBuffer(dst: buffer.baseAddress, size: capacity, pos: 0)
                remaining = ZSTD_compressStream2(context, &destination, &source, directive)
                if ZSTD_isError(remaining) != 0 { throw ZstdFailure(remaining) }
                return destination.pos
            }
            if produced > 0 {
                try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
            }
            if end {
                if remaining == 0 { return }
            } else if source.pos == source.size && produced < capacity {
                return
            }
        }
    }
}

/// A streaming zstd decompressor that reads the compressed file with `pread` and fills caller
/// buffers; it requires exactly one complete frame (trailing bytes or a cut frame are errors).
final class ZstdFileDecoder {
    private let context: OpaquePointer
    private let fd: Int32
    private var input: [UInt8]
    private var inputStart = 0
    private var inputEnd = 0
    private var fileOffset: Int64 = 0
    private var frameDone = false
    private var fileDone = false

    init(fd: Int32) {
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx failed: out of memory") }
        self.context = context
        self.fd = fd
        input = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses into `buffer`; returns the number of bytes written, 0 at the end of the frame.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        var destination = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while destination.pos < destination.size && !frameDone {
            if inputStart == inputEnd && !fileDone {
                let count = try input.withUnsafeMutableBytes { try POSIX.pread(fd, $0, at: fileOffset) }
                fileOffset += Int64(count)
                inputStart = 0
                inputEnd = count
                if count == 0 { fileDone = true }
            }
            let before = destination.pos
            let consumedBefore = inputStart
            let result: Int = input.withUnsafeBytes { raw in
                var source = ZSTD_inBuffer(src: raw.baseAddress! + inputStart, size: inputEnd - inputStart, pos: 0)
                let result = ZSTD_decompressStream(context, &destination, &source)
                inputStart += source.pos
                return result
            }
            if ZSTD_isError(result) != 0 { throw ZstdFailure(result) }
            if result == 0 {
                frameDone = true
                // Anything after the frame means the file is not what the store wrote.
                if inputStart != inputEnd { throw ZstdFailure(message: "trailing data after the frame") }
                var probe: UInt8 = 0
                let extra = try withUnsafeMutableBytes(of: &probe) { try POSIX.pread(fd, $0, at: fileOffset) }
                if extra != 0 { throw ZstdFailure(message: "trailing data after the frame") }
                break
            }
            if fileDone && inputStart == inputEnd && destination.pos == before && consumedBefore == inputStart {
                throw ZstdFailure(message: "truncated frame")
            }
        }
        return destination.pos
    }
}
