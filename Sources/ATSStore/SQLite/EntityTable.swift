import ATSDomain
import GRDB

/// How one entity kind is laid out in SQLite: the document plus the columns promoted out of it
/// for filters, references and uniqueness. Must agree with the migrations.
struct EntityTable: Sendable {
    /// A column derived from the document.
    struct Column: Sendable {
        let name: String
        /// The document field it mirrors; list filters on that field use the column.
        let field: String?
        let value: @Sendable (JSONObject) -> DatabaseValue
        let isBoolean: Bool
    }

    let kind: EntityKind
    let name: String
    let columns: [Column]
    let insertSQL: String
    let updateSQL: String
    let selectDocSQL: String
    let selectRowSQL: String
    let deleteSQL: String
    let existsSQL: String

    init(_ kind: EntityKind, _ columns: [Column]) {
        self.kind = kind
        self.name = kind.table
        self.columns = columns
        let names = ["id", "org_id", "created_at", "updated_at", "doc"] + columns.map(\.name)
        insertSQL =
            "INSERT INTO \(name) (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
        let sets = (["updated_at", "doc"] + columns.map(\.name)).map { "\($0) = ?" }.joined(separator: ", ")
        updateSQL = "UPDATE \(name) SET \(sets) WHERE org_id = ? AND id = ?"
        selectDocSQL = "SELECT doc FROM \(name) WHERE org_id = ? AND id = ?"
        selectRowSQL = "SELECT created_at, updated_at, doc FROM \(name) WHERE org_id = ? AND id = ?"
        deleteSQL = "DELETE FROM \(name) WHERE org_id = ? AND id = ?"
        existsSQL = "SELECT 1 FROM \(name) WHERE org_id = ? AND id = ?"
    }

    /// The promoted values of a document, in `columns` order.
    func values(_ fields: JSONObject) -> [DatabaseValue] { columns.map { $0.value(fields) } }

    /// The column behind a list filter, by document field (`ownerId`) or parameter name (`owner`).
    func filterColumn(_ key: String) -> Column? {
        let schema = EntitySchema.of(kind)
        guard let filter = schema.filters.first(where: { $0.field == key }) ?? schema.filters.first(where: { $0.name == key })
        else { return nil }
        return columns.first { $0.field == filter.field }
    }

    static func text(_ column: String, _ field: String) -> Column {
        Column(name: column, field: field, value: { $0[field]?.stringValue?.databaseValue ?? .null }, isBoolean: false)
    }

    static func bool(_ column: String, _ field: String) -> Column {
        Column(name: column, field: field, value: { ($0[field]?.boolValue ?? false) ? 1.databaseValue : 0.databaseValue }, isBoolean: true)
    }

    static let all: [EntityKind: EntityTable] = {
        let owner = text("owner_id", "ownerId")
        let status = text("status", "status")
        let candidate = text("candidate_id", "candidateId")
        let tables = [
            EntityTable(
                .candidate,
                [
                    status, owner, bool("archived", "archived"), text("source", "source"),
                    Column(
                        name: "email_norm", field: nil,
                        value: { $0["email"]?.stringValue.map { Normalize.email($0).databaseValue } ?? .null },
                        isBoolean: false),
                    Column(
                        name: "phone_norm", field: nil,
                        value: { fields in
                            guard let phone = fields["phone"]?.stringValue else { return .null }
                            let normalized = Normalize.phone(phone)
                            return normalized.isEmpty ? .null : normalized.databaseValue
                        }, isBoolean: false),
                ]),
            EntityTable(.client, [status, owner]),
            EntityTable(.clientContact, [text("client_id", "clientId")]),
            EntityTable(.project, [text("client_id", "clientId"), status, owner]),
            EntityTable(.job, [text("client_id", "clientId"), text("project_id", "projectId"), status, owner]),
            EntityTable(.application, [candidate, text("job_id", "jobId"), text("stage", "stage"), status, owner]),
            EntityTable(
                .interview, [text("application_id", "applicationId"), candidate, text("job_id", "jobId"), status]),
            EntityTable(
                .note, [candidate, text("application_id", "applicationId"), text("job_id", "jobId"), text("type", "type")]),
            EntityTable(.document, [candidate, text("kind", "kind")]),
            EntityTable(.emailTemplate, [text("category", "category")]),
            EntityTable(.message, [candidate, text("template_id", "templateId"), status]),
            EntityTable(.savedSearch, [owner]),
        ]
        return Dictionary(uniqueKeysWithValues: tables.map { ($0.kind, $0) })
    }()

    static func of(_ kind: EntityKind) -> EntityTable { all[kind]! }
}

extension EntityKind {
    /// The name the audit log gives this kind: singular, snake case (`candidate`, `client_contact`).
    public var auditEntity: String {
        switch self {
        case .clientContact: "client_contact"
        case .emailTemplate: "email_template"
        case .savedSearch: "saved_search"
        default: rawValue
        }
    }

    /// The kind an audit entity name means, accepting the kind's raw value, its table and its
    /// audit name, so `?entity=` works with any of the spellings the API shows.
    public init?(auditEntity name: String) {
        guard let kind = EntityKind.allCases.first(where: { $0.auditEntity == name || $0.rawValue == name || $0.table == name })
        else { return nil }
        self = kind
    }
}
