import ATSDocuments
import Foundation

/// The repository's reference data, shared by the parser tests.
let referenceDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Data/reference").path

let sharedTaxonomy: CVTaxonomy = try! CVTaxonomy(referenceDirectory: referenceDirectory)

/// 15 June 2025, so "present" means the same thing in every run.
let fixedNow = Date(timeIntervalSince1970: 1_749_945_600)

/// Realistic CVs in the layouts agencies receive.
enum SampleCVs {
    /// Headed sections, contact lines under the name, a skills list, English.
    static let headed = """
        Jane Doe
        Senior Backend Engineer
        Zurich, Switzerland
        jane.doe@gmail.example | +41 79 123 45 67
        linkedin.com/in/janedoe

        PROFILE
        Senior Backend Engineer with 9 years of experience building distributed systems and REST APIs for fintech.
        Comfortable leading small teams; strong communication and mentoring.

        EXPERIENCE
        Senior Backend Engineer, Acme Payments AG, Zurich
        03/2019 – present
        • Designed microservices in Go and Kotlin on Kubernetes (AWS)
        • Introduced event sourcing and PostgreSQL logical replication
        Software Engineer, Globex GmbH, Munich
        09/2015 – 02/2019
        • Built Spring Boot services and a React front end
        • Ran the CI/CD pipeline on GitLab CI

        EDUCATION
        MSc Computer Science
        ETH Zurich, 2013 – 2015
        BSc Computer Science
        University of Bern, 2010 – 2013

        SKILLS
        Languages: Go, Kotlin, Java, Python, SQL, C++
        Tools: Docker, Kubernetes, Terraform, Grafana, Git
        Methods: Scrum, TDD, Domain-Driven Design

        LANGUAGES
        English (C2), German (C1), French (B2)
        """

    /// A "Name:" form, as recruiters' own templates and some job boards produce.
    static let form = """
        CURRICULUM VITAE

        Name: Thomas Müller
        Date of birth: 12.03.1988
        Address: Bahnhofstrasse 12, 8001 Zürich
        Phone: 079 555 12 34
        E-mail: thomas.mueller@bluewin.example
        Position: Data Scientist

        Professional Experience
        2018 - 2024   Data Scientist, Swiss Re, Zurich
        2014 - 2018   Data Analyst, Credit Suisse, Zurich

        Education
        2012 - 2014   Master of Science in Statistics, University of Zurich
        2009 - 2012   Bachelor of Science in Mathematics, ETH Zurich

        IT Skills
        Python (pandas, scikit-learn), R, SQL, Tableau, Machine Learning, Apache Spark

        Languages
        German (native), English (fluent), French (intermediate)
        """

    /// A one-line contact header with bullets, no headings for skills: a designer's CV.
    static let oneLine = """
        MARIA GARCIA
        Product Designer • Lisbon & Remote • maria.garcia@outlook.example • +351 912 345 678
        I design calm, accessible interfaces. 6+ years of experience in UX research, prototyping and design systems,
        working daily in Figma and Storybook. Fluent in Spanish and English, conversational Portuguese.

        Work
        Product Designer — Shopwave (2021–present)
        UX/UI Designer — Brightlabs (2018–2021)

        Education
        BA Graphic Design, Universidad Complutense de Madrid (2014–2018)
        """

    /// French, with the surname in capitals and headings in French.
    static let french = """
        DUPONT Jean
        Développeur Backend Senior
        12 rue de la Paix, 75002 Paris, France
        Tél. : +33 6 12 34 56 78
        jean.dupont@orange.example

        Profil
        Développeur backend avec 8 ans d'expérience en Java et Spring Boot.

        Expériences professionnelles
        2019 – aujourd'hui : Développeur Backend Senior, BNP Paribas, Paris
        2016 – 2019 : Ingénieur Logiciel, Capgemini, Lyon

        Formation
        Diplôme d'ingénieur en Informatique, INSA Lyon, 2016

        Compétences
        Java, Spring Boot, Kafka, Docker, PostgreSQL, Agile, esprit d'équipe

        Langues
        Français (langue maternelle), Anglais (courant), Allemand (notions)
        """

    /// German, "Persönliche Daten" as a table turned into tab-separated lines (what our DOCX reader emits).
    static let german = """
        Lebenslauf

        Persönliche Daten
        Vorname\tAnna
        Nachname\tSchneider
        Wohnort\tMünchen
        Telefon\t+49 151 23456789
        E-Mail\tanna.schneider@web.example

        Berufserfahrung
        seit 04/2020\tTeamleiterin Softwareentwicklung, Siemens AG, München
        10/2015 – 03/2020\tSoftwareentwicklerin, SAP SE, Walldorf

        Ausbildung
        Master of Science Informatik, Technische Universität München, 2015

        Kenntnisse
        Java, TypeScript, Angular, SAP, Scrum, Führungskompetenz

        Sprachen
        Deutsch (Muttersprache), Englisch (verhandlungssicher)
        """

    /// Everything on one pipe-separated line, dates in brackets, a degree with honours.
    static let pipes = """
        Jane Smith | Senior Software Engineer | London, UK | jane.smith@mail.example | +44 7911 123456
        SUMMARY
        Backend engineer who loves Rust and distributed systems.
        WORK EXPERIENCE
        Acme Corp — Senior Engineer (Jan 2018 – Present)
        - Java (5 years), Python (3 years)
        Initech — Engineer (Sep 2014 – Dec 2017)
        EDUCATION
        2008 – 2012: BEng (Hons) Mechanical Engineering, University of Bristol
        Languages: Fluent English, Native Spanish, Basic German
        """

    /// The Europass layout: capitalised headings, dates before titles, an address with a postcode, a city the
    /// taxonomy does not know.
    static let europass = """
        PERSONAL INFORMATION
        Marco Rossi
        Via Roma 1, 6900 Lugano, Switzerland
        +41 91 123 45 67
        marco.rossi@ticino.example
        Nationality Italian | Date of birth 01/02/1990

        WORK EXPERIENCE
        01/2016–Present   Financial Controller
        Banca Esempio SA, Lugano
        09/2012–12/2015   Accountant
        KPMG, Milan

        EDUCATION AND TRAINING
        2009–2012   Laurea in Economia (Bachelor), Università Bocconi
        MOTHER TONGUE(S) Italian
        OTHER LANGUAGE(S) English C1, German B2, French B1
        DIGITAL SKILLS Microsoft Excel, SAP, Power BI, IFRS, Budgeting
        """

    /// A compact French CV with "LABEL : values" lines.
    static let compactFrench = """
        Résumé
        Sophie Martin
        sophie.martin@free.example • 06 12 34 56 78 • Bordeaux
        Chef de projet digital — 10 ans d'expérience
        COMPÉTENCES : Gestion de projet, Scrum, Jira, Confluence, SEO, Google Analytics
        LANGUES : Anglais courant, Espagnol intermédiaire
        FORMATION : Master Marketing Digital, KEDGE Business School (2012)
        """
}
