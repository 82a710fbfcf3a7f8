import Foundation

/// Files made by real tools, and hostile files made by hand, for the extraction and ZIP tests.
enum Fixtures {
    /// A DOCX written by Python's zipfile (deflate level 9) with Word's constructs: a header part, a details
    /// table, a hyperlink field, tab stops, a tracked deletion, a text box with its VML fallback, entities,
    /// and a stored PNG.
    static let pythonDocx = Array(Data(base64Encoded: """
        UEsDBBQAAAAIAFe4fV1/Fgli+wAAAC4CAAATAAAAW0NvbnRlbnRfVHlwZXNdLnhtbK2Ru07DMBSGd57COmuVOGVACDXpwGUEhvIA
        R/ZJYuGbfNzSvj1OUzqgAguj/V++X/ZqvXdW7CixCb6FZd2AIK+CNn5o4W3zVN2C4Ixeow2eWjgQw7q7Wm0OkViUsOcWxpzjnZSs
        RnLIdYjki9KH5DCXYxpkRPWOA8nrprmRKvhMPld56oBu9UA9bm0Wj/tyPQ9JZBnE/WycWC1gjNYozEWXO6+/UaoToS7Jo4dHE3lR
        DCAvEiblZ8Ap91JeJhlN4hVTfkZXXPIjJC11UFtXkvXvNRd2hr43is75qS2moIi5PLmz9VlxaPzirx0joaa0/P8Zc/EXXx6/u/sE
        UEsDBBQAAAAIAFe4fV25gURxsAAAACoBAAALAAAAX3JlbHMvLnJlbHONzzsOwjAMBuCdU0TeaVoGhFCTLgipKyoHiBI3jWgeSsKj
        tycDAyAGRtu/P8tt97AzuWFMxjsGTVUDQSe9Mk4zOA/H9Q5IysIpMXuHDBZM0PFVe8JZ5LKTJhMSKYhLDKacw57SJCe0IlU+oCuT
        0UcrcimjpkHIi9BIN3W9pfHdAP5hkl4xiL1qgAxLwH9sP45G4sHLq0WXf5z4ShRZRI2Zwd1HRdWrXRUWKG/px4v8CVBLAwQUAAAA
        CABXuH1dBtyjxT0DAAA8CwAAEQAAAHdvcmQvZG9jdW1lbnQueG1s3VbdbtMwFL7nKSwjTUNsdbeObWRrx9gPQyBUsSEEd05y0lpz
        bGO7bXrHO/CGPAknbpJ2XSsQgklwEzvOOd8538n58fFJkUsyBuuEVl2602pTAirRqVCDLv1wc7l9SInzXKVcagVdOgVHT3qPjidR
        qpNRDsoTRFAumnTp0HsTMeaSIeTctbQBhd8ybXPu8dUO2ETb1FidgHNoIJdst93eZzkXilYwefIrODm3tyOznejccC9iIYWfBqwa
        ZmLcPZxcJFY7nfkW6jGdZSKB4BFq7rSXfLsecgM12rhLR1ZFFdB2A1Q6EI1zSXsYj1in03I14dG3Ybn2UwlkEo257NJ3JQNJWe+Y
        NRKzx2wvuRrUsqC2X72sRKvPIdKRMzzB/2AsOLBjoL2+FVNO0F8EL6X9TGdmpHFohtC7Ap4SnZFz7u8K1xI8ZstHvc8rJXsjK5Lh
        Sos+ltXStyzsZirJ7FnRST4iWUybTruNWYcHU4PE0oJXtGvBhw7oBeajXMGLzRn8Po+wy2R6hv+LNLuboBLDAAthOf5COW9voFjj
        Lbn61L94//b1uzeElo57HZkyI15AwXMjoawXSkrIBmjJwBpvHBhuuQd6PyGCgZYLKfcCa8Zr1arMrUqVNQZApXPsOyFmTcb8S3nT
        H2KH/Ft584A8nu7tkIN98vzwgOw/I3ud9ZSq/8Sail90FVuJq9baBwmZL5kajd1597DzrGYaRP9oDRcGrMBJBj9tidj8D8j3r99I
        0Fb+V9viasOLDXaLXIEcgxecbGBxHJE+t17hrF0ykYJEhiLF+VtGh4/8UNsuLWhjDCVC4Z6DBA8pKWdVQKk/zPnhyX2eeRKdSg9W
        YT2faeWRZjg8G2ocguQ9fBkJpNClODeD1dTyCU5B3BoX+SIuAmVcG+2Hz8vrWyGli0h/ivFRWySN/Ra5VnqSSX4LW+RU2EzqyZp0
        XfSdzVmxBa6siUgIziWXMubJbeAnEtQbRx6DHev/LBoLtFhNld0JAFuZQCtq6gED8Ba1RnwAGIMLNZDCDckmuifG8AQLT6hULLy/
        AnRBkc2XO0/IhvRHHbLxuNjd75we4Wa30zla2SYcJD7cYFh9vWPze2/vB1BLAwQUAAAACABXuH1ds+8qCBoBAADfAQAAEAAAAHdv
        cmQvaGVhZGVyMS54bWyNkctOwzAQRfd8RTT71CkLhKwkFRSKKqGA1NK9cSaNhV+y3YT+Pc6jXcCGzbWtmXvmapyvvpVMOnReGF3A
        cpFBgpqbWuhjAR/7TXoPiQ9M10wajQWc0cOqvMl72tYuiWbtaV9AG4KlhHjeomJ+YSzqWGuMUyzEpzuS3rjaOsPR+8hWktxm2R1R
        TGiYMYr/h6OY+zrZlBtlWRCfQopwHlkXTG/9H44S3BlvmrCIPmKaRnAcE0XnMvuVbdcyixdaV8DJaTqD0itoCEA7JaGMq7CjvLvx
        2IWzxKSnHZMFVENyCaTMybVjkukumT5eelGnL49z61wOQwrqLeNx9dahR9chlOu3arN9eq7224fXZH0YDGGyTXNGjf9T/gBQSwME
        FAAAAAAAV7h9XVjdXp8ACAAAAAgAABUAAAB3b3JkL21lZGlhL2ltYWdlMS5wbmcAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRob
        HB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVm
        Z2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTlJWWl5iZmpucnZ6foKGio6SlpqeoqaqrrK2ur7Cx
        srO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3+Dh4uPk5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8
        /f7/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZH
        SElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGS
        k5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd
        3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJico
        KSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9AQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJz
        dHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+
        v8DBwsPExcbHyMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6err7O3u7/Dx8vP09fb3+Pn6+/z9/v8AAQIDBAUGBwgJ
        CgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNU
        VVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTlJWWl5iZmpucnZ6f
        oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3+Dh4uPk5ebn6Onq
        6+zt7u/w8fLz9PX29/j5+vv8/f7/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1
        Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+A
        gYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrL
        zM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8QERITFBUW
        FxgZGhscHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9AQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2Bh
        YmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqus
        ra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6err7O3u7/Dx8vP09fb3
        +Pn6+/z9/v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFC
        Q0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yN
        jo+QkZKTlJWWl5iZmpucnZ6foKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P0NHS09TV1tfY
        2drb3N3e3+Dh4uPk5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj
        JCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1u
        b3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5
        uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/1BLAQIU
        AxQAAAAIAFe4fV1/Fgli+wAAAC4CAAATAAAAAAAAAAAAAACAAQAAAABbQ29udGVudF9UeXBlc10ueG1sUEsBAhQDFAAAAAgAV7h9
        XbmBRHGwAAAAKgEAAAsAAAAAAAAAAAAAAIABLAEAAF9yZWxzLy5yZWxzUEsBAhQDFAAAAAgAV7h9XQbco8U9AwAAPAsAABEAAAAA
        AAAAAAAAAIABBQIAAHdvcmQvZG9jdW1lbnQueG1sUEsBAhQDFAAAAAgAV7h9XbPvKggaAQAA3wEAABAAAAAAAAAAAAAAAIABcQUA
        AHdvcmQvaGVhZGVyMS54bWxQSwECFAMUAAAAAABXuH1dWN1enwAIAAAACAAAFQAAAAAAAAAAAAAAgAG5BgAAd29yZC9tZWRpYS9p
        bWFnZTEucG5nUEsFBgAAAAAFAAUAOgEAAOwOAAAAAA==
        """, options: .ignoreUnknownCharacters)!)

