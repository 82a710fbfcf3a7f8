import ATSDocuments
import ATSDomain
import Foundation
import Testing

@Suite("CV parser")
struct CVParserTests {
    let parser = CVParser(taxonomy: sharedTaxonomy)

    @Test("The taxonomy loads the reference files: categories, localized names, languages, places, universities")
    func taxonomy() {
        let taxonomy = sharedTaxonomy
        #expect(taxonomy.categories == CVTaxonomy.standardCategories)
        #expect(taxonomy.skills.count > 250)
        #expect(taxonomy.category(of: "Kubernetes") == "toolsAndPlatforms")
        #expect(taxonomy.skills.first { $0.name == "Teamwork" }?.synonyms.contains("esprit d'équipe") == true)
        #expect(taxonomy.languages.contains("Swiss German") && taxonomy.languages.contains("Irish"))
        #expect(taxonomy.places.contains(CVTaxonomy.Place(city: "Zurich", country: "Switzerland")))
        #expect(throws: DocumentError.self) { try CVTaxonomy(referenceDirectory: "/nonexistent") }
    }

    @Test("Headed sections, contact lines under the name (English)")
    func headed() {
        let cv = parser.parse(SampleCVs.headed, now: fixedNow)
        #expect(cv.firstName == "Jane" && cv.lastName == "Doe")
        #expect(cv.email == "jane.doe@gmail.example")
        #expect(cv.phone == "+41 79 123 45 67")
        #expect(cv.city == "Zurich" && cv.country == "Switzerland")
        #expect(cv.currentTitle == "Senior Backend Engineer")
        #expect(cv.yearsOfExperience == 9, "the profile's claim wins over the ranges")
        #expect(cv.skillsByCategory["programmingLanguages"] == ["Go", "Kotlin", "Java", "Python", "SQL", "C++"])
        #expect(Set(cv.skillsByCategory["toolsAndPlatforms"] ?? []).isSuperset(of: ["Kubernetes", "Amazon Web Services", "PostgreSQL", "Docker", "Terraform", "Git"]))
        #expect(Set(cv.skillsByCategory["methodologies"] ?? []).isSuperset(of: ["Scrum", "Test-Driven Development", "Domain-Driven Design"]))
        #expect(cv.skillsByCategory["frameworks"] == ["Spring Boot", "React"])
        #expect(cv.languages == ["English", "German", "French"])
        #expect(cv.education == [
            ParsedCV.Education(degree: "MSc", fieldOfStudy: "Computer Science", institution: "ETH Zurich", startYear: 2013, endYear: 2015),
            ParsedCV.Education(degree: "BSc", fieldOfStudy: "Computer Science", institution: "University of Bern", startYear: 2010, endYear: 2013),
        ])
        #expect(cv.confidence["email"] == 0.95)
        #expect(cv.overallConfidence > 0.75)
    }

    @Test("A \"Name:\" form with a birth date, an address line and ranges in a table-like layout")
    func form() {
        let cv = parser.parse(SampleCVs.form, now: fixedNow)
        #expect(cv.firstName == "Thomas" && cv.lastName == "Müller")
        #expect(cv.confidence["firstName"] == 0.9)
        #expect(cv.email == "thomas.mueller@bluewin.example")
        #expect(cv.phone == "079 555 12 34", "not the birth date 12.03.1988")
        #expect(cv.location == "Zurich, Switzerland", "Zürich on the address line")
        #expect(cv.currentTitle == "Data Scientist")
        #expect(cv.yearsOfExperience == 10, "2014-2018 and 2018-2024 merged")
        #expect(cv.skills.contains("R") && cv.skills.contains("pandas") && cv.skills.contains("scikit-learn") && cv.skills.contains("Apache Spark"))
        #expect(cv.languages == ["German", "English", "French"])
        #expect(cv.education.map(\.degree) == ["Master of Science", "Bachelor of Science"])
        #expect(cv.education.map(\.fieldOfStudy) == ["Statistics", "Mathematics"])
        #expect(cv.education.map(\.institution) == ["University of Zurich", "ETH Zurich"])
        #expect(cv.education.map(\.year) == [2014, 2012])
    }

    @Test("A one-line header with bullets, an all-capitals name, no skills heading")
    func oneLineHeader() {
        let cv = parser.parse(SampleCVs.oneLine, now: fixedNow)
        #expect(cv.firstName == "Maria" && cv.lastName == "Garcia")
        #expect(cv.currentTitle == "Product Designer")
        #expect(cv.email == "maria.garcia@outlook.example")
        #expect(cv.phone == "+351 912 345 678")
        #expect(cv.yearsOfExperience == 6)
        #expect(Set(cv.skills).isSuperset(of: ["UX Research", "Prototyping", "Design Systems", "Figma", "Storybook"]))
        #expect(cv.languages == ["Spanish", "English", "Portuguese"], "\"fluent in\", and a level before the name")
        #expect(cv.education == [ParsedCV.Education(degree: "BA", fieldOfStudy: "Graphic Design", institution: "Universidad Complutense de Madrid", startYear: 2014, endYear: 2018)])
        #expect(cv.city == nil, "Lisbon is not in the taxonomy, and a guess would be worse than nothing")
    }

    @Test("French: surname in capitals first, French headings, \"aujourd'hui\", localized soft skill")
    func french() {
        let cv = parser.parse(SampleCVs.french, now: fixedNow)
        #expect(cv.firstName == "Jean" && cv.lastName == "Dupont")
        #expect(cv.phone == "+33 6 12 34 56 78")
        #expect(cv.location == "Paris, France")
        #expect(cv.currentTitle == "Développeur Backend Senior")
        #expect(cv.yearsOfExperience == 8)
        #expect(Set(cv.skills) == ["Java", "Spring Boot", "Apache Kafka", "Docker", "PostgreSQL", "Agile", "Teamwork"])
        #expect(cv.languages == ["French", "English", "German"])
        #expect(cv.education.first?.degree == "Diplôme d'ingénieur")
        #expect(cv.education.first?.fieldOfStudy == "Informatique")
        #expect(cv.education.first?.institution == "INSA Lyon")
        #expect(cv.education.first?.endYear == 2016)
    }

    @Test("German: a details table (tab-separated), \"seit\", compound job titles")
    func german() {
        let cv = parser.parse(SampleCVs.german, now: fixedNow)
        #expect(cv.firstName == "Anna" && cv.lastName == "Schneider")
        #expect(cv.location == "Munich, Germany")
        #expect(cv.phone == "+49 151 23456789")
        #expect(cv.email == "anna.schneider@web.example")
        #expect(cv.currentTitle == "Teamleiterin Softwareentwicklung")
        #expect(cv.yearsOfExperience == 10, "10/2015 to now (June 2025)")
        #expect(Set(cv.skills) == ["Java", "TypeScript", "Angular", "SAP", "Scrum", "Leadership"])
        #expect(cv.languages == ["German", "English"])
        #expect(cv.education.first == ParsedCV.Education(degree: "Master of Science", fieldOfStudy: "Informatik", institution: "Technische Universität München", endYear: 2015))
    }

    @Test("One pipe-separated header line, bracketed date ranges, a degree with honours")
    func pipes() {
        let cv = parser.parse(SampleCVs.pipes, now: fixedNow)
        #expect(cv.firstName == "Jane" && cv.lastName == "Smith")
        #expect(cv.currentTitle == "Senior Software Engineer")
        #expect(cv.location == "London, United Kingdom")
        #expect(cv.email == "jane.smith@mail.example" && cv.phone == "+44 7911 123456")
        #expect(cv.yearsOfExperience == 11, "\"Java (5 years)\" is not a claim; Sep 2014 to now")
        #expect(cv.skills == ["Rust", "Distributed Systems", "Java", "Python"])
        #expect(cv.languages == ["English", "Spanish", "German"])
        #expect(cv.education == [ParsedCV.Education(degree: "BEng (Hons)", fieldOfStudy: "Mechanical Engineering", institution: "University of Bristol", startYear: 2008, endYear: 2012)])
    }

    @Test("Europass: dates before titles, an unknown city from its postcode, mother tongue")
    func europass() {
        let cv = parser.parse(SampleCVs.europass, now: fixedNow)
        #expect(cv.firstName == "Marco" && cv.lastName == "Rossi")
        #expect(cv.location == "Lugano, Switzerland")
        #expect(cv.confidence["currentLocation"] == 0.55)
        #expect(cv.phone == "+41 91 123 45 67", "not the birth date")
        #expect(cv.currentTitle == "Financial Controller")
        #expect(cv.yearsOfExperience == 13)
        #expect(cv.languages == ["Italian", "English", "German", "French"])
        #expect(cv.skills == ["Microsoft Excel", "SAP", "Power BI", "IFRS", "Budgeting"])
        #expect(cv.education == [ParsedCV.Education(degree: "Laurea", fieldOfStudy: "Economia", institution: "Università Bocconi", startYear: 2009, endYear: 2012)])
    }

    @Test("Compact French: \"LABEL : values\" lines, bullets between contact details")
    func compactFrench() {
        let cv = parser.parse(SampleCVs.compactFrench, now: fixedNow)
        #expect(cv.firstName == "Sophie" && cv.lastName == "Martin")
        #expect(cv.phone == "06 12 34 56 78")
        #expect(cv.location == "Bordeaux, France")
        #expect(cv.currentTitle == "Chef de projet digital")
        #expect(cv.yearsOfExperience == 10)
        #expect(cv.skills == ["Scrum", "Jira", "Confluence", "Search Engine Optimization", "Google Analytics"])
        #expect(cv.languages == ["English", "Spanish"])
        #expect(cv.education == [ParsedCV.Education(degree: "Master", fieldOfStudy: "Marketing Digital", institution: "KEDGE Business School", endYear: 2012)])
    }

    @Test("A sidebar layout through pdftotext: contact column first, then the name, title and body",
          .enabled(if: pdftotextInstalled, "pdftotext is not installed (apt-get install poppler-utils)"))
    func sidebarPDF() async throws {
        let left = ["CONTACT", "jane.doe@gmail.example", "+41 79 123 45 67", "Zurich, Switzerland", "", "TOP SKILLS", "Python", "Kubernetes",
                    "Terraform", "", "LANGUAGES", "English (native)", "German (C1)"]
        let right = ["Jane Doe", "Senior Platform Engineer", "", "PROFILE", "Platform engineer with 8 years of experience",
                     "building internal developer platforms.", "", "EXPERIENCE", "Senior Platform Engineer, Acme AG", "2020 - present",
                     "Platform Engineer, Globex", "2017 - 2020", "", "EDUCATION", "MSc Computer Science, ETH Zurich, 2017"]
        var content = "BT /F1 10 Tf\n"
        for (column, x) in [(left, 40), (right, 220)] {
            for (index, line) in column.enumerated() { content += "1 0 0 1 \(x) \(780 - 14 * index) Tm (\(line)) Tj\n" }
        }
        content += "ET"
        let pdf = Fixtures.pdf(objects: [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            Fixtures.stream(content),
        ], trailer: "")
        let text = try await TextExtractor.extract(bytes: pdf, format: .pdf)
        #expect(text.hasPrefix("CONTACT\njane.doe@gmail.example"), "columns one after the other, not interleaved")
        let cv = parser.parse(text, now: fixedNow)
        #expect(cv.firstName == "Jane" && cv.lastName == "Doe")
        #expect(cv.confidence["firstName"] == 0.7)
        #expect(cv.currentTitle == "Senior Platform Engineer")
        #expect(cv.email == "jane.doe@gmail.example" && cv.phone == "+41 79 123 45 67")
        #expect(cv.location == "Zurich, Switzerland")
        #expect(cv.skills == ["Python", "Kubernetes", "Terraform"])
        #expect(cv.languages == ["English", "German"])
        #expect(cv.yearsOfExperience == 8)
        #expect(cv.education == [ParsedCV.Education(degree: "MSc", fieldOfStudy: "Computer Science", institution: "ETH Zurich", endYear: 2017)])
    }

    @Test("Skills match on word boundaries: C++ is not C, Node.js is not Node, R&D is not R, longest term wins")
    func skillBoundaries() {
        let text = """
            Anna Berg
            Built C++ and C# services, Node.js tooling and ASP.NET sites; led R&D on Objective-C apps with React Native.
            Ran Scrum ceremonies; go-to person for security reviews and go live planning.
            """
        let cv = parser.parse(text, now: fixedNow)
        #expect(Set(cv.skills) == ["C++", "C#", "Node.js", ".NET", "Objective-C", "React Native", "Scrum"])
        let list = parser.parse("Skills: C, R, Go, Swift, security, k8s, ML\nExperience with python and kubernetes", now: fixedNow)
        #expect(Set(list.skills) == ["C", "R", "Go", "Swift", "Information Security", "Kubernetes", "Machine Learning", "Python"])
        let prose = parser.parse("I deliver work in a swift manner and go the extra mile; machine learning enthusiast.", now: fixedNow)
        #expect(prose.skills == ["Machine Learning"])
    }

    @Test("Names: honorifics, particles, post-nominals, capitals, \"Name: Doe, Jane\", email fallback")
    func names() {
        func name(_ text: String) -> String? {
            let cv = parser.parse(text, now: fixedNow)
            return cv.firstName.map { "\($0)|\(cv.lastName ?? "")" }
        }
        #expect(name("Dr. Anna van der Berg, PhD\nData Scientist") == "Anna|van der Berg")
        #expect(name("JOHN O'NEIL\nSales Director") == "John|O'Neil")
        #expect(name("Curriculum Vitae\nJean-Pierre Lefèvre\nConsultant") == "Jean-Pierre|Lefèvre")
        #expect(name("CV - Sarah Connor\nsarah@example.org") == "Sarah|Connor")
        #expect(name("Name: Doe, Jane\nEmail: x@example.org") == "Jane|Doe")
        #expect(name("Prénom : Élodie\nNom : Martin") == "Élodie|Martin")
        #expect(name("Senior Software Engineer\nMachine Learning\nZurich, Switzerland") == nil)
        let fallback = parser.parse("SKILLS\nPython\nContact: mark.twain@example.org", now: fixedNow)
        #expect(fallback.firstName == "Mark" && fallback.lastName == "Twain")
        #expect(fallback.confidence["firstName"] == 0.4)
    }

    @Test("Phones: international, (0), labels; never dates, years, IBANs or postcodes")
    func phones() {
        func phone(_ text: String) -> String? { parser.parse(text, now: fixedNow).phone }
        #expect(phone("Jane Doe\nMobile: +41 (0)79 123 45 67") == "+41 (0)79 123 45 67")
        #expect(phone("Jane Doe\nTel. 0041 44 668 18 00") == "0041 44 668 18 00")
        #expect(phone("Jane Doe\n(415) 555-0134 | jane@example.org") == "(415) 555-0134")
        #expect(phone("Jane Doe\n2015 - 2018 Engineer\n01/2019 – 03/2021 Lead\nIBAN CH93 0076 2011 6238 5295 7\n8001 Zürich") == nil)
        #expect(phone("Jane Doe\nExperience\n2015 – 2018\nPhone: +44 7700 900123") == "+44 7700 900123")
    }

    @Test("Years of experience: explicit claims in three languages, or ranges merged without overlap")
    func experience() {
        func years(_ text: String) -> Int? { parser.parse(text, now: fixedNow).yearsOfExperience }
        #expect(years("Profile\nOver 12 years of professional experience in banking.") == 12)
        #expect(years("Profil\nPlus de 7 ans d'expérience en développement.") == 7)
        #expect(years("Profil\nÜber 15 Jahre Berufserfahrung im Vertrieb.") == 15)
        #expect(years("Experience\nEngineer, A, 2010 – 2015\nLead, B, 2013 – 2018\nConsultant, C, Jan 2020 – Dec 2020") == 9)
        #expect(years("Experience\nMarch 2021 - present  Architect\nSep. 2018 to Feb 2021  Engineer") == 7)
        #expect(years("Experience\n2019-03 – 2021-02 Analyst") == 2)
        #expect(years("Education\nBSc, University of Leeds, 2010 – 2013") == nil, "study years are not work")
        #expect(years("Jane Doe\nBorn 12.03.1988") == nil)
    }

    @Test("Location: labels, known cities with aliases, an unknown city next to a known country, prose")
    func location() {
        func place(_ text: String) -> String? { parser.parse(text, now: fixedNow).location }
        #expect(place("Jane Doe\nLocation: Winterthur, Switzerland") == "Winterthur, Switzerland")
        #expect(place("Jane Doe\nGenève, Suisse") == "Geneva, Switzerland")
        #expect(place("Jane Doe\nBased in Cambridge, USA") == "Cambridge, United States")
        #expect(place("Jane Doe\nProfile\nEngineer based in Amsterdam since 2019.") == "Amsterdam, Netherlands")
        #expect(place("Jane Doe\nEducation\nImperial College London, 2010") == nil, "a university's city is not where the candidate lives")
    }

    @Test("The result maps onto a candidate: schema-shaped fields, confidence, and filling without overwriting")
    func candidateMapping() throws {
        let cv = parser.parse(SampleCVs.headed, now: fixedNow)
        let fields = cv.candidateFields
        #expect(fields["firstName"] == .string("Jane"))
        #expect(fields["currentLocation"] == .string("Zurich, Switzerland"))
        #expect(fields["experienceYears"] == .int(9))
        #expect(fields["spokenLanguages"] == .array([.string("English"), .string("German"), .string("French")]))
        #expect(fields["programmingLanguages"]?.stringArray.first == "Go")
        #expect(fields["education"]?.arrayValue?.first == .object([
            "degree": .string("MSc"), "fieldOfStudy": .string("Computer Science"), "institution": .string("ETH Zurich"),
            "startYear": .int(2013), "endYear": .int(2015),
        ]))
        for key in fields.keys { #expect(cv.confidence[key] != nil, "\(key) has a confidence") }

        let json = cv.json
        #expect(json["fields"]?.objectValue == fields)
        #expect(json["overall"]?.doubleValue == (cv.overallConfidence * 100).rounded() / 100)
        #expect(json["location"] == .object(["city": .string("Zurich"), "country": .string("Switzerland")]))
        // The JSON text is what a document keeps: it must round-trip.
        let text = JSONCoding.encode(json)
        #expect(text.contains("\"fields\"") && text.contains("\"confidence\""))

        let typed: JSONObject = ["firstName": .string("Janet"), "email": .string(""), "technicalSkills": .array([]), "phone": .null]
        let (merged, filled) = cv.filling(typed)
        #expect(merged["firstName"] == .string("Janet"), "a recruiter's value is kept")
        #expect(merged["email"] == .string("jane.doe@gmail.example"))
        #expect(merged["phone"] == .string("+41 79 123 45 67"))
        #expect(filled.contains("email") && filled.contains("technicalSkills") && !filled.contains("firstName"))
        #expect(cv.filling([:], minimumConfidence: 0.9).filled == ["email"])
    }

    @Test("Hostile or odd text never crashes and stays fast: garbage, one huge line, symbols, empty")
    func hostileText() {
        let garbage = String(decoding: Fixtures.garbage(100_000).map { $0 % 95 + 32 }, as: UTF8.self)
        let lines = garbage.split(separator: "~").joined(separator: "\n")
        let clock = ContinuousClock()
        let start = clock.now
        for text in [garbage, lines, String(repeating: "+41 ", count: 20_000), String(repeating: "@", count: 50_000), "", "\n\n\n", String(repeating: "Engineer ", count: 15_000)] {
            let cv = parser.parse(text, now: fixedNow)
            #expect(cv.overallConfidence >= 0 && cv.overallConfidence <= 1)
            if let phone = cv.phone { #expect(Normalize.isPhone(phone)) }
            if let email = cv.email { #expect(Normalize.isEmail(email)) }
        }
        #expect(clock.now - start < .seconds(20))
        #expect(parser.parse("", now: fixedNow).overallConfidence == 0)
    }

    @Test("Throughput on the sample CVs (printed)")
    func throughput() {
        let texts = [SampleCVs.headed, SampleCVs.form, SampleCVs.oneLine, SampleCVs.french, SampleCVs.german]
        let clock = ContinuousClock()
        let start = clock.now
        var parsed = 0
        while clock.now - start < .milliseconds(500) {
            for text in texts { _ = parser.parse(text, now: fixedNow) }
            parsed += texts.count
        }
        let seconds = Double((clock.now - start).components.attoseconds) / 1e18 + Double((clock.now - start).components.seconds)
        print("CV parser: \(Int(Double(parsed) / seconds)) documents/s (debug build)")
        #expect(parsed >= 5)
    }
}
