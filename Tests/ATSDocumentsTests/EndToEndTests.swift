import ATSDocuments
import ATSDomain
import Foundation
import Testing

/// Candidates as the demo agency generates them, turned into real files, extracted and parsed back: what the
/// ingest job does with an uploaded CV.
@Suite("CV files end to end")
struct EndToEndTests {
    static let candidates: [JSONObject] = [
        [
            "firstName": .string("Oliver"), "lastName": .string("Bennett"), "email": .string("oliver.bennett@outlook.example"),
            "phone": .string("+44 7700 900123"), "currentTitle": .string("Senior Site Reliability Engineer"),
            "currentLocation": .string("Manchester, United Kingdom"), "experienceYears": .int(11),
            "summary": .string("Experienced Senior Site Reliability Engineer based in Manchester with 11 years in the field. Core strengths include Observability, Infrastructure as Code and Distributed Systems. Colleagues describe them as strong in communication and mentoring."),
            "toolsAndPlatforms": .array([.string("Kubernetes"), .string("Terraform"), .string("Prometheus"), .string("Grafana")]),
            "programmingLanguages": .array([.string("Go"), .string("Python"), .string("Bash")]),
            "methodologies": .array([.string("DevOps"), .string("GitOps")]),
            "spokenLanguages": .array([.string("English"), .string("French")]),
            "education": .array([.object(["degree": .string("MSc"), "fieldOfStudy": .string("Computer Science"), "institution": .string("University of Manchester"), "startYear": .int(2011), "endYear": .int(2013)])]),
        ],
        [
            "firstName": .string("Camille"), "lastName": .string("Lefèvre"), "email": .string("camille.lefevre@orange.example"),
            "phone": .string("+33 6 12 34 56 78"), "currentTitle": .string("Développeuse Backend Senior"),
            "currentLocation": .string("Lyon, France"), "experienceYears": .int(7),
            "summary": .string("Développeuse Backend Senior avec 7 ans d'expérience, dernièrement dans le secteur bancaire. Ses principales compétences sont Java, Spring Boot et PostgreSQL."),
            "frameworks": .array([.string("Spring Boot"), .string("Hibernate")]),
            "programmingLanguages": .array([.string("Java"), .string("Kotlin"), .string("SQL")]),
            "softSkills": .array([.string("Teamwork")]),
            "spokenLanguages": .array([.string("French"), .string("English"), .string("Spanish")]),
            "education": .array([.object(["degree": .string("Master"), "fieldOfStudy": .string("Informatique"), "institution": .string("Université Claude Bernard Lyon 1"), "startYear": .int(2014), "endYear": .int(2016)])]),
        ],
        [
            "firstName": .string("Lukas"), "lastName": .string("Hofer"), "email": .string("lukas.hofer@gmx.example"),
            "phone": .string("+43 664 1234567"), "currentTitle": .string("Senior Datenanalyst"),
            "currentLocation": .string("Vienna, Austria"), "experienceYears": .int(9),
            "summary": .string("Senior Datenanalyst aus Wien; bringt 9 Jahre Berufserfahrung mit, zuletzt in der Branche Versicherungen."),
            "technicalSkills": .array([.string("Data Analysis"), .string("Statistics"), .string("Data Visualization")]),
            "toolsAndPlatforms": .array([.string("Power BI"), .string("Snowflake")]),
            "spokenLanguages": .array([.string("German"), .string("English")]),
            "education": .array([.object(["degree": .string("Master of Science"), "fieldOfStudy": .string("Statistik"), "institution": .string("Universität Wien"), "startYear": .int(2012), "endYear": .int(2014)])]),
        ],
    ]

    enum Kind: String, CaseIterable { case pdf, docx, rtf, text }

    static func file(_ lines: [String], _ kind: Kind) -> ([UInt8], DocumentFormat) {
        switch kind {
        case .pdf: (SampleDocuments.pdf(lines: lines), .pdf)
        case .docx: (SampleDocuments.docx(paragraphs: lines), .docx)
        case .rtf: (Array(SampleDocuments.rtf(paragraphs: lines).utf8), .rtf)
        case .text: (Array(lines.joined(separator: "\n").utf8), .text)
        }
    }

    @Test("Every generated CV parses back to its candidate's fields", arguments: Kind.allCases)
    func roundTrip(kind: Kind) async throws {
        try #require(kind != .pdf || pdftotextInstalled, "pdftotext is not installed (apt-get install poppler-utils)")
        let parser = CVParser(taxonomy: sharedTaxonomy)
        for candidate in Self.candidates {
            let lines = SampleDocuments.cvLines(candidate: candidate, now: fixedNow)
            let (bytes, format) = Self.file(lines, kind)
            let text = try await TextExtractor.extract(bytes: bytes, format: format)
            let cv = parser.parse(text, now: fixedNow)
            let fields = cv.candidateFields
            for key in ["firstName", "lastName", "email", "phone", "currentTitle", "currentLocation", "experienceYears", "spokenLanguages", "education"] {
                #expect(fields[key] == candidate[key], "\(kind) \(candidate["lastName"]!.stringValue!): \(key)")
            }
            for category in CVTaxonomy.standardCategories {
                let expected = Set(candidate[category]?.stringArray ?? [])
                let found = Set(fields[category]?.stringArray ?? [])
                #expect(found.isSuperset(of: expected), "\(kind): \(category)")
            }
            #expect(cv.overallConfidence > 0.75, "\(kind): \(cv.overallConfidence)")
        }
    }

    @Test("The parse result is small and valid JSON text")
    func jsonText() throws {
        let parser = CVParser(taxonomy: sharedTaxonomy)
        let cv = parser.parse(SampleDocuments.cvLines(candidate: Self.candidates[0], now: fixedNow).joined(separator: "\n"), now: fixedNow)
        let text = JSONCoding.encode(cv.json)
        let decoded = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(decoded?["overall"] as? Double == ParsedCV.rounded(cv.overallConfidence))
        #expect(text.utf8.count < 4_000)
    }
}