    /// Raw DEFLATE from zlib (level 9, with full flushes, so empty stored blocks too) of `deflatedText`.
    static let zlibDeflate = Array(Data(base64Encoded: """
        7My7EYNADEXRVl4BHpqghY2cLSBAfFZYi7BNbWQ0BlUQKb53TugJH+N6RKXyTWjlh8HmJUM2Uqx3nuL+RyNdgdJUubbJZmy8RoK0
        iMiUWBSUOk5E+sL7PO6tLxAcd9xxxx133PEn8AsAAP//KirKTC7NKc1VKMssSUxVyE9TSFQoTs3LzC9SSM1Lz8xLTS3SUYg6vAeo
        LENPISQjVaGwNDM5WyGpKL88TyEtv0IhqzS3oFghvyy1SKEEKJ2TWFWpkJKfrqfgXFo0avio4aOGjxo+avio4dQ1XFFD38zWxTso
        MiE9r1RJ08DcztUnOCoxI79MWcvQwt7NNyQ6KbOgXEXbyNLB3S80JjmrsEJVx9jK0cM/LDYlu6hSTdfE2skzIDwuNae4Sl3P1MbZ
        KzAiPi23ZGibDAAAAP//S88rVdI0MLdz9QmOSszIL1PWMrSwd/MNiU7KLChX0TaydHD3C41JziqsUNUxtnL08A+LTckuqlTTNbF2
        8gwIj0vNKa5S1zO1cfYKjIhPyy1R1NA3s3XxDopMSB81edTkUZNHTR41edTkUZNHTR41edRkkk0GAA==
        """, options: .ignoreUnknownCharacters)!)

