/// What the API knows of one entity kind: its fields and the list filters it offers.
public struct EntitySchema: Sendable {
    public let kind: EntityKind
    public let summary: String
    public let fields: [Field]
    /// Equality filters on list endpoints: query parameter name -> document field.
    public let filters: [ListFilter]
    /// Whether the kind carries `tags` (filterable with `?tag=`).
    public var hasTags: Bool { fields.contains { $0.name == "tags" } }

    public func field(_ name: String) -> Field? { fields.first { $0.name == name } }

    /// Fields that reference other entities: checked to exist in the same organization.
    public var references: [(field: String, kind: EntityKind)] {
        fields.compactMap { field in
            if case .reference(let kind) = field.type { return (field.name, kind) }
            return nil
        }
    }

    public static func of(_ kind: EntityKind) -> EntitySchema {
        switch kind {
        case .candidate: Schemas.candidate
        case .client: Schemas.client
        case .clientContact: Schemas.clientContact
        case .project: Schemas.project
        case .job: Schemas.job
        case .application: Schemas.application
        case .interview: Schemas.interview
        case .note: Schemas.note
        case .document: Schemas.document
        case .emailTemplate: Schemas.emailTemplate
        case .message: Schemas.message
        case .savedSearch: Schemas.savedSearch
        }
    }
}

/// A list filter: `?name=value` keeps rows whose `field` equals the value.
public struct ListFilter: Sendable {
    public let name: String
    public let field: String
    public let type: FieldType

    public init(_ name: String, field: String? = nil, _ type: FieldType) {
        self.name = name
        self.field = field ?? name
        self.type = type
    }
}

/// The stage names a new job gets when it names none.
public let defaultPipelineStages = ["Sourced", "Contacted", "Screening", "Interview", "Offer", "Hired"]

enum Schemas {
    static let name = FieldType.string(maxLength: 100)
    static let line = FieldType.string(maxLength: 300)
    static let text = FieldType.string(maxLength: 20_000)
    static let tags = FieldType.array(.string(maxLength: 50), maxItems: 50)
    static let skills = FieldType.array(.string(maxLength: 100), maxItems: 200)
    static let money = FieldType.integer(min: 0, max: 100_000_000)
    static let currency = FieldType.string(maxLength: 3)

    static let candidateStatuses = ["new", "active", "passive", "do_not_contact", "blacklisted"]
    static let contractTypes = ["permanent", "contract", "freelance", "internship", "temporary"]
    static let remoteModes = ["onsite", "hybrid", "remote"]

    static let candidate = EntitySchema(
        kind: .candidate,
        summary: "A person the agency may place.",
        fields: [
            Field("firstName", name, required: true),
            Field("lastName", name, required: true),
            Field("email", .email),
            Field("phone", .phone),
            Field("currentTitle", .string(maxLength: 200)),
            Field("professionalHeadline", line),
            Field("currentLocation", .string(maxLength: 200)),
            Field("summary", text),
            Field("experienceYears", .integer(min: 0, max: 70)),
            Field("technicalSkills", skills),
            Field("programmingLanguages", skills),
            Field("frameworks", skills),
            Field("toolsAndPlatforms", skills),
            Field("methodologies", skills),
            Field("softSkills", skills),
            Field("spokenLanguages", .array(.string(maxLength: 60), maxItems: 30)),
            Field(
                "education",
                .array(
                    .object([
                        Field("institution", .string(maxLength: 200)),
                        Field("degree", .string(maxLength: 200)),
                        Field("fieldOfStudy", .string(maxLength: 200)),
                        Field("startYear", .integer(min: 1900, max: 2100)),
                        Field("endYear", .integer(min: 1900, max: 2100)),
                    ]), maxItems: 20)),
            Field(
                "preferences",
                .object([
                    Field("salaryMin", money),
                    Field("salaryMax", money),
                    Field("salaryCurrency", currency),
                    Field("contractTypes", .array(.enumeration(contractTypes), maxItems: 5)),
                    Field("remote", .enumeration(remoteModes + ["any"])),
                    Field("willingToRelocate", .boolean),
                    Field("availableFrom", .date),
                    Field("noticePeriodWeeks", .integer(min: 0, max: 52)),
                    Field("workPermit", .string(maxLength: 100)),
                ])),
            Field("tags", tags),
            Field("source", .string(maxLength: 100)),
            Field("status", .enumeration(candidateStatuses), default: .string("new")),
            Field("gdprConsent", .boolean, default: .bool(false)),
            Field("gdprConsentDate", .dateTime),
            Field("gdprRetentionUntil", .date),
            Field("archived", .boolean, default: .bool(false)),
            Field("ownerId", .userReference, "The recruiter who owns the relationship."),
        ],
        filters: [
            ListFilter("status", .enumeration(candidateStatuses)),
            ListFilter("owner", field: "ownerId", .userReference),
            ListFilter("archived", .boolean),
            ListFilter("source", .string(maxLength: 100)),
        ]
    )

