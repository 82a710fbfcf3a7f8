import ATSDomain
import Foundation

/// Small, valid documents built from text, for the demo agency and tests: real files that `pdftotext`,
/// Word, LibreOffice and our own extractor read back.
public enum SampleDocuments {
    /// A PDF 1.4 of A4 pages: the first line as a 16 pt Helvetica-Bold heading, the rest 10.5 pt Helvetica,
    /// long lines wrapped, 60 lines a page; WinAnsi encoding (characters outside it become "?"),
    /// uncompressed content streams, and a cross-reference table whose offsets are exact.
    public static func pdf(lines: [String]) -> [UInt8] {
        let wrapped = lines.enumerated().flatMap { index, line in index == 0 ? [line] : wrap(line, width: 92) }
        var pages: [[String]] = []
        var current: [String] = []
        for line in wrapped {
            if current.count == 60 {
                pages.append(current)
                current = []
            }
            current.append(line)
        }
        pages.append(current)

        // Objects: 1 catalog, 2 page tree, 3 and 4 fonts, then a page and its content stream per page.
        var objects: [[UInt8]] = []
        func add(_ text: String) { objects.append(Array(text.utf8)) }
        let pageIDs = pages.indices.map { 5 + 2 * $0 }
        add("<< /Type /Catalog /Pages 2 0 R >>")
        add("<< /Type /Pages /Kids [\(pageIDs.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(pages.count) >>")
        add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
        add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
        for (pageIndex, page) in pages.enumerated() {
            var stream: [UInt8] = Array("BT\n".utf8)
            var y = 790.0
            for (lineIndex, line) in page.enumerated() {
                let heading = pageIndex == 0 && lineIndex == 0
                stream += Array("\(heading ? "/F2 16" : "/F1 10.5") Tf 1 0 0 1 56 \(String(format: "%.1f", y)) Tm (".utf8)
                stream += pdfString(line)
                stream += Array(") Tj\n".utf8)
                y -= heading ? 24 : 12.5
            }
            stream += Array("ET\n".utf8)
            let resources = "/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >>"
            add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \(resources) /Contents \(pageIDs[pageIndex] + 1) 0 R >>")
            objects.append(Array("<< /Length \(stream.count) >>\nstream\n".utf8) + stream + Array("endstream".utf8))
        }

        var out: [UInt8] = Array("%PDF-1.4\n".utf8) + [0x25, 0xE2, 0xE3, 0xCF, 0xD3, 0x0A]
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(out.count)
            out += Array("\(index + 1) 0 obj\n".utf8) + object + Array("\nendobj\n".utf8)
        }
        let xref = out.count
        out += Array("xref\n0 \(objects.count + 1)\n0000000000 65535 f \n".utf8)
        for offset in offsets { out += Array((String(format: "%010d", offset) + " 00000 n \n").utf8) }
        out += Array("trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n".utf8)
        return out
    }

    /// A minimal DOCX ([Content_Types].xml, _rels/.rels, word/document.xml; stored, not deflated): one
    /// paragraph per string, the first in bold 16 pt, tabs and line breaks inside a paragraph kept.
    public static func docx(paragraphs: [String], modified: Date = Date(timeIntervalSince1970: 1_704_067_200)) -> [UInt8] {
        let contentTypes = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
            <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
            <Default Extension="xml" ContentType="application/xml"/>\
            <Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>\
            </Types>
            """
        let relationships = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>\
            </Relationships>
            """
        var body = ""
        for (index, paragraph) in paragraphs.enumerated() {
            let properties = index == 0 ? "<w:rPr><w:b/><w:sz w:val=\"32\"/></w:rPr>" : ""
            body += "<w:p>"
            for (lineIndex, line) in paragraph.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if lineIndex > 0 { body += "<w:r><w:br/></w:r>" }
                for (partIndex, part) in line.split(separator: "\t", omittingEmptySubsequences: false).enumerated() {
                    if partIndex > 0 { body += "<w:r>\(properties)<w:tab/></w:r>" }
                    if !part.isEmpty { body += "<w:r>\(properties)<w:t xml:space=\"preserve\">\(xmlEscape(String(part)))</w:t></w:r>" }
                }
            }
            body += "</w:p>"
        }
        let document = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>\(body)\
            <w:sectPr><w:pgSz w:w="11906" w:h="16838"/>\
            <w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134" w:header="709" w:footer="709" w:gutter="0"/>\
            </w:sectPr>\
            </w:body></w:document>
            """
        return ZipFormat.archive([
            ("[Content_Types].xml", Array(contentTypes.utf8)),
            ("_rels/.rels", Array(relationships.utf8)),
            ("word/document.xml", Array(document.utf8)),
        ], modified: modified)
    }

    /// An RTF document, one `\par` per paragraph; non-ASCII characters as `\uN?` escapes.
    public static func rtf(paragraphs: [String]) -> String {
        var out = "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Helvetica;}}\\uc1\\f0\\fs22\n"
        for (index, paragraph) in paragraphs.enumerated() {
            if index == 0 { out += "{\\b\\fs32 " }
            for scalar in paragraph.unicodeScalars {
                switch scalar {
                case "\\": out += "\\\\"
                case "{": out += "\\{"
                case "}": out += "\\}"
                case "\t": out += "\\tab "
                case "\n": out += "\\line "
                default:
                    if scalar.value < 0x80 {
                        out.unicodeScalars.append(scalar)
                    } else {
                        for unit in String(scalar).utf16 { out += "\\u\(Int16(bitPattern: unit))?" }
                    }
                }
            }
            out += index == 0 ? "}\\par\n" : "\\par\n"
        }
        return out + "}\n"
    }

    /// A CV's lines (headed sections, in English) for a candidate shaped like the candidate schema, so the
    /// demo agency's CV files say what its candidates' fields say and the parser can be checked against them.
    /// Experience becomes "YEAR – present" from `experienceYears`, dated from `now`.
    public static func cvLines(candidate: JSONObject, now: Date = Date()) -> [String] {
        func string(_ key: String) -> String? {
            candidate[key]?.stringValue.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        }
        var lines: [String] = []
        lines.append([string("firstName"), string("lastName")].compactMap { $0 }.joined(separator: " "))
        if let title = string("currentTitle") { lines.append(title) }
        if let location = string("currentLocation") { lines.append(location) }
        let contact = [string("email"), string("phone")].compactMap { $0 }
        if !contact.isEmpty { lines.append(contact.joined(separator: " | ")) }
        if let summary = string("summary") {
            lines += ["", "Profile", summary]
        }
        if let years = candidate["experienceYears"]?.intValue, years > 0 {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let start = calendar.component(.year, from: now) - Int(years)
            lines += ["", "Experience", "\(start) – present: \(string("currentTitle") ?? "Employee")"]
        }
        let labels = [
            ("technicalSkills", "Technical skills"), ("programmingLanguages", "Programming languages"), ("frameworks", "Frameworks"),
            ("toolsAndPlatforms", "Tools"), ("methodologies", "Methodologies"), ("softSkills", "Soft skills"),
        ]
        let skillLines = labels.compactMap { key, label -> String? in
            let names = candidate[key]?.stringArray ?? []
            return names.isEmpty ? nil : "\(label): \(names.joined(separator: ", "))"
        }
        if !skillLines.isEmpty { lines += [""] + ["Skills"] + skillLines }
        let languages = candidate["spokenLanguages"]?.stringArray ?? []
        if !languages.isEmpty { lines += ["", "Languages", languages.joined(separator: ", ")] }
        let education = candidate["education"]?.arrayValue?.compactMap(\.objectValue) ?? []
        if !education.isEmpty {
            lines += ["", "Education"]
            for entry in education {
                var degree = entry["degree"]?.stringValue ?? ""
                if let field = entry["fieldOfStudy"]?.stringValue { degree += degree.isEmpty ? field : " in \(field)" }
                var place = entry["institution"]?.stringValue ?? ""
                let years = [entry["startYear"]?.intValue, entry["endYear"]?.intValue].compactMap { $0 }.map(String.init)
                if !years.isEmpty { place += (place.isEmpty ? "" : ", ") + years.joined(separator: " – ") }
                if !degree.isEmpty { lines.append(degree) }
                if !place.isEmpty { lines.append(place) }
            }
        }
        return lines
    }

    static func wrap(_ line: String, width: Int) -> [String] {
        guard line.count > width else { return [line] }
        var lines: [String] = []
        var current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            if !current.isEmpty, current.count + 1 + word.count > width {
                lines.append(current)
                current = ""
            }
            current += current.isEmpty ? String(word) : " " + word
        }
        lines.append(current)
        return lines
    }

    static func pdfString(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for scalar in text.unicodeScalars {
            switch scalar {
            case "(", ")", "\\":
                out += [0x5C, UInt8(scalar.value)]
            case "\t":
                out += [0x20, 0x20, 0x20, 0x20]
            default:
                guard let byte = PlainText.windows1252Byte(scalar), byte >= 0x20 else {
                    out.append(0x3F)
                    continue
                }
                out.append(byte)
            }
        }
        return out
    }

    static func xmlEscape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default:
                // XML 1.0 forbids most control characters; drop them.
                if scalar.value < 0x20, scalar != "\t", scalar != "\n", scalar != "\r" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
