import Foundation

/// The small, human-editable reference data in `Data/reference` (names, places, skills taxonomy,
/// role families, companies, languages, text templates). The demo agency is generated from it,
/// and search reads the skills taxonomy's synonyms, so it is public and loaded once.
public struct ReferenceData: Sendable {
    /// First and last names by language code (`en`, `fr`, `de`).
    public let names: [String: NamePool]
    public let countries: [Country]
    public let skills: SkillTaxonomy
    public let seniorities: [Seniority]
    public let families: [RoleFamily]
    public let companies: Companies
    public let languages: SpokenLanguages
    public let texts: Texts

    /// The languages candidates are generated in; every language-keyed table must cover them.
    public static let languageCodes = ["en", "fr", "de"]

    /// The files `load(from:)` reads; a directory holding them all is a reference directory.
    public static let fileNames = [
        "names.json", "places.json", "skills.json", "roles.json", "companies.json", "languages.json", "texts.json",
    ]

    public init(
        names: [String: NamePool], countries: [Country], skills: SkillTaxonomy, seniorities: [Seniority],
        families: [RoleFamily], companies: Companies, languages: SpokenLanguages, texts: Texts
    ) {
        self.names = names
        self.countries = countries
        self.skills = skills
        self.seniorities = seniorities
        self.families = families
        self.companies = companies
        self.languages = languages
        self.texts = texts
    }

