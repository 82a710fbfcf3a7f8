/// A placeholder a text template may use.
enum Slot: Int, CaseIterable, Sendable {
    case title, years, industry, city, field, skill1, skill2, skill3, tool, method, soft1, soft2, remote
    case client, language, first, family, salary, days, weeks, job, count, area, year, n

    static let byName: [String: Slot] = Dictionary(uniqueKeysWithValues: allCases.map { ("\($0)", $0) })
}

/// The values of the slots for one rendering.
struct Fill {
    private var values = [String](repeating: "", count: Slot.allCases.count)

    subscript(slot: Slot) -> String {
        get { values[slot.rawValue] }
        set { values[slot.rawValue] = newValue }
    }
}

/// A text with `{placeholder}`s, parsed once so rendering 100,000 summaries is appends only.
struct Template: Sendable {
    private enum Part: Sendable {
        case text(String)
        case slot(Slot)
    }

    private let parts: [Part]

    init(_ source: String, origin: String) throws {
        var parts: [Part] = []
        var rest = Substring(source)
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { parts.append(.text(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw DemoError(.referenceData, "\(origin): unclosed { in \"\(source)\"")
            }
            let name = String(rest[rest.index(after: open)..<close])
            guard let slot = Slot.byName[name] else {
                throw DemoError(.referenceData, "\(origin): unknown placeholder {\(name)} in \"\(source)\"")
            }
            parts.append(.slot(slot))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    func render(_ fill: Fill) -> String {
        var output = ""
        for part in parts {
            switch part {
            case .text(let text): output += text
            case .slot(let slot): output += fill[slot]
            }
        }
        return output
    }

    func render(into output: inout String, _ fill: Fill) {
        for part in parts {
            switch part {
            case .text(let text): output += text
            case .slot(let slot): output += fill[slot]
            }
        }
    }
}

/// Every template of `texts.json` compiled, per language where the file has languages.
struct CompiledTexts: Sendable {
    struct Summary: Sendable {
        let opening, skills, experience, soft, goal: [Template]
    }
    struct JobText: Sendable {
        let intro, role, offer: [Template]
    }
    struct Note: Sendable {
        let type: String
        let language: String
        let template: Template
    }

    let years: [String: (one: String, other: Template)]
    let summary: [String: Summary]
    let job: [String: JobText]
    let requirements: [String: [Template]]
    let candidateNotes, applicationNotes, jobNotes: [Note]
    let positiveFeedback, negativeFeedback: [Template]
    let projectNames: [Template]

    init(_ reference: ReferenceData) throws {
        let texts = reference.texts
        func compile(_ sources: [String], _ origin: String) throws -> [Template] {
            guard !sources.isEmpty else { throw DemoError(.referenceData, "\(origin): no templates") }
            return try sources.map { try Template($0, origin: origin) }
        }
        func notes(_ sources: [Texts.NoteTemplate], _ origin: String) throws -> [Note] {
            guard !sources.isEmpty else { throw DemoError(.referenceData, "\(origin): no templates") }
            let types = ["note", "call", "email", "meeting", "task"]
            return try sources.map { note in
                guard types.contains(note.type) else {
                    throw DemoError(.referenceData, "\(origin): note type \(note.type) is not one of \(types)")
                }
                return Note(
                    type: note.type, language: note.language ?? "en", template: try Template(note.text, origin: origin))
            }
        }
        var years: [String: (one: String, other: Template)] = [:]
        var summary: [String: Summary] = [:]
        var job: [String: JobText] = [:]
        var requirements: [String: [Template]] = [:]
        for code in ReferenceData.languageCodes {
            let origin = "texts.json \(code)"
            guard let plural = texts.years[code], let text = texts.summary[code], let jobText = texts.job[code],
                let lines = texts.requirements[code], texts.degrees[code] != nil, let remote = texts.remote[code]
            else {
                throw DemoError(.referenceData, "\(origin): years, degrees, summary, remote, job or requirements missing")
            }
            for mode in ["onsite", "hybrid", "remote", "any"] where remote[mode] == nil {
                throw DemoError(.referenceData, "\(origin): remote.\(mode) missing")
            }
            years[code] = (plural.one, try Template(plural.other, origin: origin))
            summary[code] = Summary(
                opening: try compile(text.opening, "\(origin) summary.opening"),
                skills: try compile(text.skills, "\(origin) summary.skills"),
                experience: try compile(text.experience, "\(origin) summary.experience"),
                soft: try compile(text.soft, "\(origin) summary.soft"),
                goal: try compile(text.goal, "\(origin) summary.goal"))
            job[code] = JobText(
                intro: try compile(jobText.intro, "\(origin) job.intro"),
                role: try compile(jobText.role, "\(origin) job.role"),
                offer: try compile(jobText.offer, "\(origin) job.offer"))
            requirements[code] = try compile(lines, "\(origin) requirements")
        }
        self.years = years
        self.summary = summary
        self.job = job
        self.requirements = requirements
        candidateNotes = try notes(texts.notes.candidate, "texts.json notes.candidate")
        applicationNotes = try notes(texts.notes.application, "texts.json notes.application")
        jobNotes = try notes(texts.notes.job, "texts.json notes.job")
        positiveFeedback = try compile(texts.interviewFeedback.positive, "texts.json interviewFeedback.positive")
        negativeFeedback = try compile(texts.interviewFeedback.negative, "texts.json interviewFeedback.negative")
        projectNames = try compile(texts.projectNames, "texts.json projectNames")
        for (name, list) in [
            ("rejectionReasons", texts.rejectionReasons), ("withdrawalReasons", texts.withdrawalReasons),
            ("candidateTags", texts.candidateTags), ("clientTags", texts.clientTags), ("jobTags", texts.jobTags),
            ("meetingLocations", texts.meetingLocations),
        ] where list.isEmpty {
            throw DemoError(.referenceData, "texts.json: \(name) is empty")
        }
        if texts.candidateSources.isEmpty { throw DemoError(.referenceData, "texts.json: candidateSources is empty") }
    }

    /// `5 years`, `1 an`, `3 Jahre`.
    func years(_ count: Int, language: String) -> String {
        guard let plural = years[language] else { return "\(count)" }
        if count == 1 { return plural.one }
        var fill = Fill()
        fill[.n] = String(count)
        return plural.other.render(fill)
    }
}
