import ATSDemo
import ATSDomain
import ATSSearch
import ATSStore

/// Turns stored records into what the search index and the embedder read: the searchable
/// texts by field and the attributes filters and facets use. Skills are folded to the
/// taxonomy's canonical names, so a filter on "Kubernetes" finds a candidate who wrote "k8s".
public struct SearchDocuments: Sendable {
    public let taxonomy: SkillTaxonomy?

    public init(taxonomy: SkillTaxonomy?) {
        self.taxonomy = taxonomy
    }

    /// The candidate's fields that hold skills.
    static let skillFields = ["technicalSkills", "programmingLanguages", "frameworks", "toolsAndPlatforms", "methodologies", "softSkills"]

    public func canonical(_ skill: String) -> String {
        taxonomy?.canonicalName(for: skill) ?? skill.trimmingCharacters(in: .whitespaces)
    }

    /// The kinds the index holds, by their store kind.
    public static func searchKind(_ kind: EntityKind) -> SearchKind? {
        switch kind {
        case .candidate: .candidate
        case .job: .job
        case .client: .client
        default: nil
        }
    }

    public static func entityKind(_ kind: SearchKind) -> EntityKind {
        switch kind {
        case .candidate: .candidate
        case .job: .job
        case .client: .client
        }
    }

    /// A candidate with the jobs it applied to and the stage of each application.
    public func candidate(_ record: Record, organizationID: String, applications: [Record], cvText: String? = nil) -> SearchDocument {
        let f = record.fields
        let name = [f.searchText("firstName"), f.searchText("lastName")].compactMap { $0 }.joined(separator: " ")
        var skills: [String] = []
        for field in Self.skillFields { skills += (f[field]?.stringArray ?? []) }
        let canonicalSkills = Array(Set(skills.map(canonical))).sorted()
        var fields: [String: String] = ["name": name]
        fields["title"] = f.searchText("currentTitle")
        // Recruiters type places into queries ("java copenhagen"): the location is searchable
        // text beside the headline, as well as a filter.
        fields["headline"] = [f.searchText("professionalHeadline"), f.searchText("currentLocation")].compactMap { $0 }
            .joined(separator: " · ").nilIfEmpty
        fields["skills"] = skills.isEmpty ? nil : (skills + canonicalSkills).joined(separator: ", ")
        fields["summary"] = f.searchText("summary")
        fields["cv"] = cvText
        let preferences = f["preferences"]?.objectValue ?? [:]
        return SearchDocument(
            kind: .candidate, organizationID: organizationID, id: record.id, fields: fields.compactMapValues { $0 },
            status: f.searchText("status"), tags: (f["tags"]?.stringArray ?? []), skills: canonicalSkills, location: f.searchText("currentLocation"),
            experienceYears: f["experienceYears"]?.intValue.map { Int($0) }, availableFrom: preferences.searchText("availableFrom"),
            clientID: nil, jobIDs: applications.compactMap { $0.fields.searchText("jobId") },
            stages: applications.compactMap { application in
                guard let job = application.fields.searchText("jobId"), let stage = application.fields.searchText("stage") else { return nil }
                return job + ":" + stage
            },
            updatedAt: record.updatedAt)
    }

    public func job(_ record: Record, organizationID: String) -> SearchDocument {
        let f = record.fields
        let skills = (f["requiredSkills"]?.stringArray ?? [])
        let canonicalSkills = Array(Set(skills.map(canonical))).sorted()
        var fields: [String: String] = [:]
        fields["title"] = f.searchText("title")
        fields["skills"] = skills.isEmpty ? nil : (skills + canonicalSkills).joined(separator: ", ")
        fields["description"] = f.searchText("description")
        fields["requirements"] = [f.searchText("requirements"), f.searchText("location")].compactMap { $0 }
            .joined(separator: " · ").nilIfEmpty
        return SearchDocument(
            kind: .job, organizationID: organizationID, id: record.id, fields: fields.compactMapValues { $0 },
            status: f.searchText("status"), tags: (f["tags"]?.stringArray ?? []), skills: canonicalSkills, location: f.searchText("location"),
            clientID: f.searchText("clientId"), updatedAt: record.updatedAt)
    }

    public func client(_ record: Record, organizationID: String) -> SearchDocument {
        let f = record.fields
        var fields: [String: String] = [:]
        fields["name"] = f.searchText("name")
        fields["industry"] = f.searchText("industry")
        fields["description"] = f.searchText("description")
        return SearchDocument(
            kind: .client, organizationID: organizationID, id: record.id, fields: fields.compactMapValues { $0 },
            status: f.searchText("status"), tags: (f["tags"]?.stringArray ?? []), location: f.searchText("location"), updatedAt: record.updatedAt)
    }

    /// The text the embedder reads for a document: the weighty fields first.
    public static func embeddingText(_ document: SearchDocument) -> String {
        let order: [String] =
            switch document.kind {
            case .candidate: ["title", "headline", "skills", "summary", "cv"]
            case .job: ["title", "skills", "requirements", "description"]
            case .client: ["name", "industry", "description"]
            }
        var text = order.compactMap { document.fields[$0] }.joined(separator: ". ")
        if text.utf8.count > 8_000 { text = String(text.prefix(8_000)) }
        return text
    }
}

extension JSONObject {
    /// A non-empty string field.
    func searchText(_ key: String) -> String? {
        guard let value = self[key]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