    /// Reads and checks every file of `directory`; a broken cross-reference (a family skill that
    /// the taxonomy lacks, a template with an unknown placeholder) fails here, not mid-generation.
    public static func load(from directory: URL) throws -> ReferenceData {
        func decode<T: Decodable>(_ type: T.Type, _ file: String) throws -> T {
            let url = directory.appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw DemoError(.referenceData, "cannot read \(url.path)")
            }
            do {
                return try JSONDecoder().decode(T.self, from: data)
            } catch {
                throw DemoError(.referenceData, "\(file): \(describe(error))")
            }
        }
        struct Places: Decodable { let countries: [Country] }
        struct Roles: Decodable {
            let seniorities: [Seniority]
            let families: [RoleFamily]
        }
        let roles = try decode(Roles.self, "roles.json")
        let data = ReferenceData(
            names: try decode([String: NamePool].self, "names.json"),
            countries: try decode(Places.self, "places.json").countries,
            skills: try decode(SkillTaxonomy.self, "skills.json"),
            seniorities: roles.seniorities,
            families: roles.families,
            companies: try decode(Companies.self, "companies.json"),
            languages: try decode(SpokenLanguages.self, "languages.json"),
            texts: try decode(Texts.self, "texts.json")
        )
        try data.check()
        return data
    }

    /// Finds `Data/reference`: `ATS_REFERENCE_DIR`, then next to the running executable
    /// (`.build/<triple>/<config>/ats` in a checkout, `<prefix>/bin/ats` with `<prefix>/share/ats/reference`
    /// when installed), then the current directory's `Data/reference`.
    public static func locate(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) -> URL? {
        var candidates: [URL] = []
        if let explicit = environment["ATS_REFERENCE_DIR"], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit))
        }
        var executables: [URL] = []
        if let url = Bundle.main.executableURL { executables.append(url) }
        if let first = CommandLine.arguments.first, !first.isEmpty {
            executables.append(URL(fileURLWithPath: first, relativeTo: URL(fileURLWithPath: currentDirectory)))
        }
        for executable in executables {
            for variant in [executable, executable.resolvingSymlinksInPath()] {
                let folder = variant.deletingLastPathComponent()
                candidates.append(folder.appendingPathComponent("../../../Data/reference").standardizedFileURL)
                candidates.append(folder.appendingPathComponent("../../Data/reference").standardizedFileURL)
                candidates.append(folder.appendingPathComponent("../share/ats/reference").standardizedFileURL)
            }
        }
        candidates.append(URL(fileURLWithPath: currentDirectory).appendingPathComponent("Data/reference"))
        return candidates.first(where: isReferenceDirectory)
    }

    /// Whether `url` is a directory holding every reference file.
    public static func isReferenceDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue
        else { return false }
        return fileNames.allSatisfy { FileManager.default.fileExists(atPath: url.appendingPathComponent($0).path) }
    }

    public func family(id: String) -> RoleFamily? { families.first { $0.id == id } }

    /// Cross-file checks, so a hand edit that breaks generation is reported with its file.
    func check() throws {
        var problems: [String] = []
        for code in Self.languageCodes {
            if (names[code]?.first.isEmpty ?? true) || (names[code]?.last.isEmpty ?? true) {
                problems.append("names.json: no first or last names for \(code)")
            }
            if !countries.contains(where: { $0.cities.contains { $0.languages.contains(code) } }) {
                problems.append("places.json: no city speaks \(code)")
            }
            if languages.native[code] == nil { problems.append("languages.json: no native name for \(code)") }
        }
        for country in countries {
            if country.cities.isEmpty || country.phonePatterns.isEmpty || country.emailDomains.isEmpty
                || country.universities.isEmpty || country.workPermits.isEmpty
            {
                problems.append("places.json: \(country.code) lacks cities, phone patterns, domains, universities or permits")
            }
            if companies.legalForms[country.code]?.isEmpty ?? true {
                problems.append("companies.json: no legal forms for \(country.code)")
            }
        }
        if seniorities.isEmpty { problems.append("roles.json: no seniorities") }
        if families.isEmpty { problems.append("roles.json: no families") }
        for family in families {
            for code in Self.languageCodes {
                for seniority in seniorities where family.titles[code]?[seniority.id]?.isEmpty ?? true {
                    problems.append("roles.json: \(family.id) has no \(code) titles for \(seniority.id)")
                }
                if family.fieldsOfStudy[code]?.isEmpty ?? true {
                    problems.append("roles.json: \(family.id) has no \(code) fields of study")
                }
            }
            for (field, names) in family.skills.sorted(by: { $0.key < $1.key }) {
                guard let category = skills.category(field) else {
                    problems.append("roles.json: \(family.id) names unknown skill category \(field)")
                    continue
                }
                for name in names where !category.contains(name) {
                    problems.append("roles.json: \(family.id) skill \(name) is not in skills.json \(field)")
                }
            }
            for field in ["technicalSkills", "toolsAndPlatforms", "softSkills", "methodologies"]
            where family.skills[field]?.isEmpty ?? true {
                problems.append("roles.json: \(family.id) needs at least one \(field) skill")
            }
        }
        for industry in companies.industries {
            for id in industry.families where family(id: id) == nil {
                problems.append("companies.json: industry \(industry.name) names unknown family \(id)")
            }
        }
        do {
            _ = try CompiledTexts(self)
        } catch let error as DemoError {
            problems.append(error.message)
        }
        if !problems.isEmpty {
            throw DemoError(.referenceData, problems.joined(separator: "; "))
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing \(key.stringValue) at \(path(context.codingPath))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            "\(context.debugDescription) at \(path(context.codingPath))"
        default:
            "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
}

// MARK: Files

public struct NamePool: Sendable, Decodable {
    public let first: [String]
    public let last: [String]
}

public struct Country: Sendable, Decodable {
    /// ISO 3166 alpha-2.
    public let code: String
    public let name: String
    /// ISO 4217.
    public let currency: String
    /// A mid-level annual salary in `currency`, scaled by family and seniority.
    public let salaryBase: Int
    /// `#` is any digit, `N` a digit from 2 to 9.
    public let phonePatterns: [String]
    public let emailDomains: [String]
    public let workPermits: [String]
    public let universities: [String]
    public let cities: [City]
}

public struct City: Sendable, Decodable {
    public let name: String
    /// The languages (`en`, `fr`, `de`) of candidates who may live there.
    public let languages: [String]
    public let weight: Int
}

public struct Seniority: Sendable, Decodable {
    public let id: String
    public let weight: Int
    public let minYears: Int
    public let maxYears: Int
    public let salaryFactor: Double
}

public struct RoleFamily: Sendable, Decodable {
    public let id: String
    public let name: String
    public let weight: Int
    public let salaryFactor: Double
    /// language -> seniority id -> job titles.
    public let titles: [String: [String: [String]]]
    /// Candidate skill field (`technicalSkills` ...) -> canonical skill names of the taxonomy.
    public let skills: [String: [String]]
    /// language -> fields of study.
    public let fieldsOfStudy: [String: [String]]

    /// The family's skills of one category, in file order.
    public func skills(_ field: String) -> [String] { skills[field] ?? [] }
}

public struct Companies: Sendable, Decodable {
    public let industries: [Industry]
    public let prefixes: [String]
    /// Country code -> legal forms (`AG`, `GmbH`, `Ltd` ...).
    public let legalForms: [String: [String]]
    /// Country code -> how often a client is based there.
    public let countryWeights: [String: Int]
    /// language -> titles of people at clients.
    public let contactTitles: [String: [String]]
}

public struct Industry: Sendable, Decodable {
    public let name: String
    /// language -> name (`fr`, `de`); English is `name`.
    public let localized: [String: String]
    public let weight: Int
    public let suffixes: [String]
    /// Role family ids this industry hires most.
    public let families: [String]

    public func name(in language: String) -> String { localized[language] ?? name }
}

public struct SpokenLanguages: Sendable, Decodable {
    public struct Weighted: Sendable, Decodable {
        public let name: String
        public let weight: Int
    }
    /// language code -> English name of the language (`fr` -> `French`).
    public let native: [String: String]
    public let others: [Weighted]
    /// Country code -> languages commonly spoken there as well.
    public let countryExtras: [String: [String]]
}

/// Text templates with `{placeholder}`s, per language.
public struct Texts: Sendable, Decodable {
    public struct Plural: Sendable, Decodable {
        public let one: String
        public let other: String
    }
    public struct Degrees: Sendable, Decodable {
        public let bachelor: [String]
        public let master: [String]
        public let doctorate: [String]
    }
    public struct Summary: Sendable, Decodable {
        public let opening: [String]
        public let skills: [String]
        public let experience: [String]
        public let soft: [String]
        public let goal: [String]
    }
    public struct JobText: Sendable, Decodable {
        public let intro: [String]
        public let role: [String]
        public let offer: [String]
    }
    public struct NoteTemplate: Sendable, Decodable {
        public let type: String
        public let text: String
        /// Written in this language (`fr`, `de`); English when absent.
        public let language: String?
    }
    public struct Notes: Sendable, Decodable {
        public let candidate: [NoteTemplate]
        public let application: [NoteTemplate]
        public let job: [NoteTemplate]
    }
    public struct Feedback: Sendable, Decodable {
        public let positive: [String]
        public let negative: [String]
    }
    public struct Weighted: Sendable, Decodable {
        public let name: String
        public let weight: Int
    }

    public let years: [String: Plural]
    public let degrees: [String: Degrees]
    public let summary: [String: Summary]
    /// language -> remote mode (`onsite`, `hybrid`, `remote`, `any`) -> phrase.
    public let remote: [String: [String: String]]
    public let job: [String: JobText]
    public let requirements: [String: [String]]
    public let notes: Notes
    public let interviewFeedback: Feedback
    public let rejectionReasons: [String]
    public let withdrawalReasons: [String]
    public let candidateSources: [Weighted]
    public let candidateTags: [String]
    public let clientTags: [String]
    public let jobTags: [String]
    public let projectNames: [String]
    public let meetingLocations: [String]
}

// MARK: Skills taxonomy

/// One skill with the other spellings people use for it (`Kubernetes`: `k8s`, `kube`) and, for
/// soft skills, its name in French and German (`Teamwork`: `esprit d'équipe`, `Teamfähigkeit`).
public struct Skill: Sendable, Hashable, Decodable {
    public let name: String
    public let synonyms: [String]
    /// language code -> name in that language.
    public let localized: [String: String]

    public init(name: String, synonyms: [String], localized: [String: String] = [:]) {
        self.name = name
        self.synonyms = synonyms
        self.localized = localized
    }

    enum CodingKeys: String, CodingKey { case name, synonyms, localized }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        synonyms = try container.decodeIfPresent([String].self, forKey: .synonyms) ?? []
        localized = try container.decodeIfPresent([String: String].self, forKey: .localized) ?? [:]
    }

    /// The name in `language`, or the canonical (English) name.
    public func name(in language: String) -> String { localized[language] ?? name }

    /// The canonical name, its synonyms and its translations, in a stable order.
    public var allNames: [String] {
        var names = [name] + synonyms
        for code in ReferenceData.languageCodes {
            if let local = localized[code], !names.contains(local) { names.append(local) }
        }
        return names
    }
}

