import Foundation

/// Sortable identifiers (ULID: 48-bit millisecond time + 80 random bits, Crockford base32),
/// so ids sort by creation time and cursors can page on them.
public enum Identifier {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (index, char) in alphabet.enumerated() {
            table[Int(char)] = UInt8(index)
            table[Int(Character(String(UnicodeScalar(char))).lowercased().utf8.first!)] = UInt8(index)
        }
        return table
    }()

    /// A new ULID for the given time.
    public static func make(at date: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        return make(at: date, using: &generator)
    }

    /// A ULID from a caller's generator, so the demo agency is reproducible.
    public static func make<G: RandomNumberGenerator>(at date: Date, using generator: inout G) -> String {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let high = generator.next() & 0xFFFF  // 16 bits
        let low = generator.next()  // 64 bits
        var chars = [UInt8](repeating: 0, count: 26)
        // 10 chars of time (50 bits, top 2 zero).
        var time = millis
        for index in stride(from: 9, through: 0, by: -1) {
            chars[index] = alphabet[Int(time & 31)]
            time >>= 5
        }
        // 16 chars of randomness (80 bits): 16 from `high`, 64 from `low`.
        var random = (high: high, low: low)
        for index in stride(from: 25, through: 10, by: -1) {
            chars[index] = alphabet[Int(random.low & 31)]
            random.low = (random.low >> 5) | ((random.high & 31) << 59)
            random.high >>= 5
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// Whether `string` is a well-formed ULID (any case).
    public static func isValid(_ string: some StringProtocol) -> Bool {
        let utf8 = string.utf8
        guard utf8.count == 26, let first = utf8.first, first <= UInt8(ascii: "7") else { return false }
        return utf8.allSatisfy { decodeTable[Int($0)] != 255 }
    }

    /// The canonical (upper-case) form of a valid id, or nil.
    public static func canonical(_ string: some StringProtocol) -> String? {
        guard isValid(string) else { return nil }
        return string.uppercased()
    }
}
