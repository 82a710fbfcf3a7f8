import ATSDomain
import ATSStore
import Foundation

extension DemoGenerator {
    /// Clients with one to three contacts each.
    mutating func makeClients() throws -> DemoBatch {
        var random = DemoRandom(seed: configuration.seed, stream: 1)
        let companies = reference.companies
        var clientRecords: [Record] = []
        var contactRecords: [Record] = []
        var usedNames = Set<String>()
        for index in 0..<configuration.clients {
            let countryIndex = clientCountryTable.pick(&random)
            let country = reference.countries[countryIndex]
            let city = country.cities[countryCityTables[countryIndex].pick(&random)]
            let language = city.languages.first { ReferenceData.languageCodes.contains($0) } ?? "en"
            let industryIndex = industryTable.pick(&random)
            let industry = companies.industries[industryIndex]
            var base = ""
            for attempt in 0..<30 {
                base = "\(random.pick(companies.prefixes)) \(random.pick(industry.suffixes))"
                if attempt == 29 { base += " \(index + 1)" }
                if usedNames.insert(base).inserted { break }
            }
            let legalForm = random.pick(companies.legalForms[country.code] ?? ["Ltd"])
            let name = "\(base) \(legalForm)"
            let domain = "\(Self.slug(base, german: false)).example"
            let statusRoll = random.below(100)
            let status = statusRoll < 80 ? "active" : statusRoll < 93 ? "prospect" : "inactive"
            let created =
                status == "prospect"
                ? time(&random, now - 120 * 86_400, now - 86_400)
                : time(&random, start, start + (now - start) / 2)
            let updated = time(&random, created, now, skew: 0.5)
            let owner = random.pick(users.recruiters)
            let id = makeID(at: created, &random)
            let size = random.pick(["11-50", "51-200", "201-500", "501-1000", "1001-5000", "5000+"])
            var fields: JSONObject = [
                "name": .string(name),
                "industry": .string(industry.name),
                "website": .string("https://www.\(domain)"),
                "location": .string("\(city.name), \(country.name)"),
                "description": .string(
                    "\(name) is \(industry.name.first.map { "aeiouAEIOU".contains($0) } == true ? "an" : "a") \(industry.name.lowercased()) company headquartered in \(city.name), "
                        + "\(country.name), with \(size) employees. Working language: "
                        + "\(reference.languages.native[language] ?? "English")."),
                "status": .string(status),
                "ownerId": .string(owner),
            ]
            let tags = random.sample(reference.texts.clientTags, random.below(3))
            if !tags.isEmpty { fields["tags"] = .array(tags.map(JSONValue.string)) }
            clientRecords.append(
                Record(
                    kind: .client, id: id, createdAt: stamp(created), updatedAt: stamp(updated),
                    fields: try validated(.client, fields)))
            clients.append(
                ClientInfo(
                    id: id, name: name, country: countryIndex, city: city.name, language: language,
                    industry: industryIndex, created: created, status: status, owner: owner))

            let pool = reference.names[language] ?? reference.names["en"]!
            var contactEmails = Set<String>()
            for contact in 0..<random.int(1...3) {
                let first = random.pick(pool.first)
                let last = random.pick(pool.last)
                var local = "\(slug(first, language: language)).\(slug(last, language: language))"
                if !contactEmails.insert(local).inserted { local += "\(contact + 1)" }
                let contactCreated = time(&random, created, min(now, created + 30 * 86_400))
                var contactFields: JSONObject = [
                    "clientId": .string(id),
                    "firstName": .string(first),
                    "lastName": .string(last),
                    "email": .string("\(local)@\(domain)"),
                    "title": .string(random.pick(companies.contactTitles[language] ?? companies.contactTitles["en"] ?? ["HR"])),
                    "isPrimary": .bool(contact == 0),
                ]
                if let phone = phone(country: countryIndex, &random) { contactFields["phone"] = .string(phone) }
                contactRecords.append(
                    Record(
                        kind: .clientContact, id: makeID(at: contactCreated, &random), createdAt: stamp(contactCreated),
                        updatedAt: stamp(time(&random, contactCreated, now, skew: 0.3)),
                        fields: try validated(.clientContact, contactFields)))
            }
        }
        return DemoBatch(records: clientRecords + contactRecords, label: "clients and contacts")
    }

