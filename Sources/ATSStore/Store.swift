import ATSDomain

/// The system of record. Every call is scoped by organization: an id that belongs to another
/// organization behaves exactly like a missing one (`StoreError.notFound`), so tenants can
/// never tell each other's data apart from nothing.
///
/// Contract for every implementation (the conformance suite in `Tests/ATSStoreTests` checks it):
/// - each mutating call is one transaction: the row, its audit entry and anything derived
///   (stage history, tags) commit together or not at all;
/// - documents come back exactly as the schema normalized them, with `id`, `createdAt` and
///   `updatedAt` added;
/// - errors are `StoreError`s; native database errors never escape.
public protocol Store: Sendable {
    // MARK: Organizations
    func createOrganization(slug: String, name: String) async throws -> Organization
    func organization(slug: String) async throws -> Organization?
    func organization(id: String) async throws -> Organization?
    func organizations() async throws -> [Organization]
    func updateOrganization(id: String, name: String?, settings: JSONObject?, actor: String) async throws -> Organization

    // MARK: Users
    /// Email is unique per organization, compared case-insensitively (`.conflict` otherwise).
    func createUser(organizationID: String, email: String, name: String, role: Role, passwordHash: String, actor: String)
        async throws -> User
    func user(organizationID: String, id: String) async throws -> User?
    func user(organizationID: String, email: String) async throws -> User?
    func users(organizationID: String, role: Role?, page: PageRequest) async throws -> Page<User>
    /// A change that would leave the organization without an active admin (the last enabled
    /// admin demoted or disabled) is `StoreError.lastAdmin`, checked in the write's transaction.
    func updateUser(organizationID: String, id: String, change: UserChange, actor: String) async throws -> User
    /// Also ends the user's sessions. Deleting the last active admin is `StoreError.lastAdmin`.
    func deleteUser(organizationID: String, id: String, actor: String) async throws

    // MARK: API keys and sessions
    func createAPIKey(organizationID: String, name: String, role: Role, secretHash: String, prefix: String, actor: String)
        async throws -> APIKey
    /// Looks a key up by the SHA-256 of its secret, across organizations (the key names its own).
    func apiKey(secretHash: String) async throws -> (key: APIKey, organization: Organization)?
    func apiKey(organizationID: String, id: String) async throws -> APIKey?
    func apiKeys(organizationID: String, page: PageRequest) async throws -> Page<APIKey>
    func revokeAPIKey(organizationID: String, id: String, actor: String) async throws -> APIKey
    /// Records when a key was last used; callers throttle it, it is not a per-request write.
    func touchAPIKey(id: String, at: String) async throws

    func createSession(organizationID: String, userID: String, tokenHash: String, expiresAt: String) async throws
    /// A live (unexpired) session with its user and organization.
    func session(tokenHash: String, now: String) async throws -> (user: User, organization: Organization)?
    func deleteSession(tokenHash: String) async throws
    /// Removes expired sessions; returns how many.
    func deleteExpiredSessions(now: String) async throws -> Int

    // MARK: Entities
    /// Inserts a validated document (`EntitySchema.validateCreate`). Checks that references exist
    /// in the organization (`.invalidReference`), the rules of each kind (unique application per
    /// candidate and job, stages of the job's pipeline, a note's target, candidate duplicates by
    /// normalized email and phone unless `options.allowDuplicate`), and writes the audit entry.
    func create(_ kind: EntityKind, organizationID: String, fields: JSONObject, actor: String, options: WriteOptions)
        async throws -> Record
    func record(_ kind: EntityKind, organizationID: String, id: String) async throws -> Record?
    /// The records of `ids` that exist in the organization, in no particular order: one read
    /// for a batch (matching scores a few hundred at a time), where `record` would be one each.
    func records(_ kind: EntityKind, organizationID: String, ids: [String]) async throws -> [Record]
    /// The stored API document as JSON text, undecoded: the hot read path.
    func document(_ kind: EntityKind, organizationID: String, id: String) async throws -> String?
    /// Reads the current record, asks `change` for the new validated fields, applies the same
    /// rules as `create` and writes the audit entry with the changed fields' old and new values.
    /// A changed application `stage` is a stage move and is recorded in the history.
    func update(
        _ kind: EntityKind, organizationID: String, id: String, actor: String, options: WriteOptions,
        change: @Sendable (Record) throws -> JSONObject
    ) async throws -> Record
    /// Deleting a candidate removes what belongs to it (applications, notes, documents,
    /// interviews: the GDPR erasure); deleting a client, project or job that others still
    /// reference is a `.conflict`.
    func delete(_ kind: EntityKind, organizationID: String, id: String, actor: String) async throws
    /// A page of stored documents (JSON text, undecoded) in the query's order.
    func list(_ kind: EntityKind, organizationID: String, query: ListQuery) async throws -> Page<StoredDocument>