/// The skills of one candidate field (`technicalSkills`, `programmingLanguages` ...).
public struct SkillCategory: Sendable {
    public let field: String
    public let skills: [Skill]
    private let index: [String: Int]

    init(field: String, skills: [Skill]) {
        self.field = field
        self.skills = skills
        var index: [String: Int] = [:]
        for (position, skill) in skills.enumerated() { index[skill.name] = position }
        self.index = index
    }

    public func contains(_ name: String) -> Bool { index[name] != nil }
    public func skill(named name: String) -> Skill? { index[name].map { skills[$0] } }
}

/// The skills taxonomy: six categories matching the candidate's skill fields, each skill with
/// its synonyms and abbreviations, so search can expand `k8s` to `Kubernetes`.
public struct SkillTaxonomy: Sendable, Decodable {
    /// The candidate fields, in the order the categories are kept.
    public static let fields = [
        "technicalSkills", "programmingLanguages", "frameworks", "toolsAndPlatforms", "methodologies", "softSkills",
    ]

    public let categories: [SkillCategory]
    /// Lower-cased name or synonym -> canonical name.
    private let canonical: [String: String]

    public init(categories: [SkillCategory]) {
        self.categories = categories
        var canonical: [String: String] = [:]
        for category in categories {
            for skill in category.skills {
                for term in skill.allNames where canonical[term.lowercased()] == nil {
                    canonical[term.lowercased()] = skill.name
                }
            }
        }
        self.canonical = canonical
    }