    static let client = EntitySchema(
        kind: .client,
        summary: "A company the agency recruits for.",
        fields: [
            Field("name", .string(maxLength: 200), required: true),
            Field("industry", .string(maxLength: 100)),
            Field("website", .url),
            Field("location", .string(maxLength: 200)),
            Field("description", text),
            Field("status", .enumeration(["prospect", "active", "inactive"]), default: .string("active")),
            Field("tags", tags),
            Field("ownerId", .userReference),
        ],
        filters: [
            ListFilter("status", .enumeration(["prospect", "active", "inactive"])),
            ListFilter("owner", field: "ownerId", .userReference),
        ]
    )

    static let clientContact = EntitySchema(
        kind: .clientContact,
        summary: "A person at a client.",
        fields: [
            Field("clientId", .reference(.client), required: true),
            Field("firstName", name, required: true),
            Field("lastName", name, required: true),
            Field("email", .email),
            Field("phone", .phone),
            Field("title", .string(maxLength: 200)),
            Field("isPrimary", .boolean, default: .bool(false)),
        ],
        filters: [ListFilter("client", field: "clientId", .reference(.client))]
    )

    static let projectStatuses = ["planning", "active", "on_hold", "completed", "cancelled"]
    static let project = EntitySchema(
        kind: .project,
        summary: "A client's mandate: one or more positions to fill.",
        fields: [
            Field("clientId", .reference(.client), required: true),
            Field("name", .string(maxLength: 200), required: true),
            Field("description", text),
            Field("positions", .integer(min: 1, max: 1000), default: .int(1)),
            Field("priority", .enumeration(["low", "medium", "high", "urgent"]), default: .string("medium")),
            Field("status", .enumeration(projectStatuses), default: .string("active")),
            Field("startDate", .date),
            Field("endDate", .date),
            Field("ownerId", .userReference),
        ],
        filters: [
            ListFilter("client", field: "clientId", .reference(.client)),
            ListFilter("status", .enumeration(projectStatuses)),
            ListFilter("owner", field: "ownerId", .userReference),
        ]
    )

    static let jobStatuses = ["draft", "active", "paused", "closed"]
    static let job = EntitySchema(
        kind: .job,
        summary: "An open position at a client, with its own ordered pipeline.",
        fields: [
            Field("clientId", .reference(.client), required: true),
            Field("projectId", .reference(.project)),
            Field("title", .string(maxLength: 200), required: true),
            Field("description", text),
            Field("requirements", text),
            Field("location", .string(maxLength: 200)),
            Field("salaryMin", money),
            Field("salaryMax", money),
            Field("salaryCurrency", currency),
            Field("remote", .enumeration(remoteModes)),
            Field("employmentType", .enumeration(contractTypes)),
            Field("status", .enumeration(jobStatuses), default: .string("draft")),
            Field(
                "pipelineStages", .array(.string(maxLength: 60), maxItems: 30),
                default: .array(defaultPipelineStages.map(JSONValue.string)),
                "Ordered stage names; unique, at least one."),
            Field("requiredSkills", skills),
            Field("hiringManagerIds", .array(.userReference, maxItems: 20)),
            Field("openings", .integer(min: 1, max: 1000), default: .int(1)),
            Field("slaDays", .integer(min: 1, max: 365)),
            Field("tags", tags),
            Field("ownerId", .userReference),
        ],
        filters: [
            ListFilter("client", field: "clientId", .reference(.client)),
            ListFilter("project", field: "projectId", .reference(.project)),
            ListFilter("status", .enumeration(jobStatuses)),
            ListFilter("owner", field: "ownerId", .userReference),
        ]
    )

    static let applicationStatuses = ["active", "rejected", "withdrawn", "hired"]
    static let application = EntitySchema(
        kind: .application,
        summary: "A candidate in a job's pipeline; unique per candidate and job.",
        fields: [
            Field("candidateId", .reference(.candidate), required: true),
            Field("jobId", .reference(.job), required: true),
            Field("stage", .string(maxLength: 60), "A stage of the job's pipeline; the first one when absent."),
            Field("status", .enumeration(applicationStatuses), default: .string("active")),
            Field("source", .string(maxLength: 100)),
            Field("score", .number(min: 0, max: 100)),
            Field("rating", .integer(min: 1, max: 5)),
            Field("rejectionReason", .string(maxLength: 500)),
            Field("ownerId", .userReference),
            Field("stageChangedAt", .dateTime, readOnly: true),
        ],
        filters: [
            ListFilter("job", field: "jobId", .reference(.job)),
            ListFilter("candidate", field: "candidateId", .reference(.candidate)),
            ListFilter("stage", .string(maxLength: 60)),
            ListFilter("status", .enumeration(applicationStatuses)),
            ListFilter("owner", field: "ownerId", .userReference),
        ]
    )