    // MARK: Pipelines
    /// Moves an application to another stage of its job's pipeline (`.invalidStage` otherwise)
    /// and records who moved it, when, from and to.
    func moveApplication(organizationID: String, id: String, to stage: String, actor: String, reason: String?)
        async throws -> Record
    /// Every stage move of an application, oldest first; `.notFound` for a missing application.
    func stageHistory(organizationID: String, applicationID: String) async throws -> [StageEvent]

    // MARK: Candidates
    /// Applies one action to many candidates; each id gets its own result, one failure does
    /// not stop the others.
    func bulkUpdateCandidates(organizationID: String, ids: [String], action: BulkAction, actor: String)
        async throws -> [BulkResult]
    /// Moves the duplicate's applications, notes, documents, interviews and messages onto the
    /// survivor, fills the survivor's empty fields and unites its lists, then deletes the
    /// duplicate. Where both applied to one job, the survivor's application stays and the
    /// duplicate's history is added to it.
    func mergeCandidates(organizationID: String, survivorID: String, duplicateID: String, actor: String)
        async throws -> Record

    // MARK: Audit
    func auditLog(organizationID: String, query: AuditQuery) async throws -> Page<AuditEntry>

    // MARK: Bulk load and operations
    /// Inserts records with their given ids and times and the stage history, without audit
    /// entries or duplicate checks: for the demo agency and imports of trusted data.
    func importRecords(organizationID: String, records: [Record], stageEvents: [StageEvent]) async throws
    /// Whether the store answers and its migrations are all applied.
    func readiness() async -> StoreReadiness
    /// Pool figures for `/metrics`.
    var figures: StoreFigures { get }

    // MARK: Imports
    /// Creates many records of one kind in one transaction, each row under its own savepoint with
    /// the same rules and audit entry as `create`: a row that breaks a rule (a duplicate ...)
    /// gets its error and the others go on. For imports, where one transaction per row is too slow.
    func createMany(_ kind: EntityKind, organizationID: String, fields: [JSONObject], actor: String, options: WriteOptions)
        async throws -> [Result<Record, StoreError>]

    // MARK: Change feed
    /// Entity changes committed after `sequence`, in commit order (the audit log read as a
    /// feed): what the search index follows. At most `limit`.
    func changes(after sequence: Int64, limit: Int) async throws -> [EntityChange]
    /// The sequence of the latest committed change (0 when none).
    func latestChangeSequence() async throws -> Int64

    // MARK: Analytics
    /// What analytics are computed from, read in one consistent snapshot: jobs with their
    /// pipelines, applications, the whole stage history and the notes written since `notesSince`.
    func analyticsFacts(organizationID: String, notesSince: String) async throws -> AnalyticsFacts
    /// Replaces the stored snapshot of `name` for the organization.
    func saveAnalyticsSnapshot(_ snapshot: AnalyticsSnapshot) async throws
    /// The latest snapshot of `name`, if one was computed.
    func analyticsSnapshot(organizationID: String, name: String) async throws -> AnalyticsSnapshot?
}

/// The rows analytics read; plain values so the figures can be computed (and tested) without a database.
public struct AnalyticsFacts: Sendable, Hashable {
    public struct Job: Sendable, Hashable {
        public var id: String
        public var clientID: String
        public var title: String
        public var status: String
        public var stages: [String]
        public var slaDays: Int?

        public init(id: String, clientID: String, title: String, status: String, stages: [String], slaDays: Int?) {
            self.id = id
            self.clientID = clientID
            self.title = title
            self.status = status
            self.stages = stages
            self.slaDays = slaDays
        }
    }

    public struct Application: Sendable, Hashable {
        public var id: String
        public var jobID: String
        public var candidateID: String
        public var stage: String
        public var status: String
        /// The application's own source, else the candidate's.
        public var source: String?
        public var createdAt: String
        public var stageChangedAt: String?

        public init(
            id: String, jobID: String, candidateID: String, stage: String, status: String, source: String?, createdAt: String,
            stageChangedAt: String?
        ) {
            self.id = id
            self.jobID = jobID
            self.candidateID = candidateID
            self.stage = stage
            self.status = status
            self.source = source
            self.createdAt = createdAt
            self.stageChangedAt = stageChangedAt
        }
    }

    /// One note: who wrote it (an actor, `user:<id>`) and when.
    public struct Note: Sendable, Hashable {
        public var actor: String
        public var at: String
        public init(actor: String, at: String) {
            self.actor = actor
            self.at = at
        }
    }

