import Foundation

/// What the CV parser knows: skills with synonyms and categories, spoken languages, cities with their countries
/// (plus, optionally, first names and institutions to recognise), compiled once for fast matching.
public struct CVTaxonomy: Sendable {
    /// One skill: its canonical name, other spellings, and the category it belongs to.
    public struct Skill: Sendable, Hashable {
        /// The canonical name the candidate's fields store.
        public let name: String
        /// Other spellings and abbreviations, and the localized names.
        public let synonyms: [String]
        /// The candidate field the skill is stored in (`technicalSkills`, `programmingLanguages`, ...).
        public let category: String

        /// A skill of a category.
        public init(name: String, synonyms: [String], category: String) {
            self.name = name
            self.synonyms = synonyms
            self.category = category
        }
    }

    /// A city and the country it is in.
    public struct Place: Sendable, Hashable {
        /// The city's English name (aliases such as "Zürich" or "Genf" are built in).
        public let city: String
        /// The country's English name.
        public let country: String

        /// A city in a country.
        public init(city: String, country: String) {
            self.city = city
            self.country = country
        }
    }

    /// The candidate schema's skill fields, in the order they are shown; `skills.json` uses the same names.
    public static let standardCategories = [
        "technicalSkills", "programmingLanguages", "frameworks", "toolsAndPlatforms", "methodologies", "softSkills",
    ]

    /// Every skill, in reference-file order.
    public let skills: [Skill]
    /// The skill categories, standard ones first.
    public let categories: [String]
    /// Spoken languages, canonical English names.
    public let languages: [String]
    /// Known cities with their countries.
    public let places: [Place]
    /// The countries of `places`, each once.
    public let countries: [String]

    let firstNames: Set<String>
    let institutions: [String]
    let skillMatcher: TermMatcher
    let languageMatcher: TermMatcher
    let cityMatcher: TermMatcher
    let countryMatcher: TermMatcher
    let institutionMatcher: TermMatcher

    /// A taxonomy from lists; `firstNames` (any case) raise the confidence of a guessed name, `institutions`
    /// (universities and schools) are recognised in education lines even without a keyword such as "University".
    public init(
        skills: [(name: String, synonyms: [String], category: String)],
        languages: [String],
        places: [(city: String, country: String)],
        firstNames: [String] = [],
        institutions: [String] = []
    ) {
        self.skills = skills.map { Skill(name: $0.name, synonyms: $0.synonyms, category: $0.category) }
        var categories: [String] = []
        for skill in self.skills where !categories.contains(skill.category) { categories.append(skill.category) }
        self.categories = categories.sorted {
            let left = Self.standardCategories.firstIndex(of: $0) ?? Int.max
            let right = Self.standardCategories.firstIndex(of: $1) ?? Int.max
            return left != right ? left < right : $0 < $1
        }
        self.languages = languages
        self.places = places.map { Place(city: $0.city, country: $0.country) }
        var countries: [String] = []
        for place in self.places where !countries.contains(place.country) { countries.append(place.country) }
        self.countries = countries
        self.firstNames = Set(firstNames.map { $0.lowercased() })
        self.institutions = institutions

        var skillMatcher = TermMatcher()
        for (index, skill) in self.skills.enumerated() {
            skillMatcher.add(skill.name, payload: index, canonical: true, ambiguous: Lexicon.ambiguousSkillWords)
            for synonym in skill.synonyms {
                skillMatcher.add(synonym, payload: index, canonical: false, ambiguous: Lexicon.ambiguousSkillWords)
            }
        }
        self.skillMatcher = skillMatcher

        var languageMatcher = TermMatcher()
        for (index, language) in languages.enumerated() {
            languageMatcher.add(language, payload: index)
            for alias in Lexicon.languageAliases[language] ?? [] { languageMatcher.add(alias, payload: index) }
        }
        self.languageMatcher = languageMatcher

        var cityMatcher = TermMatcher()
        for (index, place) in self.places.enumerated() {
            cityMatcher.add(place.city, payload: index)
            for alias in Lexicon.cityAliases[place.city] ?? [] { cityMatcher.add(alias, payload: index) }
        }
        self.cityMatcher = cityMatcher

        var countryMatcher = TermMatcher()
        for (index, country) in countries.enumerated() {
            countryMatcher.add(country, payload: index)
            for alias in Lexicon.countryAliases[country] ?? [] { countryMatcher.add(alias, payload: index) }
        }
        self.countryMatcher = countryMatcher

        var institutionMatcher = TermMatcher()
        for (index, institution) in institutions.enumerated() { institutionMatcher.add(institution, payload: index) }
        self.institutionMatcher = institutionMatcher
    }

