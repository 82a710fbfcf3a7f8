import ATSDomain
import ATSStore
import Foundation

/// One step of generation: records of one or two kinds, ready for `Store.importRecords`.
struct DemoBatch {
    var records: [Record] = []
    var stageEvents: [StageEvent] = []
    var label: String
}

/// Generates the demo agency phase by phase (clients, projects, jobs, candidates, applications with
/// their interviews, notes), in batches so 100,000 candidates never sit in memory at once. Each phase
/// draws from its own seeded stream: the same seed and `now` give the same records however large the
/// batches are, and more candidates leave the clients and jobs unchanged.
struct DemoGenerator {
    enum Phase { case clients, projects, jobs, candidates, applications, interviews, notes, done }

    struct ClientInfo {
        let id: String
        let name: String
        let country: Int
        let city: String
        let language: String
        let industry: Int
        let created: Int64
        let status: String
        let owner: String
        var projects: [Int] = []
    }

    struct ProjectInfo {
        let id: String
        let client: Int
        let family: Int
        let created: Int64
        let status: String
        let owner: String
    }

    struct JobInfo {
        let id: String
        let client: Int
        let family: Int
        let title: String
        let created: Int64
        /// When the job closed; applications end by then.
        let closed: Int64?
        let status: String
        let openings: Int
        let owner: String
        let hiringManagers: [String]
        let skills: [String]
        let remote: String
        let language: String
        let salary: String
        var applications = 0
        var hires = 0
    }

    struct CandidateInfo {
        let id: String
        let created: Int64
        let family: Int
        let firstName: String
        let city: String
        let title: String
        let topSkills: [String]
        let salary: String
        let language: String
        let remoteMode: String
        let noticeWeeks: Int
        let owner: String
        let available: Bool
    }

    struct ApplicationInfo {
        let id: String
        let candidate: Int
        let job: Int
        let created: Int64
        let owner: String
    }

    let reference: ReferenceData
    let configuration: DemoConfiguration
    let users: DemoUsers
    let texts: CompiledTexts
    let now: Int64
    let start: Int64
    let currentYear: Int
    let stages = defaultPipelineStages

    // Lookup tables built once.
    let familyTable: WeightedTable
    let seniorityTable: WeightedTable
    let cityTables: [String: (places: [(country: Int, city: Int)], table: WeightedTable)]
    let countryCityTables: [WeightedTable]
    let clientCountryTable: WeightedTable
    let industryTable: WeightedTable
    let familyIndustries: [(industries: [Int], table: WeightedTable)]
    let otherLanguagesTable: WeightedTable
    let sourceTable: WeightedTable
    let slugs: [String: [String: String]]
    let technicalFamilies: Set<Int>
    let schemas: [EntityKind: EntitySchema]

    var phase = Phase.clients
    var clients: [ClientInfo] = []
    var projects: [ProjectInfo] = []
    var jobs: [JobInfo] = []
    var candidates: [CandidateInfo] = []
    var candidatesByFamily: [[Int32]]
    var applications: [ApplicationInfo] = []
    var applicationTarget = 0
    var notesMade = 0

    var candidateRandom: DemoRandom
    var applicationRandom: DemoRandom
    var interviewRandom: DemoRandom
    var noteRandom: DemoRandom
    var emails: [String: Int] = [:]
    var phones = Set<String>()
    var pairs = Set<Int64>()
    /// Interview records of the last application batch, emitted as the next batch.
    var pendingInterviews: [Record] = []
    var interviewCount = 0

