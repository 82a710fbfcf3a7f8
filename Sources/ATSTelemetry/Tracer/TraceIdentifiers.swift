import Synchronization

/// A 16-byte W3C trace id held as two words (high = first 8 bytes on the wire).
struct TraceID: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    var isZero: Bool { high == 0 && low == 0 }
    var hex: String { Hex.encode(high) + Hex.encode(low) }

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses 32 lowercase hex digits (what W3C and OTLP/JSON use).
    init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 32, let high = Hex.decode(utf8[0..<16]), let low = Hex.decode(utf8[16..<32]) else {
            return nil
        }
        self.init(high: high, low: low)
    }
}

/// Lowercase hex of fixed-width words, without Foundation.
enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func encode(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                let shift = UInt64((15 - index) * 4)
                buffer[index] = digits[Int((value >> shift) & 0xF)]
            }
            return 16
        }
    }

    /// Writes `value` as 16 lowercase hex digits at `offset`.
    static func write(_ value: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        digits.withUnsafeBufferPointer { digits in
            for index in 0..<16 {
                buffer[offset + index] = digits[Int((value >> UInt64((15 - index) * 4)) & 0xF)]
            }
        }
    }

    static func encode(byte value: UInt8) -> String {
        String(unsafeUninitializedCapacity: 2) { buffer in
            buffer[0] = digits[Int(value >> 4)]
            buffer[1] = digits[Int(value & 0xF)]
            return 2
        }
    }

    /// Decodes up to 16 lowercase hex digits; uppercase is rejected (W3C requires lowercase).
    static func decode(_ bytes: some Collection<UInt8>) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 16 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }
}

/// Trace and span ids from xoshiro256** seeded once: a lock and a few shifts per id, not a
/// syscall. Seedable so sampling statistics in tests are reproducible.
final class IDGenerator: Sendable {
    private struct State {
        var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

        mutating func next() -> UInt64 {
            let result = rotl(s1 &* 5, 7) &* 9
            let t = s1 << 17
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = rotl(s3, 45)
            return result
        }

        private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
    }

    private let state: Mutex<State>

    /// `seed` nil: seeded from the system generator.
    init(seed: UInt64? = nil) {
        var splitmix = seed ?? UInt64.random(in: .min ... .max)
        func nextSplitMix() -> UInt64 {
            splitmix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitmix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = Mutex(State(s0: nextSplitMix(), s1: nextSplitMix(), s2: nextSplitMix(), s3: nextSplitMix()))
    }

    /// 16 random bytes, never all zero.
    func traceID() -> TraceID {
        state.withLock { state in
            while true {
                let id = TraceID(high: state.next(), low: state.next())
                if !id.isZero { return id }
            }
        }
    }

    /// 8 random bytes, never zero.
    func spanID() -> UInt64 {
        state.withLock { state in
            while true {
                let id = state.next()
                if id != 0 { return id }
            }
        }
    }
}
