/// Table-driven (slicing-by-8) reflected CRCs for S3's checksum headers: CRC-32 (IEEE, as zlib),
/// CRC-32C (Castagnoli, as iSCSI) and CRC-64/NVME.
public struct CRC32: Sendable {
    /// CRC-32/ISO-HDLC (zlib, `x-amz-checksum-crc32`).
    public static let ieeePolynomial: UInt32 = 0xEDB8_8320
    /// CRC-32C/Castagnoli (`x-amz-checksum-crc32c`).
    public static let castagnoliPolynomial: UInt32 = 0x82F6_3B78

    private static let ieeeTable = makeTable32(ieeePolynomial)
    private static let castagnoliTable = makeTable32(castagnoliPolynomial)

    private let table: [UInt32]
    private var state: UInt32 = 0xFFFF_FFFF

    /// CRC-32 (IEEE).
    public init() { table = Self.ieeeTable }

    /// CRC-32 with a built-in polynomial (`ieeePolynomial` or `castagnoliPolynomial`).
    public init(polynomial: UInt32) {
        switch polynomial {
        case Self.ieeePolynomial: table = Self.ieeeTable
        case Self.castagnoliPolynomial: table = Self.castagnoliTable
        default: table = makeTable32(polynomial)
        }
    }

    /// CRC-32C.
    public static func castagnoli() -> CRC32 { CRC32(polynomial: castagnoliPolynomial) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        var crc = state
        table.withUnsafeBufferPointer { t in
            var index = 0
            let count = bytes.count
            while index + 8 <= count {
                let one = bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self).littleEndian ^ crc
                let two = bytes.loadUnaligned(fromByteOffset: index + 4, as: UInt32.self).littleEndian
                crc = t[7 * 256 + Int(one & 0xFF)] ^ t[6 * 256 + Int((one >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((one >> 16) & 0xFF)] ^ t[4 * 256 + Int(one >> 24)]
                    ^ t[3 * 256 + Int(two & 0xFF)] ^ t[2 * 256 + Int((two >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((two >> 16) & 0xFF)] ^ t[Int(two >> 24)]
                index += 8
            }
            while index < count {
                crc = t[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        state = crc
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The CRC of everything so far.
    public var value: UInt32 { ~state }

    /// Big-endian bytes, as S3 base64-encodes them.
    public var bytes: [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
}

/// CRC-64/NVME (`x-amz-checksum-crc64nvme`).
public struct CRC64NVME: Sendable {
    public static let polynomial: UInt64 = 0x9A6C_9329_AC4B_C9B5
    private static let table = makeTable64(polynomial)
    private var state: UInt64 = 0xFFFF_FFFF_FFFF_FFFF

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        var crc = state
        Self.table.withUnsafeBufferPointer { t in
            var index = 0
            let count = bytes.count
            while index + 8 <= count {
                let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self).littleEndian ^ crc
                crc = t[7 * 256 + Int(word & 0xFF)] ^ t[6 * 256 + Int((word >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((word >> 16) & 0xFF)] ^ t[4 * 256 + Int((word >> 24) & 0xFF)]
                    ^ t[3 * 256 + Int((word >> 32) & 0xFF)] ^ t[2 * 256 + Int((word >> 40) & 0xFF)]
                    ^ t[1 * 256 + Int((word >> 48) & 0xFF)] ^ t[Int(word >> 56)]
                index += 8
            }
            while index < count {
                crc = t[Int((crc ^ UInt64(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        state = crc
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public var value: UInt64 { ~state }

    public var bytes: [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
}

private func makeTable32(_ polynomial: UInt32) -> [UInt32] {
    var table = [UInt32](repeating: 0, count: 8 * 256)
    for byte in 0..<256 {
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
        table[byte] = crc
    }
    for slice in 1..<8 {
        for byte in 0..<256 {
            let previous = table[(slice - 1) * 256 + byte]
            table[slice * 256 + byte] = (previous >> 8) ^ table[Int(previous & 0xFF)]
        }
    }
    return table
}

private func makeTable64(_ polynomial: UInt64) -> [UInt64] {
    var table = [UInt64](repeating: 0, count: 8 * 256)
    for byte in 0..<256 {
        var crc = UInt64(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
        table[byte] = crc
    }
    for slice in 1..<8 {
        for byte in 0..<256 {
            let previous = table[(slice - 1) * 256 + byte]
            table[slice * 256 + byte] = (previous >> 8) ^ table[Int(previous & 0xFF)]
        }
    }
    return table
}
