import CLibZstd

/// zstd compression of replica objects: one frame per object, with zstd's content checksum.
enum Zstd {
    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { "zstd: \(message)" }
    }

    static func check(_ code: Int) throws {
        if ZSTD_isError(code) != 0 { throw Failure(message: String(cString: ZSTD_getErrorName(code))) }
    }

    /// Compresses a whole buffer (segments: a few MiB at most).
    static func compress(_ input: [UInt8], level: Int32 = 3) throws -> [UInt8] {
        var output: [UInt8] = []
        let stream = try Compressor(level: level)
        try input.withUnsafeBytes { try stream.feed($0, end: true) { output.append(contentsOf: $0) } }
        return output
    }

    /// Decompresses a whole frame, refusing more than `limit` bytes out.
    static func decompress(_ input: UnsafeRawBufferPointer, limit: Int) throws -> [UInt8] {
        var output: [UInt8] = []
        let stream = try Decompressor()
        try stream.feed(input) { chunk in
            output.append(contentsOf: chunk)
            if output.count > limit { throw Failure(message: "more than \(limit) bytes out") }
        }
        guard stream.finished else { throw Failure(message: "truncated frame") }
        return output
    }

    /// A streaming compressor (one frame, content checksum on).
    final class Compressor {
        let context: OpaquePointer
        var buffer = [UInt8](repeating: 0, count: Int(ZSTD_CStreamOutSize()))

        init(level: Int32) throws {
            guard let context = ZSTD_createCCtx() else { throw Failure(message: "out of memory") }
            self.context = context
            try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
            try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        }

        deinit { ZSTD_freeCCtx(context) }

        /// Compresses `input`; with `end`, finishes the frame. Output goes to `sink` in chunks.
        func feed(_ input: UnsafeRawBufferPointer, end: Bool, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            let mode = end ? ZSTD_e_end : ZSTD_e_continue
            while true {
                let (remaining, produced) = try buffer.withUnsafeMutableBytes { out -> (Int, Int) in
                    var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                    let remaining = ZSTD_compressStream2(context, &outBuffer, &inBuffer, mode)
                    try check(remaining)
                    return (remaining, outBuffer.pos)
                }
                if produced > 0 {
                    try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
                }
                if end ? remaining == 0 : inBuffer.pos == inBuffer.size { break }
            }
        }
    }

    /// A streaming decompressor of one frame; `finished` once the frame (and its checksum) ended.
    final class Decompressor {
        let context: OpaquePointer
        var buffer = [UInt8](repeating: 0, count: Int(ZSTD_DStreamOutSize()))
        private(set) var finished = false

        init() throws {
            guard let context = ZSTD_createDCtx() else { throw Failure(message: "out of memory") }
            self.context = context
        }

        deinit { ZSTD_freeDCtx(context) }

        func feed(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while true {
                if finished {
                    if inBuffer.pos < inBuffer.size { throw Failure(message: "data after the end of the frame") }
                    return
                }
                let (code, produced) = try buffer.withUnsafeMutableBytes { out -> (Int, Int) in
                    var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                    let code = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                    try check(code)
                    return (code, outBuffer.pos)
                }
                if produced > 0 {
                    try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
                }
                if code == 0 {
                    finished = true
                    continue
                }
                // All input consumed and everything flushed: wait for more input.
                if inBuffer.pos == inBuffer.size && produced < buffer.count { return }
            }
        }
    }
}