    /// Mandates of active clients, each about one role family.
    mutating func makeProjects() throws -> DemoBatch {
        var random = DemoRandom(seed: configuration.seed, stream: 2)
        let eligible = clients.indices.filter { clients[$0].status == "active" }
        let pool = eligible.isEmpty ? Array(clients.indices) : eligible
        var records: [Record] = []
        for _ in 0..<configuration.projects {
            let clientIndex = random.pick(pool)
            let client = clients[clientIndex]
            let industryFamilies = familyIndustries.indices.filter {
                familyIndustries[$0].industries.contains(client.industry)
            }
            let family = industryFamilies.isEmpty ? familyTable.pick(&random) : random.pick(industryFamilies)
            let area = reference.families[family].name
            let statusRoll = random.below(15)
            let status =
                statusRoll < 9 ? "active" : statusRoll < 11 ? "planning" : statusRoll < 12 ? "on_hold"
                : statusRoll < 14 ? "completed" : "cancelled"
            let latest = status == "planning" ? now - 86_400 : now - 60 * 86_400
            let earliest = status == "planning" ? max(client.created, now - 45 * 86_400) : client.created
            let created = time(&random, min(earliest, latest), latest)
            let owner = random.chance(0.7) ? client.owner : random.pick(users.recruiters)
            let positions = random.int(1...6)
            var fill = Fill()
            fill[.area] = area
            fill[.year] = String(Int(stamp(created).prefix(4)) ?? currentYear)
            var fields: JSONObject = [
                "clientId": .string(client.id),
                "name": .string("\(client.name): \(random.pick(texts.projectNames).render(fill))"),
                "description": .string(
                    "Mandate from \(client.name) to hire \(positions) \(positions == 1 ? "person" : "people") "
                        + "in \(area.lowercased()), based in \(client.city)."),
                "positions": .int(Int64(positions)),
                "priority": .string(random.pick(["low", "medium", "medium", "high", "high", "urgent"])),
                "status": .string(status),
                "startDate": .string(day(created)),
                "ownerId": .string(owner),
            ]
            var updated = time(&random, created, now, skew: 0.5)
            if status == "completed" || status == "cancelled" {
                let end = min(now - 86_400, created + Int64(random.int(45...200)) * 86_400)
                fields["endDate"] = .string(day(max(end, created)))
                updated = max(created, end)
            } else if random.chance(0.5) {
                fields["endDate"] = .string(day(created + Int64(random.int(90...240)) * 86_400))
            }
            let id = makeID(at: created, &random)
            records.append(
                Record(
                    kind: .project, id: id, createdAt: stamp(created), updatedAt: stamp(updated),
                    fields: try validated(.project, fields)))
            clients[clientIndex].projects.append(projects.count)
            projects.append(
                ProjectInfo(id: id, client: clientIndex, family: family, created: created, status: status, owner: owner))
        }
        return DemoBatch(records: records, label: "projects")
    }