    public init(from decoder: any Decoder) throws {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        let container = try decoder.container(keyedBy: Key.self)
        var categories: [SkillCategory] = []
        for field in Self.fields {
            let skills = try container.decodeIfPresent([Skill].self, forKey: Key(stringValue: field)) ?? []
            categories.append(SkillCategory(field: field, skills: skills))
        }
        self.init(categories: categories)
    }

    public func category(_ field: String) -> SkillCategory? { categories.first { $0.field == field } }

    /// Every skill of every category, in file order.
    public var allSkills: [Skill] { categories.flatMap(\.skills) }

    /// The canonical skill name for a name or synonym, compared case-insensitively (`K8S` -> `Kubernetes`).
    public func canonicalName(for term: String) -> String? {
        canonical[term.trimmingCharacters(in: .whitespaces).lowercased()]
    }

    /// The skill a name or synonym stands for.
    public func skill(for term: String) -> Skill? {
        guard let name = canonicalName(for: term) else { return nil }
        for category in categories {
            if let skill = category.skill(named: name) { return skill }
        }
        return nil
    }

    /// A skill's name, synonyms and translations, canonical name first; a term the taxonomy
    /// lacks is returned alone.
    public func expansions(of term: String) -> [String] {
        guard let skill = skill(for: term) else { return [term] }
        return skill.allNames
    }
}