    static let interviewStatuses = ["scheduled", "completed", "cancelled", "no_show"]
    static let interview = EntitySchema(
        kind: .interview,
        summary: "An interview of an application.",
        fields: [
            Field("applicationId", .reference(.application), required: true),
            Field("candidateId", .reference(.candidate), readOnly: true),
            Field("jobId", .reference(.job), readOnly: true),
            Field("scheduledAt", .dateTime, required: true),
            Field("durationMinutes", .integer(min: 5, max: 600), default: .int(60)),
            Field("type", .enumeration(["phone", "video", "onsite", "technical", "panel"]), default: .string("video")),
            Field("location", .string(maxLength: 300)),
            Field("interviewerIds", .array(.userReference, maxItems: 20)),
            Field("status", .enumeration(interviewStatuses), default: .string("scheduled")),
            Field("feedback", text),
            Field("rating", .integer(min: 1, max: 5)),
            Field("recommendation", .enumeration(["strong_yes", "yes", "no", "strong_no"])),
        ],
        filters: [
            ListFilter("application", field: "applicationId", .reference(.application)),
            ListFilter("candidate", field: "candidateId", .reference(.candidate)),
            ListFilter("job", field: "jobId", .reference(.job)),
            ListFilter("status", .enumeration(interviewStatuses)),
        ]
    )

    static let noteTypes = ["note", "call", "email", "meeting", "task"]
    static let note = EntitySchema(
        kind: .note,
        summary: "A note or activity on a candidate, an application or a job.",
        fields: [
            Field("body", .string(maxLength: 10_000), required: true),
            Field("type", .enumeration(noteTypes), default: .string("note")),
            Field("candidateId", .reference(.candidate)),
            Field("applicationId", .reference(.application)),
            Field("jobId", .reference(.job)),
            Field("pinned", .boolean, default: .bool(false)),
            Field("authorId", .userReference, readOnly: true),
        ],
        filters: [
            ListFilter("candidate", field: "candidateId", .reference(.candidate)),
            ListFilter("application", field: "applicationId", .reference(.application)),
            ListFilter("job", field: "jobId", .reference(.job)),
            ListFilter("type", .enumeration(noteTypes)),
        ]
    )

    static let documentKinds = ["cv", "cover_letter", "certificate", "attachment", "other"]
    public static let documentParseStates = ["none", "pending", "parsed", "failed"]
    static let document = EntitySchema(
        kind: .document,
        summary: "A CV or attachment of a candidate: a blob reference plus extracted text.",
        fields: [
            Field("candidateId", .reference(.candidate), required: true),
            Field("kind", .enumeration(documentKinds), default: .string("cv")),
            Field("filename", .string(maxLength: 255), required: true),
            // The file's facts are the server's: set from the uploaded bytes, never from input,
            // so no document can point at a file its organization did not upload.
            Field("contentType", .string(maxLength: 100), readOnly: true, "Decided from the content, not from the uploader."),
            Field("sizeBytes", .integer(min: 0, max: 10_000_000_000), readOnly: true),
            Field("sha256", .string(maxLength: 64), readOnly: true, "The file's SHA-256: its address in the blob store."),
            Field("extractedText", .string(maxLength: 200_000), readOnly: true),
            Field(
                "parseStatus", .enumeration(documentParseStates), readOnly: true,
                "none (no file, or not a CV), pending, parsed or failed (see parseError)."),
            Field("parseError", .string(maxLength: 500), readOnly: true, "Why text extraction or parsing failed."),
            Field(
                "parsed", .freeform, readOnly: true,
                "What the CV parser found: fields, per-field confidence (0 to 1), overall confidence, and which candidate fields it filled."),
        ],
        filters: [
            ListFilter("candidate", field: "candidateId", .reference(.candidate)),
            ListFilter("kind", .enumeration(documentKinds)),
        ]
    )

    static let emailTemplate = EntitySchema(
        kind: .emailTemplate,
        summary: "A reusable email with {{variables}}.",
        fields: [
            Field("name", .string(maxLength: 200), required: true),
            Field("subject", line, required: true),
            Field("body", text, required: true),
            Field("category", .string(maxLength: 100)),
        ],
        filters: [ListFilter("category", .string(maxLength: 100))]
    )

    static let messageStatuses = ["draft", "queued", "sent", "failed"]
    static let message = EntitySchema(
        kind: .message,
        summary: "An email in the outbox.",
        fields: [
            Field("to", .email, required: true),
            Field("subject", line, required: true),
            Field("body", text, required: true),
            Field("candidateId", .reference(.candidate)),
            Field("templateId", .reference(.emailTemplate)),
            Field("status", .enumeration(messageStatuses), default: .string("draft")),
            Field("sentAt", .dateTime, readOnly: true),
        ],
        filters: [
            ListFilter("candidate", field: "candidateId", .reference(.candidate)),
            ListFilter("status", .enumeration(messageStatuses)),
        ]
    )

    static let savedSearch = EntitySchema(
        kind: .savedSearch,
        summary: "A recruiter's named query and filters.",
        fields: [
            Field("name", .string(maxLength: 200), required: true),
            Field("query", .string(maxLength: 1000)),
            Field("filters", .freeform),
            Field("shared", .boolean, default: .bool(false)),
            Field("ownerId", .userReference, readOnly: true),
        ],
        filters: [ListFilter("owner", field: "ownerId", .userReference)]
    )
}