    public var clients: [String: String]
    public var jobs: [Job]
    public var applications: [Application]
    /// Oldest first per application.
    public var stageEvents: [StageEvent]
    public var notes: [Note]
    /// User id -> display name, for recruiter activity.
    public var userNames: [String: String]

    public init(
        clients: [String: String] = [:], jobs: [Job] = [], applications: [Application] = [], stageEvents: [StageEvent] = [],
        notes: [Note] = [], userNames: [String: String] = [:]
    ) {
        self.clients = clients
        self.jobs = jobs
        self.applications = applications
        self.stageEvents = stageEvents
        self.notes = notes
        self.userNames = userNames
    }
}

/// One computed analytics document (funnel, time-to-hire ...), kept until the next refresh.
public struct AnalyticsSnapshot: Sendable, Hashable {
    public var organizationID: String
    public var name: String
    public var computedAt: String
    public var document: JSONObject

    public init(organizationID: String, name: String, computedAt: String, document: JSONObject) {
        self.organizationID = organizationID
        self.name = name
        self.computedAt = computedAt
        self.document = document
    }
}

/// One stored entity.
public struct Record: Sendable, Hashable {
    public let kind: EntityKind
    public let id: String
    public let createdAt: String
    public let updatedAt: String
    /// The schema fields, read-only ones included.
    public let fields: JSONObject

    public init(kind: EntityKind, id: String, createdAt: String, updatedAt: String, fields: JSONObject) {
        self.kind = kind
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.fields = fields
    }

    /// The API document: the fields plus `id`, `createdAt` and `updatedAt`.
    public var document: JSONObject {
        var doc = fields
        doc["id"] = .string(id)
        doc["createdAt"] = .string(createdAt)
        doc["updatedAt"] = .string(updatedAt)
        return doc
    }

    /// The API document as JSON text (sorted keys); what the store keeps, so reads can
    /// hand it out without decoding.
    public var json: String { JSONCoding.encode(document) }

    public subscript(field: String) -> JSONValue? { fields[field] }
}

/// A stored document as the store keeps it: JSON text, so lists are served without decoding.
public struct StoredDocument: Sendable, Hashable {
    public let id: String
    public let json: String

    public init(id: String, json: String) {
        self.id = id
        self.json = json
    }
}

public struct WriteOptions: Sendable, Hashable {
    /// Create or update a candidate even when another has the same email or phone.
    public var allowDuplicate: Bool
    /// The writer is the appliance itself (the file tier recording a document's file, its text
    /// and parse): the read-only fields it passes are kept (`null` removes one) instead of being
    /// reset to their stored values. Never set from a request's input.
    public var systemFields: Bool
    public init(allowDuplicate: Bool = false, systemFields: Bool = false) {
        self.allowDuplicate = allowDuplicate
        self.systemFields = systemFields
    }
}

/// A change to a user; nil fields stay as they are.
public struct UserChange: Sendable, Hashable {
    public var name: String?
    public var email: String?
    public var role: Role?
    public var disabled: Bool?
    public var passwordHash: String?

    public init(name: String? = nil, email: String? = nil, role: Role? = nil, disabled: Bool? = nil, passwordHash: String? = nil) {
        self.name = name
        self.email = email
        self.role = role
        self.disabled = disabled
        self.passwordHash = passwordHash
    }
}

/// Which page of a list to read.
public struct PageRequest: Sendable, Hashable {
    public static let maxLimit = 200
    public static let defaultLimit = 50
    public var limit: Int
    public var cursor: Cursor?

    public init(limit: Int = PageRequest.defaultLimit, cursor: Cursor? = nil) {
        self.limit = min(max(limit, 1), PageRequest.maxLimit)
        self.cursor = cursor
    }
}

