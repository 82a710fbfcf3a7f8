/// Raw DEFLATE (RFC 1951) decoding in pure Swift, bounded by an output limit so a bomb stops early.
enum Inflate {
    enum Failure: Error, Equatable {
        /// The stream is not valid DEFLATE (or ends early); the string says why, for logs and tests.
        case malformed(String)
        /// The output would exceed the limit.
        case limitExceeded
    }

    /// Decodes one raw DEFLATE stream, refusing to produce more than `limit` bytes.
    static func decode(_ input: ArraySlice<UInt8>, limit: Int, expectedSize: Int? = nil) throws(Failure) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, expectedSize ?? input.count * 4, 64 << 20))
        let result = input.withUnsafeBufferPointer { buffer -> Failure? in
            var state = State(input: buffer, limit: limit)
            do throws(Failure) {
                try state.run(into: &output)
                return nil
            } catch {
                return error
            }
        }
        if let result { throw result }
        return output
    }

    /// A canonical Huffman code as a direct lookup table indexed by the next `bits` input bits (LSB first).
    struct Huffman {
        /// symbol << 4 | code length; 0 marks a bit pattern no code uses.
        var table: [UInt16]
        var bits: Int

        init(lengths: ArraySlice<UInt8>) throws(Failure) {
            var counts = [Int](repeating: 0, count: 16)
            for length in lengths { counts[Int(length)] += 1 }
            counts[0] = 0
            let maxLength = counts.lastIndex { $0 > 0 } ?? 0
            guard maxLength > 0 else {
                // No codes at all: valid only for a distance code of a block that copies nothing.
                table = [0, 0]
                bits = 1
                return
            }
            // Reject over-subscribed codes; incomplete ones leave unused patterns marked invalid.
            var left = 1
            for length in 1...15 {
                left <<= 1
                left -= counts[length]
                if left < 0 { throw .malformed("over-subscribed Huffman code") }
            }
            var nextCode = [Int](repeating: 0, count: 16)
            var code = 0
            for length in 1...15 {
                nextCode[length] = code
                code = (code + counts[length]) << 1
            }
            bits = maxLength
            table = [UInt16](repeating: 0, count: 1 << maxLength)
            for (offset, length) in lengths.enumerated() where length > 0 {
                let length = Int(length)
                let code = nextCode[length]
                nextCode[length] += 1
                var reversed = 0
                for bit in 0..<length where code & (1 << bit) != 0 { reversed |= 1 << (length - 1 - bit) }
                let entry = UInt16(offset << 4 | length)
                var index = reversed
                while index < table.count {
                    table[index] = entry
                    index += 1 << length
                }
            }
        }

        static let fixedLiterals: Huffman = {
            var lengths = [UInt8](repeating: 8, count: 288)
            for index in 144..<256 { lengths[index] = 9 }
            for index in 256..<280 { lengths[index] = 7 }
            return try! Huffman(lengths: lengths[...])
        }()

        static let fixedDistances: Huffman = try! Huffman(lengths: [UInt8](repeating: 5, count: 30)[...])
    }

    static let lengthBase: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
        8193, 12289, 16385, 24577,
    ]
    static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    struct State {
        let input: UnsafeBufferPointer<UInt8>
        let limit: Int
        var position = 0
        var bitBuffer: UInt64 = 0
        var bitCount = 0

        init(input: UnsafeBufferPointer<UInt8>, limit: Int) {
            self.input = input
            self.limit = limit
        }

        mutating func refill() {
            while bitCount <= 56, position < input.count {
                bitBuffer |= UInt64(input[position]) << UInt64(bitCount)
                position += 1
                bitCount += 8
            }
        }

        mutating func bits(_ count: Int) throws(Failure) -> Int {
            if count == 0 { return 0 }
            if bitCount < count { refill() }
            guard bitCount >= count else { throw .malformed("the compressed data ends early") }
            let value = Int(bitBuffer & ((1 << UInt64(count)) - 1))
            bitBuffer >>= UInt64(count)
            bitCount -= count
            return value
        }

        mutating func symbol(_ code: Huffman) throws(Failure) -> Int {
            if bitCount < code.bits { refill() }
            // Peeking past the end reads zeros; the length check below catches a real overrun.
            let entry = Int(code.table[Int(bitBuffer & ((1 << UInt64(code.bits)) - 1))])
            let length = entry & 15
            guard length > 0 else { throw .malformed("an invalid Huffman code") }
            guard length <= bitCount else { throw .malformed("the compressed data ends early") }
            bitBuffer >>= UInt64(length)
            bitCount -= length
            return entry >> 4
        }

        mutating func run(into output: inout [UInt8]) throws(Failure) {
            var final = false
            while !final {
                final = try bits(1) == 1
                switch try bits(2) {
                case 0: try stored(into: &output)
                case 1: try codes(Huffman.fixedLiterals, Huffman.fixedDistances, into: &output)
                case 2:
                    let (literals, distances) = try dynamicTables()
                    try codes(literals, distances, into: &output)
                default: throw .malformed("an invalid block type")
                }
            }
        }

        mutating func stored(into output: inout [UInt8]) throws(Failure) {
            // Drop to a byte boundary and hand the whole bytes still buffered back to the input.
            bitBuffer >>= UInt64(bitCount & 7)
            bitCount -= bitCount & 7
            position -= bitCount / 8
            bitBuffer = 0
            bitCount = 0
            guard position + 4 <= input.count else { throw .malformed("the compressed data ends early") }
            let length = Int(input[position]) | Int(input[position + 1]) << 8
            let complement = Int(input[position + 2]) | Int(input[position + 3]) << 8
            position += 4
            guard length == ~complement & 0xFFFF else { throw .malformed("a stored block's length check fails") }
            guard position + length <= input.count else { throw .malformed("the compressed data ends early") }
            guard output.count + length <= limit else { throw .limitExceeded }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: input[position..<position + length]))
            position += length
        }

        mutating func dynamicTables() throws(Failure) -> (Huffman, Huffman) {
            let literalCount = try bits(5) + 257
            let distanceCount = try bits(5) + 1
            let codeLengthCount = try bits(4) + 4
            guard literalCount <= 286, distanceCount <= 30 else { throw .malformed("too many codes in a dynamic block") }
            var codeLengths = [UInt8](repeating: 0, count: 19)
            for index in 0..<codeLengthCount {
                let length = try bits(3)
                codeLengths[codeLengthOrder[index]] = UInt8(length)
            }
            let lengthCode = try Huffman(lengths: codeLengths[...])
            var lengths = [UInt8]()
            lengths.reserveCapacity(literalCount + distanceCount)
            while lengths.count < literalCount + distanceCount {
                let symbol = try symbol(lengthCode)
                switch symbol {
                case 0...15: lengths.append(UInt8(symbol))
                case 16:
                    guard let previous = lengths.last else { throw .malformed("a repeat with nothing to repeat") }
                    let extra = try bits(2)
                    lengths.append(contentsOf: repeatElement(previous, count: 3 + extra))
                case 17:
                    let extra = try bits(3)
                    lengths.append(contentsOf: repeatElement(0, count: 3 + extra))
                default:
                    let extra = try bits(7)
                    lengths.append(contentsOf: repeatElement(0, count: 11 + extra))
                }
            }
            guard lengths.count == literalCount + distanceCount else { throw .malformed("code lengths overflow the table") }
            guard lengths[256] > 0 else { throw .malformed("no end-of-block code") }
            return (try Huffman(lengths: lengths[0..<literalCount]), try Huffman(lengths: lengths[literalCount...]))
        }

        mutating func codes(_ literals: Huffman, _ distances: Huffman, into output: inout [UInt8]) throws(Failure) {
            while true {
                let symbol = try symbol(literals)
                if symbol < 256 {
                    guard output.count < limit else { throw .limitExceeded }
                    output.append(UInt8(symbol))
                } else if symbol == 256 {
                    return
                } else {
                    let index = symbol - 257
                    guard index < 29 else { throw .malformed("an invalid length code") }
                    let lengthBits = try bits(lengthExtra[index])
                    let length = lengthBase[index] + lengthBits
                    let distanceSymbol = try self.symbol(distances)
                    guard distanceSymbol < 30 else { throw .malformed("an invalid distance code") }
                    let distanceBits = try bits(distanceExtra[distanceSymbol])
                    let distance = distanceBase[distanceSymbol] + distanceBits
                    guard distance <= output.count else { throw .malformed("a back-reference before the start") }
                    guard output.count + length <= limit else { throw .limitExceeded }
                    var from = output.count - distance
                    for _ in 0..<length {
                        output.append(output[from])
                        from += 1
                    }
                }
            }
        }
    }
}
