import ATSDomain
import Foundation

/// What the parser found in a CV, with a confidence per field.
///
/// Field names follow the candidate schema so the result maps straight onto a candidate: `candidateFields`
/// is already shaped like one (`currentLocation` as "City, Country", `experienceYears`, `spokenLanguages`,
/// `education` objects, and skills split into the schema's six skill fields by taxonomy category), and the
/// keys of `confidence` are those same field names.
public struct ParsedCV: Sendable, Hashable {
    /// One education entry, shaped like the candidate schema's.
    public struct Education: Sendable, Hashable {
        /// As written: "MSc", "Master of Science", "BEng (Hons)", "Diplôme d'ingénieur".
        public var degree: String?
        /// The subject after the degree ("Computer Science").
        public var fieldOfStudy: String?
        /// The university or school.
        public var institution: String?
        /// The first year, when the entry gives a range.
        public var startYear: Int?
        /// The graduation year (the schema's `endYear`).
        public var endYear: Int?

        /// An education entry; every part is optional.
        public init(
            degree: String? = nil, fieldOfStudy: String? = nil, institution: String? = nil, startYear: Int? = nil, endYear: Int? = nil
        ) {
            self.degree = degree
            self.fieldOfStudy = fieldOfStudy
            self.institution = institution
            self.startYear = startYear
            self.endYear = endYear
        }

        /// The graduation year.
        public var year: Int? { endYear }

        /// The schema's education object.
        public var json: JSONObject {
            var object: JSONObject = [:]
            if let degree { object["degree"] = .string(String(degree.prefix(200))) }
            if let fieldOfStudy { object["fieldOfStudy"] = .string(String(fieldOfStudy.prefix(200))) }
            if let institution { object["institution"] = .string(String(institution.prefix(200))) }
            if let startYear, (1900...2100).contains(startYear) { object["startYear"] = .int(Int64(startYear)) }
            if let endYear, (1900...2100).contains(endYear) { object["endYear"] = .int(Int64(endYear)) }
            return object
        }
    }

    /// Given name(s); "Jean-Pierre", "Anna Maria".
    public var firstName: String?
    /// Surname, particles included ("van der Berg"); capitals normalised ("DUPONT" is "Dupont").
    public var lastName: String?
    /// The first address that passes the domain's email check, header first.
    public var email: String?
    /// As printed ("+41 79 123 45 67"), never a date or an IBAN; it passes the domain's phone check.
    public var phone: String?
    /// The taxonomy's English city name, or an unknown city found next to a known country.
    public var city: String?
    /// The taxonomy's English country name.
    public var country: String?
    /// The current or most recent job title.
    public var currentTitle: String?
    /// Canonical skill names, in the order the CV first mentions them.
    public var skills: [String]
    /// The same skills by taxonomy category (`technicalSkills`, `programmingLanguages`, `frameworks`,
    /// `toolsAndPlatforms`, `methodologies`, `softSkills`: the candidate schema's skill fields).
    public var skillsByCategory: [String: [String]]
    /// Spoken languages, canonical English names ("German", "Swiss German").
    public var languages: [String]
    /// Education entries, in CV order (usually most recent first).
    public var education: [Education]
    /// A claim ("10+ years of experience") when the CV makes one, else the employment ranges merged.
    public var yearsOfExperience: Int?
    /// Per candidate field name, 0...1; a field the parser did not find has no entry.
    public var confidence: [String: Double]
    /// A weighted mean over the fields a CV should have (missing ones count as 0).
    public var overallConfidence: Double

    /// A parse result; the parser fills it, tests and fixtures build it.
    public init(
        firstName: String? = nil, lastName: String? = nil, email: String? = nil, phone: String? = nil,
        city: String? = nil, country: String? = nil, currentTitle: String? = nil, skills: [String] = [],
        skillsByCategory: [String: [String]] = [:], languages: [String] = [], education: [Education] = [],
        yearsOfExperience: Int? = nil, confidence: [String: Double] = [:], overallConfidence: Double = 0
    ) {
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.phone = phone
        self.city = city
        self.country = country
        self.currentTitle = currentTitle
        self.skills = skills
        self.skillsByCategory = skillsByCategory
        self.languages = languages
        self.education = education
        self.yearsOfExperience = yearsOfExperience
        self.confidence = confidence
        self.overallConfidence = overallConfidence
    }

    /// "City, Country", whichever parts were found (the candidate schema's `currentLocation`).
    public var location: String? {
        switch (city, country) {
        case let (city?, country?): "\(city), \(country)"
        case let (city?, nil): city
        case let (nil, country?): country
        case (nil, nil): nil
        }
    }

    /// The parse as candidate fields, within the schema's limits; only fields that were found.
    public var candidateFields: JSONObject {
        var fields: JSONObject = [:]
        func put(_ key: String, _ value: String?, max: Int) {
            if let value, !value.isEmpty { fields[key] = .string(String(value.prefix(max))) }
        }
        put("firstName", firstName, max: 100)
        put("lastName", lastName, max: 100)
        put("email", email, max: 254)
        put("phone", phone, max: 40)
        put("currentTitle", currentTitle, max: 200)
        put("currentLocation", location, max: 200)
        if let yearsOfExperience { fields["experienceYears"] = .int(Int64(min(max(yearsOfExperience, 0), 70))) }
        for (category, names) in skillsByCategory where !names.isEmpty {
            fields[category] = .array(names.prefix(200).map { .string(String($0.prefix(100))) })
        }
        if !languages.isEmpty { fields["spokenLanguages"] = .array(languages.prefix(30).map { .string(String($0.prefix(60))) }) }
        let education = education.map(\.json).filter { !$0.isEmpty }
        if !education.isEmpty { fields["education"] = .array(education.prefix(20).map { .object($0) }) }
        return fields
    }

    /// `{"fields": candidateFields, "confidence": {...}, "overall": 0.83, "location": {"city", "country"}}`,
    /// the parse result a document keeps.
    public var json: JSONObject {
        var object: JSONObject = [
            "fields": .object(candidateFields),
            "confidence": .object(confidence.mapValues { .double(Self.rounded($0)) }),
            "overall": .double(Self.rounded(overallConfidence)),
        ]
        var place: JSONObject = [:]
        if let city { place["city"] = .string(city) }
        if let country { place["country"] = .string(country) }
        if !place.isEmpty { object["location"] = .object(place) }
        return object
    }

    /// The candidate with the parse filling only its empty fields (missing, null, "" or []), never
    /// overwriting what a recruiter typed; fields under `minimumConfidence` are left out. Returns the
    /// merged object and the names of the fields it filled.
    public func filling(_ candidate: JSONObject, minimumConfidence: Double = 0.5) -> (fields: JSONObject, filled: [String]) {
        var merged = candidate
        var filled: [String] = []
        for (key, value) in candidateFields.sorted(by: { $0.key < $1.key }) {
            guard (confidence[key] ?? 0) >= minimumConfidence else { continue }
            let empty: Bool
            switch candidate[key] {
            case nil, .null?: empty = true
            case .string(let text)?: empty = text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            case .array(let items)?: empty = items.isEmpty
            default: empty = false
            }
            if empty {
                merged[key] = value
                filled.append(key)
            }
        }
        return (merged, filled)
    }

    /// Two decimals, as the JSON keeps confidences.
    public static func rounded(_ value: Double) -> Double { (value * 100).rounded() / 100 }
}