    /// What `zlibDeflate` decodes to.
    static var deflatedText: [UInt8] {
        let sentence = "The quick brown fox jumps over the lazy dog. Curriculum vitae of a senior engineer, Zürich. "
        var text = String(repeating: sentence, count: 40)
        for index in 0..<3000 { text.unicodeScalars.append(Unicode.Scalar(UInt8(33 + (index * 7) % 90))) }
        return Array(text.utf8)
    }

    /// A raw DEFLATE stream of `count` zero bytes in one fixed-Huffman block: a literal, then matches of
    /// 258 at distance 1 (about 160:1; a bomb need not be clever when the sizes lie).
    static func deflatedZeros(_ count: Int) -> [UInt8] {
        var writer = BitWriter()
        writer.write(1, bits: 1)  // final block
        writer.write(1, bits: 2)  // fixed Huffman
        writer.writeCode(0b0011_0000, length: 8)  // literal 0
        var remaining = count - 1
        while remaining >= 258 {
            writer.writeCode(0b1100_0101, length: 8)  // length symbol 285 = 258
            writer.writeCode(0, length: 5)  // distance 1
            remaining -= 258
        }
        while remaining > 0 {
            writer.writeCode(0b0011_0000, length: 8)
            remaining -= 1
        }
        writer.writeCode(0, length: 7)  // end of block
        return writer.finished
    }

    struct BitWriter {
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var count = 0

        /// Writes a value's bits least significant first (header fields, extra bits).
        mutating func write(_ value: UInt32, bits: Int) {
            for bit in 0..<bits { push((value >> UInt32(bit)) & 1) }
        }

        /// Writes a Huffman code most significant bit first, as DEFLATE packs them.
        mutating func writeCode(_ code: UInt32, length: Int) {
            for bit in stride(from: length - 1, through: 0, by: -1) { push((code >> UInt32(bit)) & 1) }
        }

        private mutating func push(_ bit: UInt32) {
            buffer |= bit << UInt32(count)
            count += 1
            if count == 8 {
                bytes.append(UInt8(buffer))
                buffer = 0
                count = 0
            }
        }

        var finished: [UInt8] { count > 0 ? bytes + [UInt8(buffer)] : bytes }
    }