    /// Loads `skills.json`, `languages.json` and `places.json` (and `names.json` when present) from the
    /// reference folder (`Data/reference`).
    public init(referenceDirectory: String) throws {
        let base = URL(fileURLWithPath: referenceDirectory)
        func load<T: Decodable>(_ type: T.Type, _ file: String) throws -> T {
            guard let data = FileManager.default.contents(atPath: base.appendingPathComponent(file).path) else {
                throw DocumentError(.io, "The reference file \(file) cannot be read from \(referenceDirectory).")
            }
            do {
                return try JSONDecoder().decode(T.self, from: data)
            } catch {
                throw DocumentError(.malformed, "The reference file \(file) does not have the expected shape: \(error)")
            }
        }
        struct SkillEntry: Decodable {
            let name: String
            let synonyms: [String]?
            let localized: [String: String]?
        }
        struct LanguagesFile: Decodable {
            struct Other: Decodable { let name: String }
            let native: [String: String]
            let others: [Other]
            let countryExtras: [String: [String]]?
        }
        struct PlacesFile: Decodable {
            struct Country: Decodable {
                struct City: Decodable { let name: String }
                let name: String
                let universities: [String]?
                let cities: [City]
            }
            let countries: [Country]
        }

        let skillFile = try load([String: [SkillEntry]].self, "skills.json")
        var skills: [(name: String, synonyms: [String], category: String)] = []
        for category in skillFile.keys.sorted() {
            for entry in skillFile[category] ?? [] {
                var synonyms = entry.synonyms ?? []
                for name in (entry.localized ?? [:]).values.sorted()
                where name.lowercased() != entry.name.lowercased() && !synonyms.contains(name) {
                    synonyms.append(name)
                }
                skills.append((entry.name, synonyms, category))
            }
        }
        let languageFile = try load(LanguagesFile.self, "languages.json")
        var languages: [String] = []
        func addLanguage(_ name: String) { if !languages.contains(name) { languages.append(name) } }
        for key in languageFile.native.keys.sorted() { addLanguage(languageFile.native[key]!) }
        for other in languageFile.others { addLanguage(other.name) }
        for key in (languageFile.countryExtras ?? [:]).keys.sorted() { languageFile.countryExtras![key]!.forEach(addLanguage) }
        let placeFile = try load(PlacesFile.self, "places.json")
        var places: [(city: String, country: String)] = []
        var institutions: [String] = []
        for country in placeFile.countries {
            for city in country.cities { places.append((city.name, country.name)) }
            institutions += country.universities ?? []
        }
        var firstNames: [String] = []
        if FileManager.default.fileExists(atPath: base.appendingPathComponent("names.json").path) {
            // names.json: {"en": {"first": [...], "last": [...]}, "fr": ..., "de": ...}
            let names = try load([String: NameLists].self, "names.json")
            for key in names.keys.sorted() { firstNames += names[key]?.first ?? [] }
        }
        self.init(skills: skills, languages: languages, places: places, firstNames: firstNames, institutions: institutions)
    }

    struct NameLists: Decodable {
        let first: [String]?

        enum CodingKeys: String, CodingKey { case first }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let list = try? container.decode([String].self, forKey: .first) {
                first = list
            } else if let grouped = try? container.decode([String: [String]].self, forKey: .first) {
                first = grouped.keys.sorted().flatMap { grouped[$0]! }
            } else {
                first = nil
            }
        }
    }

    /// The category of a canonical skill name.
    public func category(of skill: String) -> String? {
        skills.first { $0.name == skill }?.category
    }
}