    init(reference: ReferenceData, configuration: DemoConfiguration, users: DemoUsers) throws {
        try configuration.validate()
        guard !users.recruiters.isEmpty else {
            throw DemoError(.invalidConfiguration, "the demo needs at least one recruiter")
        }
        self.reference = reference
        self.configuration = configuration
        self.users = users
        texts = try CompiledTexts(reference)
        now = Int64(configuration.now.timeIntervalSince1970.rounded(.down))
        start = now - Int64(configuration.historyDays) * 86_400
        currentYear = Int(Timestamp.format(configuration.now).prefix(4)) ?? 2026

        familyTable = WeightedTable(reference.families.map(\.weight))
        seniorityTable = WeightedTable(reference.seniorities.map(\.weight))
        var cityTables: [String: (places: [(country: Int, city: Int)], table: WeightedTable)] = [:]
        for code in ReferenceData.languageCodes {
            var places: [(country: Int, city: Int)] = []
            var weights: [Int] = []
            for (countryIndex, country) in reference.countries.enumerated() {
                for (cityIndex, city) in country.cities.enumerated() where city.languages.contains(code) {
                    places.append((countryIndex, cityIndex))
                    weights.append(city.weight)
                }
            }
            cityTables[code] = (places, WeightedTable(weights))
        }
        self.cityTables = cityTables
        countryCityTables = reference.countries.map { WeightedTable($0.cities.map(\.weight)) }
        clientCountryTable = WeightedTable(reference.countries.map { reference.companies.countryWeights[$0.code] ?? 0 })
        guard !clientCountryTable.isEmpty else {
            throw DemoError(.referenceData, "companies.json: countryWeights names no country of places.json")
        }
        industryTable = WeightedTable(reference.companies.industries.map(\.weight))
        familyIndustries = reference.families.map { family in
            let matching = reference.companies.industries.indices.filter {
                reference.companies.industries[$0].families.contains(family.id)
            }
            let industries = matching.isEmpty ? Array(reference.companies.industries.indices) : matching
            return (industries, WeightedTable(industries.map { reference.companies.industries[$0].weight }))
        }
        otherLanguagesTable = WeightedTable(reference.languages.others.map(\.weight))
        sourceTable = WeightedTable(reference.texts.candidateSources.map(\.weight))
        var slugs: [String: [String: String]] = [:]
        for code in ReferenceData.languageCodes {
            var table: [String: String] = [:]
            for name in (reference.names[code]?.first ?? []) + (reference.names[code]?.last ?? []) {
                table[name] = Self.slug(name, german: code == "de")
            }
            slugs[code] = table
        }
        self.slugs = slugs
        technicalFamilies = Set(reference.families.indices.filter {
            !reference.families[$0].skills("programmingLanguages").isEmpty
                && reference.families[$0].skills("frameworks").count > 0
        })
        var schemas: [EntityKind: EntitySchema] = [:]
        for kind in EntityKind.allCases { schemas[kind] = EntitySchema.of(kind) }
        self.schemas = schemas
        candidatesByFamily = Array(repeating: [], count: reference.families.count)

        let seed = configuration.seed
        candidateRandom = DemoRandom(seed: seed, stream: 4)
        applicationRandom = DemoRandom(seed: seed, stream: 5)
        interviewRandom = DemoRandom(seed: seed, stream: 6)
        noteRandom = DemoRandom(seed: seed, stream: 7)
        candidates.reserveCapacity(configuration.candidates)
    }

    /// The next batch of at most about `limit` records, or nil when the agency is complete.
    mutating func nextBatch(limit: Int) throws -> DemoBatch? {
        let limit = max(1, limit)
        while true {
            switch phase {
            case .clients:
                phase = .projects
                return try makeClients()
            case .projects:
                phase = .jobs
                if configuration.projects > 0 { return try makeProjects() }
            case .jobs:
                phase = .candidates
                if configuration.jobs > 0 { return try makeJobs() }
            case .candidates:
                let remaining = configuration.candidates - candidates.count
                if remaining <= 0 {
                    phase = .applications
                    applicationTarget = plannedApplications()
                    continue
                }
                return try makeCandidates(count: min(limit, remaining))
            case .applications:
                let remaining = applicationTarget - applications.count
                if remaining <= 0 {
                    phase = .notes
                    continue
                }
                let batch = try makeApplications(count: min(limit, remaining))
                if !pendingInterviews.isEmpty { phase = .interviews }
                if batch.records.isEmpty {
                    // No free candidate x job pair could be found: stop here rather than spin.
                    applicationTarget = applications.count
                    continue
                }
                return batch
            case .interviews:
                phase = .applications
                let records = pendingInterviews
                pendingInterviews = []
                return DemoBatch(records: records, label: "interviews")
            case .notes:
                let remaining = configuration.notes - notesMade
                if remaining <= 0 {
                    phase = .done
                    continue
                }
                return try makeNotes(count: min(limit, remaining))
            case .done:
                return nil
            }
        }
    }

    // MARK: Helpers

    func stamp(_ seconds: Int64) -> String { Timestamp.format(Date(timeIntervalSince1970: Double(seconds))) }

    func day(_ seconds: Int64) -> String { String(stamp(seconds).prefix(10)) }

    func makeID(at seconds: Int64, _ random: inout DemoRandom) -> String {
        Identifier.make(at: Date(timeIntervalSince1970: Double(seconds)), using: &random)
    }

