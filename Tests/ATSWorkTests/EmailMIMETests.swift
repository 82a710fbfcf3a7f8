import ATSWork
import Foundation
import Testing

@Suite("Email MIME building")
struct EmailMIMETests {
    func mail(subject: String = "Hello", body: String = "Hi Ada") -> MailMessage {
        MailMessage(
            from: "Acme Talent <jobs@acme.example>", to: "ada@example.org", subject: subject, body: body,
            id: "01HZX3K8Q9V5T7N2M4B6C8D0EF", date: Date(timeIntervalSince1970: 1_715_680_800))
    }

    func text(_ mail: MailMessage) throws -> String { String(decoding: try mail.rfc5322(), as: UTF8.self) }

    @Test func asciiMessageHasEveryHeader() throws {
        let raw = try text(mail())
        let (headers, body) = MIMEDecode.split(raw)
        #expect(headers["Date"] == "Tue, 14 May 2024 10:00:00 +0000")
        #expect(headers["Message-ID"] == "<01HZX3K8Q9V5T7N2M4B6C8D0EF@acme.example>")
        #expect(headers["From"] == "\"Acme Talent\" <jobs@acme.example>")
        #expect(headers["To"] == "<ada@example.org>")
        #expect(headers["Subject"] == "Hello")
        #expect(headers["MIME-Version"] == "1.0")
        #expect(headers["Content-Type"] == "text/plain; charset=utf-8")
        #expect(headers["Content-Transfer-Encoding"] == "7bit")
        #expect(body == "Hi Ada\n")
        // Every line ends in CRLF: no bare LF.
        #expect(!raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    @Test func nonASCIISubjectBecomesEncodedWords() throws {
        let subject = "Entretien pour le poste de Développeur·euse à Zürich — 面试邀请 — " + String(repeating: "é", count: 60)
        let (headers, _) = MIMEDecode.split(try text(mail(subject: subject)))
        let header = try #require(headers["Subject"])
        for word in header.replacingOccurrences(of: "\r\n", with: " ").split(separator: " ") {
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            #expect(word.count <= 75)
        }
        #expect(header.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        #expect(MIMEDecode.encodedWords(header) == subject)
    }

    @Test func subjectCannotCarryAnotherHeader() throws {
        let raw = try text(mail(subject: "Hi\r\nBcc: everyone@example.org\nX-Evil: 1\r"))
        let lines = raw.components(separatedBy: "\r\n")
        #expect(!lines.contains { $0.hasPrefix("Bcc:") || $0.hasPrefix("X-Evil:") })
        #expect(MIMEDecode.split(raw).headers["Subject"] == "Hi Bcc: everyone@example.org X-Evil: 1")
    }

    @Test func nonASCIIBodyIsQuotedPrintable() throws {
        let body = "Grüezi Ada,\n\nVoici l'offre: 100% télétravail = oui.   \n" + String(repeating: "ü", count: 120) + "\n.trailing dot line"
        let raw = try text(mail(body: body))
        let (headers, encoded) = MIMEDecode.split(raw)
        #expect(headers["Content-Transfer-Encoding"] == "quoted-printable")
        for line in encoded.split(separator: "\n") { #expect(line.utf8.count <= 76) }
        #expect(encoded.utf8.allSatisfy { $0 < 128 })
        #expect(MIMEDecode.quotedPrintable(encoded.replacingOccurrences(of: "\n", with: "\r\n")) == body.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n")
    }

    @Test func longASCIILinesAreQuotedPrintableToo() throws {
        let body = String(repeating: "a", count: 1200)
        let (headers, encoded) = MIMEDecode.split(try text(mail(body: body)))
        #expect(headers["Content-Transfer-Encoding"] == "quoted-printable")
        #expect(encoded.split(separator: "\n").allSatisfy { $0.utf8.count <= 76 })
    }

    @Test func dotStuffing() {
        let message = Array("Subject: x\r\n\r\n.hidden\r\n..two\r\n.\r\nend".utf8)
        let stuffed = String(decoding: MIME.dotStuffed(message), as: UTF8.self)
        #expect(stuffed == "Subject: x\r\n\r\n..hidden\r\n...two\r\n..\r\nend\r\n.\r\n")
        #expect(String(decoding: MIME.dotStuffed(Array(".\r\n".utf8)), as: UTF8.self) == "..\r\n.\r\n")
    }

    @Test func addressesSMTPCannotCarryAreRefused() throws {
        for address in ["a b@x.org", "<a@x.org>", "a@x.org>\r\nRCPT TO:<b@y.org", "ä@x.ch", "a,b@x.org", "nobody"] {
            #expect(!MailMessage.isDeliverable(address), "\(address)")
        }
        #expect(MailMessage.isDeliverable("first.last+tag@sub.example.org"))
        var bad = mail()
        bad.to = "a@x.org>\r\nBcc: b@y.org"
        #expect(throws: MailError.self) { try bad.rfc5322() }
    }
}