    /// A ZIP archive with hand-set directory fields: each entry's data, method and the sizes it *claims*.
    static func zip(_ entries: [(name: String, data: [UInt8], method: UInt16, crc: UInt32, compressed: Int, uncompressed: Int, flags: UInt16)]) -> [UInt8] {
        var out: [UInt8] = []
        var directory: [UInt8] = []
        func le16(_ value: Int, _ into: inout [UInt8]) { into += [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF)] }
        func le32(_ value: Int, _ into: inout [UInt8]) { for shift in [0, 8, 16, 24] { into.append(UInt8((value >> shift) & 0xFF)) } }
        for entry in entries {
            let offset = out.count
            let name = Array(entry.name.utf8)
            le32(0x0403_4B50, &out); le16(20, &out); le16(Int(entry.flags), &out); le16(Int(entry.method), &out)
            le16(0, &out); le16(0x21, &out); le32(Int(entry.crc), &out); le32(entry.compressed, &out); le32(entry.uncompressed, &out)
            le16(name.count, &out); le16(0, &out)
            out += name + entry.data
            le32(0x0201_4B50, &directory); le16(20, &directory); le16(20, &directory); le16(Int(entry.flags), &directory)
            le16(Int(entry.method), &directory); le16(0, &directory); le16(0x21, &directory); le32(Int(entry.crc), &directory)
            le32(entry.compressed, &directory); le32(entry.uncompressed, &directory); le16(name.count, &directory)
            le16(0, &directory); le16(0, &directory); le16(0, &directory); le16(0, &directory); le32(0, &directory)
            le32(offset, &directory)
            directory += name
        }
        let directoryOffset = out.count
        out += directory
        le32(0x0605_4B50, &out); le16(0, &out); le16(0, &out); le16(entries.count, &out); le16(entries.count, &out)
        le32(directory.count, &out); le32(directoryOffset, &out); le16(0, &out)
        return out
    }

    /// A one-page PDF whose trailer points at a Standard security handler (RC4, revision 2) with an owner
    /// and user password that the empty password does not open: poppler says "Incorrect password".
    static func encryptedPDF() -> [UInt8] {
        pdf(objects: [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            stream("BT /F1 12 Tf 72 700 Td (Secret text) Tj ET"),
            "<< /Filter /Standard /V 1 /R 2 /O <\(String(repeating: "11", count: 32))> /U <\(String(repeating: "22", count: 32))> /P -44 >>",
        ], trailer: "/Encrypt 6 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]")
    }

    /// A valid PDF whose only page draws nothing: no text layer, like a scan.
    static func imageOnlyPDF() -> [UInt8] {
        pdf(objects: [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            stream("0 0 1 rg 72 72 200 200 re f"),
        ], trailer: "")
    }

    static func stream(_ content: String) -> String {
        "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream"
    }

    static func pdf(objects: [String], trailer: String) -> [UInt8] {
        var out = Array("%PDF-1.4\n".utf8)
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(out.count)
            out += Array("\(index + 1) 0 obj\n\(object)\nendobj\n".utf8)
        }
        let xref = out.count
        out += Array("xref\n0 \(objects.count + 1)\n0000000000 65535 f \n".utf8)
        for offset in offsets { out += Array((String(format: "%010d", offset) + " 00000 n \n").utf8) }
        out += Array("trailer\n<< /Size \(objects.count + 1) /Root 1 0 R \(trailer) >>\nstartxref\n\(xref)\n%%EOF\n".utf8)
        return out
    }

    /// The start of an OLE compound file holding an "EncryptionInfo" stream: Office's password-protected DOCX.
    static func encryptedOfficeFile() -> [UInt8] {
        var bytes: [UInt8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] + [UInt8](repeating: 0, count: 504)
        bytes += "EncryptionInfo".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        bytes += [UInt8](repeating: 0, count: 512)
        return bytes
    }

    /// Deterministic pseudo-random bytes (xorshift), for "binary garbage".
    static func garbage(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }
}

/// Whether poppler's pdftotext is on this machine (the PDF tests need it; the install script adds it).
let pdftotextInstalled: Bool = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return (path.split(separator: ":") + ["/usr/bin"]).contains { FileManager.default.isExecutableFile(atPath: "\($0)/pdftotext") }
}()