    /// Jobs at clients, many inside a project, each with the default pipeline.
    mutating func makeJobs() throws -> DemoBatch {
        var random = DemoRandom(seed: configuration.seed, stream: 3)
        let clientWeights = WeightedTable(
            clients.map { client in
                switch client.status {
                case "active": 10
                case "inactive": 2
                default: 0
                }
            })
        var records: [Record] = []
        for _ in 0..<configuration.jobs {
            let clientIndex = clientWeights.isEmpty ? random.below(clients.count) : clientWeights.pick(&random)
            let client = clients[clientIndex]
            let country = reference.countries[client.country]
            var project: ProjectInfo?
            if !client.projects.isEmpty, random.chance(0.7) {
                project = projects[random.pick(client.projects)]
            }
            let family: Int
            if let project, random.chance(0.8) {
                family = project.family
            } else {
                let industryFamilies = familyIndustries.indices.filter {
                    familyIndustries[$0].industries.contains(client.industry)
                }
                family = industryFamilies.isEmpty || random.chance(0.2) ? familyTable.pick(&random) : random.pick(industryFamilies)
            }
            let familyData = reference.families[family]
            let seniority = seniorityTable.pick(&random)
            let level = reference.seniorities[seniority]
            var language = client.language
            if language != "en", technicalFamilies.contains(family), random.chance(0.35) { language = "en" }
            let title = title(family: family, seniority: seniority, language: language, &random)

            // Status and times: closed jobs are older, drafts are recent.
            var status: String
            let statusRoll = random.below(100)
            status = statusRoll < 68 ? "active" : statusRoll < 85 ? "closed" : statusRoll < 93 ? "paused" : "draft"
            if client.status == "inactive" { status = "closed" }
            let notBefore = max(client.created, project?.created ?? client.created)
            var created: Int64
            var closed: Int64?
            switch status {
            case "closed":
                created = time(&random, notBefore, max(notBefore, now - 90 * 86_400))
                closed = min(now - 86_400, created + Int64(random.int(30...150)) * 86_400)
            case "draft":
                created = time(&random, max(notBefore, now - 30 * 86_400), now - 3_600)
            default:
                created = time(&random, max(notBefore, now - 240 * 86_400), now - 7 * 86_400)
            }
            if let end = closed, end <= created + 86_400 {
                closed = nil
                status = "active"
            }
            created = min(created, now - 3_600)
            let updated = closed ?? time(&random, created, now, skew: 0.5)

            let skillCount = random.int(5...8)
            var skills = random.sample(familyData.skills("technicalSkills"), 2)
            skills += random.sample(familyData.skills("programmingLanguages"), 2)
            skills += random.sample(familyData.skills("frameworks"), 2)
            skills += random.sample(familyData.skills("toolsAndPlatforms"), 2)
            skills += random.sample(familyData.skills("methodologies"), 1)
            skills = Array(skills.prefix(skillCount))
            let tools = familyData.skills("toolsAndPlatforms")
            let methods = familyData.skills("methodologies")
            let soft = familyData.skills("softSkills")
            let remote = ["onsite", "hybrid", "hybrid", "hybrid", "remote"][random.below(5)]
            let base =
                Double(country.salaryBase) * familyData.salaryFactor * level.salaryFactor
                * (0.92 + 0.16 * random.unit())
            let salaryMin = roundedSalary(base * 0.9)
            let salaryMax = roundedSalary(base * 1.2)

            var fill = Fill()
            fill[.client] = client.name
            fill[.industry] = industryPhrase(reference.companies.industries[client.industry], language: language)
            fill[.title] = title
            fill[.city] = client.city
            fill[.skill1] = skills.first ?? familyData.name
            fill[.skill2] = skills.dropFirst().first ?? fill[.skill1]
            fill[.skill3] = skills.dropFirst(2).first ?? fill[.skill2]
            fill[.tool] = random.pick(tools)
            fill[.method] = random.pick(methods)
            fill[.soft1] = softSkillPhrase(random.pick(soft), language: language)
            fill[.remote] = reference.texts.remote[language]?[remote] ?? remote
            fill[.years] = String(level.minYears)
            fill[.language] = reference.languages.native[client.language] ?? "German"
            let jobText = texts.job[language]!
            let description = [jobText.intro, jobText.role, jobText.offer].map { random.pick($0).render(fill) }
                .joined(separator: "\n\n")
            let requirementCount = random.int(4...6)
            let requirements = random.sample(texts.requirements[language]!, requirementCount).map { "- " + $0.render(fill) }
                .joined(separator: "\n")

            var hiringManagers: [String] = []
            let managerRoll = random.below(100)
            if !users.hiringManagers.isEmpty {
                if managerRoll < 50 {
                    hiringManagers = [random.pick(users.hiringManagers)]
                } else if managerRoll < 65 {
                    hiringManagers = users.hiringManagers
                }
            }
            let owner = random.chance(0.6) ? client.owner : random.pick(users.recruiters)
            let employment =
                level.id == "junior" && random.chance(0.1)
                ? "internship"
                : ["permanent", "permanent", "permanent", "permanent", "permanent", "permanent", "contract", "contract",
                   "freelance", "temporary"][random.below(10)]
            let openings = level.id == "lead" ? 1 : random.pick([1, 1, 1, 2, 2, 3])
            var fields: JSONObject = [
                "clientId": .string(client.id),
                "title": .string(title),
                "description": .string(description),
                "requirements": .string(requirements),
                "location": .string("\(client.city), \(country.name)"),
                "salaryMin": .int(Int64(salaryMin)),
                "salaryMax": .int(Int64(salaryMax)),
                "salaryCurrency": .string(country.currency),
                "remote": .string(remote),
                "employmentType": .string(employment),
                "status": .string(status),
                "pipelineStages": .array(stages.map(JSONValue.string)),
                "requiredSkills": .array(skills.map(JSONValue.string)),
                "openings": .int(Int64(openings)),
                "slaDays": .int(Int64(random.pick([30, 45, 60, 60, 90]))),
                "ownerId": .string(owner),
            ]
            if let project { fields["projectId"] = .string(project.id) }
            if !hiringManagers.isEmpty { fields["hiringManagerIds"] = .array(hiringManagers.map(JSONValue.string)) }
            let tags = random.sample(reference.texts.jobTags, random.below(3))
            if !tags.isEmpty { fields["tags"] = .array(tags.map(JSONValue.string)) }
            let id = makeID(at: created, &random)
            records.append(
                Record(
                    kind: .job, id: id, createdAt: stamp(created), updatedAt: stamp(updated),
                    fields: try validated(.job, fields)))
            jobs.append(
                JobInfo(
                    id: id, client: clientIndex, family: family, title: title, created: created, closed: closed,
                    status: status, openings: openings, owner: owner, hiringManagers: hiringManagers, skills: skills,
                    remote: remote, language: language,
                    salary: salaryText(salaryMax, currency: country.currency)))
        }
        return DemoBatch(records: records, label: "jobs")
    }
}
