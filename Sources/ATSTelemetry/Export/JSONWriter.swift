/// A small append-only JSON writer: the exporter and the log handler build their lines with it
/// instead of going through `JSONSerialization` (no boxing, stable key order, exact escaping).
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Per open container: has it got an element yet (a comma goes before the next one).
    private var hasElement: [Bool] = []
    /// A key was just written: the next value is its value, not a new element.
    private var afterKey = false

    init(reservingCapacity capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Called before every key and every value.
    private mutating func elementStart() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = hasElement.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            hasElement[hasElement.count - 1] = true
        }
    }

    /// Writes `"name":`; the value written next belongs to it.
    mutating func key(_ name: String) {
        elementStart()
        writeQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        elementStart()
        bytes.append(UInt8(ascii: "{"))
        hasElement.append(false)
        body(&self)
        hasElement.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func array(_ body: (inout JSONWriter) -> Void) {
        elementStart()
        bytes.append(UInt8(ascii: "["))
        hasElement.append(false)
        body(&self)
        hasElement.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func string(_ value: String) {
        elementStart()
        writeQuoted(value)
    }

    mutating func raw(_ literal: String) {
        elementStart()
        bytes.append(contentsOf: literal.utf8)
    }

    mutating func int(_ value: some BinaryInteger) { raw(String(value)) }

    mutating func bool(_ value: Bool) { raw(value ? "true" : "false") }

    mutating func null() { raw("null") }

    /// Finite doubles as numbers; NaN and infinities as the strings proto3 JSON uses.
    mutating func double(_ value: Double) {
        if value.isNaN {
            string("NaN")
        } else if value.isInfinite {
            string(value < 0 ? "-Infinity" : "Infinity")
        } else {
            raw(String(value))
        }
    }

    mutating func field(_ name: String, _ value: String) {
        key(name)
        string(value)
    }

    private mutating func writeQuoted(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20, 0x7F:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(contentsOf: Array(Hex.encode(byte: byte).utf8))
            default:
                // Multi-byte UTF-8 passes through unchanged: Swift strings are valid UTF-8.
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
