/// The agency entities that the generic API serves (create, read, update, delete, list).
/// Organizations, users, API keys and sessions are handled on their own: they carry secrets.
public enum EntityKind: String, Sendable, CaseIterable, Hashable {
    case candidate
    case client
    case clientContact
    case project
    case job
    case application
    case interview
    case note
    case document
    case emailTemplate
    case message
    case savedSearch

    /// The URL collection segment under `/api/v1`.
    public var pathSegment: String {
        switch self {
        case .candidate: "candidates"
        case .client: "clients"
        case .clientContact: "client-contacts"
        case .project: "projects"
        case .job: "jobs"
        case .application: "applications"
        case .interview: "interviews"
        case .note: "notes"
        case .document: "documents"
        case .emailTemplate: "email-templates"
        case .message: "messages"
        case .savedSearch: "saved-searches"
        }
    }

    /// The SQL table (and the audit log's entity name).
    public var table: String {
        switch self {
        case .candidate: "candidates"
        case .client: "clients"
        case .clientContact: "client_contacts"
        case .project: "projects"
        case .job: "jobs"
        case .application: "applications"
        case .interview: "interviews"
        case .note: "notes"
        case .document: "documents"
        case .emailTemplate: "email_templates"
        case .message: "messages"
        case .savedSearch: "saved_searches"
        }
    }

    /// The OpenAPI schema name.
    public var schemaName: String {
        switch self {
        case .candidate: "Candidate"
        case .client: "Client"
        case .clientContact: "ClientContact"
        case .project: "Project"
        case .job: "Job"
        case .application: "Application"
        case .interview: "Interview"
        case .note: "Note"
        case .document: "Document"
        case .emailTemplate: "EmailTemplate"
        case .message: "Message"
        case .savedSearch: "SavedSearch"
        }
    }

    /// For messages: "candidate", "client contact".
    public var singular: String {
        switch self {
        case .clientContact: "client contact"
        case .emailTemplate: "email template"
        case .savedSearch: "saved search"
        default: rawValue
        }
    }
}
