import ATSDomain
import ATSStore
import Foundation

extension DemoGenerator {
    /// The next `count` candidates, one third each English, French and German speakers.
    mutating func makeCandidates(count: Int) throws -> DemoBatch {
        var records: [Record] = []
        records.reserveCapacity(count)
        var random = candidateRandom
        defer { candidateRandom = random }
        for _ in 0..<count {
            records.append(try makeCandidate(&random))
        }
        return DemoBatch(records: records, label: "candidates")
    }

    private static let candidateStatuses = ["new", "active", "passive", "do_not_contact", "blacklisted"]
    private static let recentStatusWeights = WeightedTable([60, 30, 10, 0, 0])
    private static let statusWeights = WeightedTable([8, 46, 42, 3, 1])
    private static let remoteModes = ["onsite", "hybrid", "remote", "any"]
    private static let remoteWeights = WeightedTable([12, 48, 20, 20])

    private mutating func makeCandidate(_ random: inout DemoRandom) throws -> Record {
        let language = ReferenceData.languageCodes[random.below(3)]
        let places = cityTables[language]!
        let place = places.places[places.table.pick(&random)]
        let country = reference.countries[place.country]
        let city = country.cities[place.city]
        let familyIndex = familyTable.pick(&random)
        let family = reference.families[familyIndex]
        let seniorityIndex = seniorityTable.pick(&random)
        let seniority = reference.seniorities[seniorityIndex]
        let names = reference.names[language]!
        let firstName = random.pick(names.first)
        let lastName = random.pick(names.last)
        let titleLanguage = language != "en" && technicalFamilies.contains(familyIndex) && random.chance(0.35) ? "en" : language
        let title = title(family: familyIndex, seniority: seniorityIndex, language: titleLanguage, &random)
        let years = random.int(seniority.minYears...seniority.maxYears)

        // Times: the agency grows, so more candidates arrive recently.
        let created = time(&random, start, now - 3_600, skew: 1.6)
        var updated = time(&random, created, now, skew: 0.4)

        // Skills from the family, a few from elsewhere in the taxonomy.
        let junior = seniority.id == "junior"
        var skills: [String: [String]] = [:]
        let ranges: [String: ClosedRange<Int>] = [
            "technicalSkills": junior ? 2...4 : 3...6, "programmingLanguages": junior ? 1...2 : 1...4,
            "frameworks": junior ? 1...2 : 1...4, "toolsAndPlatforms": junior ? 2...4 : 3...6,
            "methodologies": 1...3, "softSkills": 2...4,
        ]
        for field in SkillTaxonomy.fields {
            var picked = random.sample(family.skills(field), random.int(ranges[field]!))
            if field == "technicalSkills" || field == "toolsAndPlatforms", random.chance(0.12),
                let category = reference.skills.category(field), !category.skills.isEmpty
            {
                let extra = random.pick(category.skills).name
                if !picked.contains(extra) { picked.append(extra) }
            }
            skills[field] = picked
        }
        var top: [String] = []
        let leading =
            technicalFamilies.contains(familyIndex)
            ? ["programmingLanguages", "technicalSkills", "frameworks"]
            : ["technicalSkills", "toolsAndPlatforms", "programmingLanguages"]
        for position in 0..<3 {
            for field in leading {
                if let list = skills[field], position < list.count, !top.contains(list[position]) { top.append(list[position]) }
            }
        }
        for skill in (skills["toolsAndPlatforms"] ?? []) + (skills["softSkills"] ?? []) where !top.contains(skill) {
            top.append(skill)
        }

        // Preferences.
        let base =
            Double(country.salaryBase) * family.salaryFactor * seniority.salaryFactor * (0.9 + 0.25 * random.unit())
        let salaryMin = roundedSalary(base * 0.95)
        let salaryMax = roundedSalary(base * 1.15)
        let remote = Self.remoteModes[Self.remoteWeights.pick(&random)]
        let contracts: [String]
        switch random.below(20) {
        case 0..<14: contracts = ["permanent"]
        case 14..<17: contracts = ["permanent", "contract"]
        case 17..<19: contracts = junior ? ["permanent", "temporary"] : ["contract", "freelance"]
        default: contracts = junior ? ["internship", "permanent"] : ["freelance"]
        }
        let northAmerica = country.code == "US" || country.code == "CA"
        let notice = northAmerica ? random.pick([2, 2, 3, 4]) : random.pick([4, 4, 8, 12, 12, 13])
        var preferences: JSONObject = [
            "salaryMin": .int(Int64(salaryMin)),
            "salaryMax": .int(Int64(salaryMax)),
            "salaryCurrency": .string(country.currency),
            "contractTypes": .array(contracts.map(JSONValue.string)),
            "remote": .string(remote),
            "willingToRelocate": .bool(random.chance(0.25)),
            "noticePeriodWeeks": .int(Int64(notice)),
            "workPermit": .string(random.chance(0.7) ? country.workPermits[0] : random.pick(country.workPermits)),
        ]
        if random.chance(0.6) { preferences["availableFrom"] = .string(day(now + Int64(random.int(0...90)) * 86_400)) }

        // Spoken languages: native, usually English, sometimes the country's others.
        var spoken = [reference.languages.native[language] ?? "English"]
        func speak(_ name: String) { if !spoken.contains(name) { spoken.append(name) } }
        if language != "en" ? random.chance(0.85) : false { speak("English") }
        if language == "en", random.chance(0.3) { speak(random.chance(0.5) ? "French" : "German") }
        if let extras = reference.languages.countryExtras[country.code], random.chance(0.4) { speak(random.pick(extras)) }
        if random.chance(0.2), !otherLanguagesTable.isEmpty {
            speak(reference.languages.others[otherLanguagesTable.pick(&random)].name)
        }

        // Education, most recent first, ending before the career started.
        let field = random.pick(family.fieldsOfStudy[language] ?? family.fieldsOfStudy["en"] ?? ["Business"])
        let degrees = reference.texts.degrees[language] ?? reference.texts.degrees["en"]!
        var education: [JSONValue] = []
        func entry(_ degree: String, _ startYear: Int, _ endYear: Int) -> JSONValue {
            .object([
                "institution": .string(random.chance(0.85) ? random.pick(country.universities) : random.pick(random.pick(reference.countries).universities)),
                "degree": .string(degree),
                "fieldOfStudy": .string(field),
                "startYear": .int(Int64(startYear)),
                "endYear": .int(Int64(endYear)),
            ])
        }
        let lastYear = currentYear - years - random.int(0...1)
        let levelRoll = random.below(100)
        if levelRoll < (family.id == "data_ml" ? 14 : 3), !junior {
            education.append(entry(random.pick(degrees.doctorate), lastYear - 4, lastYear))
            education.append(entry(random.pick(degrees.master), lastYear - 6, lastYear - 4))
        } else if levelRoll < 55 {
            education.append(entry(random.pick(degrees.master), lastYear - 2, lastYear))
            education.append(entry(random.pick(degrees.bachelor), lastYear - 5, lastYear - 2))
        } else if levelRoll < 95 {
            education.append(entry(random.pick(degrees.bachelor), lastYear - 3, lastYear))
        }

        // The CV-like summary, in the candidate's language.
        let industries = familyIndustries[familyIndex]
        let industry = reference.companies.industries[industries.industries[industries.table.pick(&random)]]
        var fill = Fill()
        fill[.title] = title
        fill[.years] = texts.years(years, language: language)
        fill[.industry] = industryPhrase(industry, language: language)
        fill[.city] = city.name
        fill[.field] = field
        fill[.skill1] = top.first ?? family.name
        fill[.skill2] = top.dropFirst().first ?? fill[.skill1]
        fill[.skill3] = top.dropFirst(2).first ?? fill[.skill2]
        fill[.tool] = skills["toolsAndPlatforms"]?.first ?? fill[.skill1]
        fill[.method] = skills["methodologies"]?.first ?? "Agile"
        let soft = skills["softSkills"] ?? []
        fill[.soft1] = softSkillPhrase(soft.first ?? "Communication", language: language)
        fill[.soft2] = softSkillPhrase(soft.dropFirst().first ?? "Teamwork", language: language)
        fill[.remote] = reference.texts.remote[language]?[remote] ?? remote
        let text = texts.summary[language]!
        var extras = [random.pick(text.experience), random.pick(text.soft), random.pick(text.goal), random.pick(text.experience)]
        random.shuffle(&extras)
        var summary = ""
        for template in [random.pick(text.opening), random.pick(text.skills)] + extras.prefix(random.int(1...4)) {
            if !summary.isEmpty { summary += " " }
            template.render(into: &summary, fill)
        }

        // Status, consent, ownership.
        let recent = now - created < 30 * 86_400
        let status = Self.candidateStatuses[(recent ? Self.recentStatusWeights : Self.statusWeights).pick(&random)]
        let owner = random.pick(users.recruiters)
        var fields: JSONObject = [
            "firstName": .string(firstName),
            "lastName": .string(lastName),
            "email": .string(email(first: firstName, last: lastName, language: language, domain: random.pick(country.emailDomains), &random)),
            "currentTitle": .string(title),
            "professionalHeadline": .string("\(title) · \(top.prefix(3).joined(separator: ", "))"),
            "currentLocation": .string("\(city.name), \(country.name)"),
            "summary": .string(summary),
            "experienceYears": .int(Int64(years)),
            "spokenLanguages": .array(spoken.map(JSONValue.string)),
            "preferences": .object(preferences),
            "source": .string(reference.texts.candidateSources[sourceTable.pick(&random)].name),
            "status": .string(status),
            "archived": .bool(random.chance(0.02)),
            "ownerId": .string(owner),
        ]
        for (name, list) in skills.sorted(by: { $0.key < $1.key }) where !list.isEmpty {
            fields[name] = .array(list.map(JSONValue.string))
        }
        if !education.isEmpty { fields["education"] = .array(education) }
        if let phone = phone(country: place.country, &random) { fields["phone"] = .string(phone) }
        let tagCount = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3][random.below(20)]
        let tags = random.sample(reference.texts.candidateTags, tagCount)
        if !tags.isEmpty { fields["tags"] = .array(tags.map(JSONValue.string)) }
        if random.chance(0.88) {
            let consent = min(now, created + Int64(random.int(0...172_800)))
            fields["gdprConsent"] = .bool(true)
            fields["gdprConsentDate"] = .string(stamp(consent))
            fields["gdprRetentionUntil"] = .string(day(consent + 730 * 86_400))
            updated = max(updated, consent)
        } else {
            fields["gdprConsent"] = .bool(false)
        }

        let id = makeID(at: created, &random)
        let index = candidates.count
        candidatesByFamily[familyIndex].append(Int32(index))
        candidates.append(
            CandidateInfo(
                id: id, created: created, family: familyIndex, firstName: firstName, city: city.name, title: title,
                topSkills: Array(top.prefix(2)), salary: salaryText(salaryMax, currency: country.currency),
                language: language, remoteMode: remote, noticeWeeks: notice, owner: owner,
                available: status != "do_not_contact" && status != "blacklisted"))
        return Record(
            kind: .candidate, id: id, createdAt: stamp(created), updatedAt: stamp(updated),
            fields: try validated(.candidate, fields, sample: index))
    }
}