    /// The fields plus the read-only ones that `importRecords` cannot derive, after checking that
    /// `validateCreate` accepts them and would change nothing (they are stored as the API would
    /// store them). Validation is most of the cost of a candidate, so past the first 1,000
    /// candidates one in 64 is checked: every candidate comes from the same code, and the tests
    /// validate every record of the default agency.
    func validated(_ kind: EntityKind, _ fields: JSONObject, readOnly: JSONObject = [:], sample: Int = 0) throws
        -> JSONObject
    {
        var output = fields
        if sample < 1_000 || sample % 64 == 0 {
            let normalized: JSONObject
            do {
                normalized = try schemas[kind]!.validateCreate(fields)
            } catch {
                let details = error.errors.map { "\($0.field) \($0.message)" }.joined(separator: "; ")
                throw DemoError(.invalidRecord, "generated \(kind.singular) is invalid: \(details)")
            }
            if normalized != fields {
                let changed = normalized.keys.filter { normalized[$0] != fields[$0] }.sorted()
                throw DemoError(.invalidRecord, "generated \(kind.singular) is not normalized: \(changed)")
            }
        }
        for (key, value) in readOnly { output[key] = value }
        return output
    }

    /// A time in `low...high`, `skew` > 1 leaning towards `high` (growth), < 1 towards `low`.
    func time(_ random: inout DemoRandom, _ low: Int64, _ high: Int64, skew: Double = 1) -> Int64 {
        guard high > low else { return low }
        let u = random.unit()
        let position = skew == 1 ? u : pow(u, 1 / skew)
        return low + Int64(Double(high - low) * position)
    }

    static func slug(_ text: String, german: Bool) -> String {
        var value = text.lowercased()
        if german {
            value = value.replacingOccurrences(of: "ä", with: "ae").replacingOccurrences(of: "ö", with: "oe")
                .replacingOccurrences(of: "ü", with: "ue")
        }
        value = value.replacingOccurrences(of: "ß", with: "ss").replacingOccurrences(of: "æ", with: "ae")
            .replacingOccurrences(of: "œ", with: "oe")
        value = value.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil)
        var result = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "a"..."z", "0"..."9": result.unicodeScalars.append(scalar)
            case " ", "-", ".": if !result.isEmpty, result.last != "-" { result += "-" }
            default: continue
            }
        }
        while result.hasSuffix("-") { result.removeLast() }
        return result.isEmpty ? "x" : result
    }

    func slug(_ name: String, language: String) -> String {
        slugs[language]?[name] ?? Self.slug(name, german: language == "de")
    }

    /// A phone number in the country's format, unique across the agency by its normalized form.
    mutating func phone(country: Int, _ random: inout DemoRandom) -> String? {
        let patterns = reference.countries[country].phonePatterns
        for _ in 0..<40 {
            var text = ""
            for character in random.pick(patterns) {
                switch character {
                case "#": text += String(random.below(10))
                case "N": text += String(2 + random.below(8))
                default: text.append(character)
                }
            }
            if phones.insert(Normalize.phone(text)).inserted { return text }
        }
        return nil
    }

    /// `first.last@domain`, `firstlast`, `f.last`, `first.last85`; a number is added when taken.
    mutating func email(first: String, last: String, language: String, domain: String, _ random: inout DemoRandom)
        -> String
    {
        let f = slug(first, language: language)
        let l = slug(last, language: language)
        let local: String
        switch random.below(20) {
        case 0..<10: local = "\(f).\(l)"
        case 10..<14: local = "\(f)\(l)"
        case 14..<17: local = "\(f.prefix(1)).\(l)"
        default: local = "\(f).\(l)\(String(format: "%02d", random.int(70...105) % 100))"
        }
        let base = "\(local)@\(domain)"
        guard let used = emails[base] else {
            emails[base] = 1
            return base
        }
        var number = used + 1
        while true {
            let candidate = "\(local).\(number)@\(domain)"
            if emails[candidate] == nil {
                emails[base] = number
                emails[candidate] = 1
                return candidate
            }
            number += 1
        }
    }

    /// An industry inside a sentence: lower case except in German, where nouns are capitalized.
    func industryPhrase(_ industry: Industry, language: String) -> String {
        let name = industry.name(in: language)
        return language == "de" ? name : name.lowercased()
    }

    /// A soft skill inside a sentence, in the sentence's language.
    func softSkillPhrase(_ name: String, language: String) -> String {
        let local = reference.skills.category("softSkills")?.skill(named: name)?.name(in: language) ?? name
        return language == "de" ? local : local.lowercased()
    }

    func salaryText(_ amount: Int, currency: String) -> String {
        "\(currency) \(amount / 1000)k"
    }

    func roundedSalary(_ value: Double) -> Int { Int((value / 1000).rounded()) * 1000 }

    func title(family: Int, seniority: Int, language: String, _ random: inout DemoRandom) -> String {
        let titles = reference.families[family].titles
        let level = reference.seniorities[seniority].id
        return random.pick(titles[language]?[level] ?? titles["en"]?[level] ?? ["Specialist"])
    }
}