public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// Present when more rows follow.
    public var nextCursor: Cursor?

    public init(items: [Item], nextCursor: Cursor?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// The order of a list: by creation or last update, either way; ties broken by id.
public struct SortOrder: Sendable, Hashable {
    public enum Key: String, Sendable, CaseIterable { case createdAt, updatedAt }
    public var key: Key
    public var descending: Bool

    public init(key: Key = .createdAt, descending: Bool = true) {
        self.key = key
        self.descending = descending
    }

    /// `createdAt`, `-createdAt`, `updatedAt`, `-updatedAt`.
    public init?(parameter: String) {
        let descending = parameter.hasPrefix("-")
        guard let key = Key(rawValue: descending ? String(parameter.dropFirst()) : parameter) else { return nil }
        self.init(key: key, descending: descending)
    }

    public static let allParameters = Key.allCases.flatMap { [$0.rawValue, "-\($0.rawValue)"] }
}

public struct ListQuery: Sendable, Hashable {
    /// Equality filters on document fields that `EntitySchema.filters` names.
    public var equals: [String: String]
    /// Rows carrying this tag.
    public var tag: String?
    /// Rows updated at or after this RFC 3339 time.
    public var updatedSince: String?
    public var sort: SortOrder
    public var page: PageRequest

    public init(
        equals: [String: String] = [:], tag: String? = nil, updatedSince: String? = nil, sort: SortOrder = SortOrder(),
        page: PageRequest = PageRequest()
    ) {
        self.equals = equals
        self.tag = tag
        self.updatedSince = updatedSince
        self.sort = sort
        self.page = page
    }
}

/// One stage move of an application.
public struct StageEvent: Sendable, Hashable, Codable {
    public let id: String
    public let applicationID: String
    public let fromStage: String?
    public let toStage: String
    public let actor: String
    public let at: String
    public let reason: String?

    public init(id: String, applicationID: String, fromStage: String?, toStage: String, actor: String, at: String, reason: String? = nil) {
        self.id = id
        self.applicationID = applicationID
        self.fromStage = fromStage
        self.toStage = toStage
        self.actor = actor
        self.at = at
        self.reason = reason
    }
}

public enum BulkAction: Sendable, Hashable {
    case tag([String])
    case untag([String])
    case archive
    case unarchive
}

public struct BulkResult: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Codable { case updated, unchanged, notFound = "not_found" }
    public let id: String
    public let outcome: Outcome

    public init(id: String, outcome: Outcome) {
        self.id = id
        self.outcome = outcome
    }
}

/// Who changed what: the old and new values of the changed fields.
/// One committed change of the change feed.
public struct EntityChange: Sendable, Hashable {
    public let sequence: Int64
    public let organizationID: String
    /// The audit entity name (`candidate`, `job`, `application` ...).
    public let entity: String
    public let entityID: String
    public let action: String
    /// For an application, note or document: the candidate it belongs to, when recorded.
    public let candidateID: String?

    public init(sequence: Int64, organizationID: String, entity: String, entityID: String, action: String, candidateID: String?) {
        self.sequence = sequence
        self.organizationID = organizationID
        self.entity = entity
        self.entityID = entityID
        self.action = action
        self.candidateID = candidateID
    }
}

public struct AuditEntry: Sendable, Hashable {
    public let id: String
    public let at: String
    public let actor: String
    /// `create`, `update`, `delete`, `move`, `merge`, `bulk`, `revoke` ...
    public let action: String
    /// The entity name (`candidate`, `user`, `api_key`, `organization` ...).
    public let entity: String
    public let entityID: String
    public let old: JSONObject?
    public let new: JSONObject?

    public init(id: String, at: String, actor: String, action: String, entity: String, entityID: String, old: JSONObject?, new: JSONObject?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.entity = entity
        self.entityID = entityID
        self.old = old
        self.new = new
    }
}

public struct AuditQuery: Sendable, Hashable {
    public var entity: String?
    public var entityID: String?
    public var actor: String?
    public var page: PageRequest

    public init(entity: String? = nil, entityID: String? = nil, actor: String? = nil, page: PageRequest = PageRequest()) {
        self.entity = entity
        self.entityID = entityID
        self.actor = actor
        self.page = page
    }
}

public struct StoreReadiness: Sendable, Hashable {
    public var reachable: Bool
    public var pendingMigrations: [String]
    public var detail: String?

    public init(reachable: Bool, pendingMigrations: [String], detail: String? = nil) {
        self.reachable = reachable
        self.pendingMigrations = pendingMigrations
        self.detail = detail
    }

    public var isReady: Bool { reachable && pendingMigrations.isEmpty }
}

/// A snapshot of the pool: how busy it is and how long callers waited for a connection.
public struct StoreFigures: Sendable, Hashable {
    public var readers: Int
    public var readsInFlight: Int
    public var writesInFlight: Int
    public var reads: Int
    public var writes: Int
    /// Total seconds callers waited to get a reader or the writer.
    public var readWaitSeconds: Double
    public var writeWaitSeconds: Double

    public init(readers: Int = 0, readsInFlight: Int = 0, writesInFlight: Int = 0, reads: Int = 0, writes: Int = 0,
                readWaitSeconds: Double = 0, writeWaitSeconds: Double = 0) {
        self.readers = readers
        self.readsInFlight = readsInFlight
        self.writesInFlight = writesInFlight
        self.reads = reads
        self.writes = writes
        self.readWaitSeconds = readWaitSeconds
        self.writeWaitSeconds = writeWaitSeconds
    }
}
