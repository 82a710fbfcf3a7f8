@testable import ATSBlob
import Foundation
import Testing

/// The media type comes from the bytes, never from the uploader.
@Suite("ContentSniffer")
struct ContentSnifferTests {
    /// A ZIP local file header for `name` with `size` stored bytes of zeros.
    static func zipEntry(_ name: String, size: Int = 20) -> [UInt8] {
        func u16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        func u32(_ value: Int) -> [UInt8] { u16(value & 0xFFFF) + u16(value >> 16) }
        let nameBytes = Array(name.utf8)
        return [0x50, 0x4B, 0x03, 0x04] + u16(20) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) + u32(size) + u32(size)
            + u16(nameBytes.count) + u16(0) + nameBytes + [UInt8](repeating: 0, count: size)
    }

    static func type(_ bytes: [UInt8]) -> String { ContentSniffer.contentType(prefix: bytes) }
    static func type(_ text: String) -> String { type(Array(text.utf8)) }

    @Test("documents and images by magic number")
    func magic() {
        #expect(Self.type("%PDF-1.7\n%\u{e2}\u{e3}") == "application/pdf")
        #expect(Self.type([0x0A, 0x0A] + Array("%PDF-1.4".utf8)) == "application/pdf")
        #expect(Self.type("{\\rtf1\\ansi Hello}") == "application/rtf")
        #expect(Self.type([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0]) == "application/msword")
        #expect(Self.type([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]) == "image/png")
        #expect(Self.type([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]) == "image/jpeg")
        #expect(Self.type("GIF89a....") == "image/gif")
        #expect(Self.type(Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8)) == "image/webp")
        #expect(Self.type(Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVEfmt ".utf8)) == "application/octet-stream")
    }

    @Test("Office Open XML told apart by its part names")
    func office() {
        #expect(Self.type(Self.zipEntry("[Content_Types].xml") + Self.zipEntry("_rels/.rels") + Self.zipEntry("word/document.xml"))
            == ContentSniffer.docx)
        #expect(Self.type(Self.zipEntry("[Content_Types].xml") + Self.zipEntry("xl/workbook.xml")) == ContentSniffer.xlsx)
        #expect(Self.type(Self.zipEntry("[Content_Types].xml", size: 3000) + Self.zipEntry("ppt/presentation.xml")) == ContentSniffer.pptx)
        #expect(Self.type(Self.zipEntry("photos/a.jpg") + Self.zipEntry("notes.txt")) == "application/zip")
        #expect(Self.type([0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)) == "application/zip")
        // A DOCX whose first entry is cut by the prefix still shows word/ later on.
        var streamed = Self.zipEntry("[Content_Types].xml")
        streamed[6] = 0x08  // data descriptor: sizes unknown in the header
        #expect(Self.type(streamed + Self.zipEntry("word/document.xml")) == ContentSniffer.docx)
    }

    @Test("text, JSON, HTML and XML; binary when not UTF-8 or with NULs")
    func text() {
        #expect(Self.type("Jane Doe\nSoftware Engineer, Zürich\n") == "text/plain; charset=utf-8")
        #expect(Self.type("\u{FEFF}name,email\nJane,jane@example.com\n") == "text/plain; charset=utf-8")
        #expect(Self.type("  {\"name\": \"Jane\"}") == "application/json")
        #expect(Self.type("[1, 2, 3]") == "application/json")
        #expect(Self.type("[Jane Doe] is a candidate") == "text/plain; charset=utf-8")
        #expect(Self.type("<!DOCTYPE html><html><body>x</body></html>") == "text/html; charset=utf-8")
        #expect(Self.type("<HTML><p>x") == "text/html; charset=utf-8")
        #expect(Self.type("<?xml version=\"1.0\"?><cv/>") == "application/xml")
        #expect(Self.type("<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\">") == "text/html; charset=utf-8")
        #expect(Self.type([0x48, 0x69, 0x00, 0x21]) == "application/octet-stream")
        #expect(Self.type([0x48, 0xC3, 0x28]) == "application/octet-stream")  // invalid UTF-8
        #expect(Self.type([0xED, 0xA0, 0x80]) == "application/octet-stream")  // a surrogate
        #expect(Self.type(Array("Zürich".utf8).dropLast(0) + [0xC3]) == "text/plain; charset=utf-8")  // cut by the prefix
        #expect(Self.type([]) == "application/octet-stream")
        #expect(Self.type(randomBytes(4096)) == "application/octet-stream")
    }

    @Test("what is worth compressing")
    func compressible() {
        for type in ["text/plain; charset=utf-8", "text/html; charset=utf-8", "application/json", "application/xml", "application/rtf", "application/msword", "text/csv"] {
            #expect(ContentSniffer.isCompressible(type), "\(type)")
        }
        for type in ["application/pdf", ContentSniffer.docx, "image/png", "application/zip", "application/octet-stream"] {
            #expect(!ContentSniffer.isCompressible(type), "\(type)")
        }
    }
}
