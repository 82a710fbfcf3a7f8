import ATSDomain
import ATSStore
import Foundation
import Logging
import Testing

/// One way to get a fresh, migrated, empty store. The conformance suite runs once per factory;
/// a scale-out backend (PostgreSQL) joins by adding itself to `all`.
struct StoreFactory: Sendable, CustomTestStringConvertible {
    let name: String
    /// A fresh store and the clean-up that removes it.
    let make: @Sendable () async throws -> (store: any Store, cleanup: @Sendable () async -> Void)

    var testDescription: String { name }

    static let sqlite = StoreFactory(name: "SQLite") {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteStore(
            path: folder.appendingPathComponent("ats.sqlite").path, logger: Logger(label: "test.store"))
        try store.migrate()
        return (store, { try? FileManager.default.removeItem(at: folder) })
    }

    static let all: [StoreFactory] = [.sqlite]
}

/// Runs `body` against a fresh store from `factory` and removes the store afterwards.
func withStore(_ factory: StoreFactory, _ body: (any Store) async throws -> Void) async throws {
    let (store, cleanup) = try await factory.make()
    do {
        try await body(store)
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
}

/// An agency with one recruiter, and helpers that create entities the way the HTTP layer does.
struct Agency {
    let store: any Store
    let organization: Organization
    let user: User
    var actor: String { "user:\(user.id)" }
    var org: String { organization.id }

    static func make(_ store: any Store, slug: String = "acme") async throws -> Agency {
        let organization = try await store.createOrganization(slug: slug, name: "Acme \(slug)")
        let user = try await store.createUser(
            organizationID: organization.id, email: "rec@\(slug).example", name: "Rita Recruiter", role: .recruiter,
            passwordHash: "hash", actor: "system")
        return Agency(store: store, organization: organization, user: user)
    }

    func create(_ kind: EntityKind, _ input: JSONObject, allowDuplicate: Bool = false) async throws -> Record {
        let fields = try EntitySchema.of(kind).validateCreate(input)
        return try await store.create(
            kind, organizationID: org, fields: fields, actor: actor, options: WriteOptions(allowDuplicate: allowDuplicate))
    }

    func patch(_ kind: EntityKind, _ id: String, _ patch: JSONObject, allowDuplicate: Bool = false) async throws -> Record {
        try await store.update(
            kind, organizationID: org, id: id, actor: actor, options: WriteOptions(allowDuplicate: allowDuplicate)
        ) { record in
            try EntitySchema.of(kind).validatePatch(patch, onto: record.fields)
        }
    }

    func candidate(_ first: String = "Ada", _ last: String = "Lovelace", email: String? = nil, phone: String? = nil,
                   tags: [String] = [], extra: JSONObject = [:]) async throws -> Record {
        var input: JSONObject = ["firstName": .string(first), "lastName": .string(last)]
        if let email { input["email"] = .string(email) }
        if let phone { input["phone"] = .string(phone) }
        if !tags.isEmpty { input["tags"] = .array(tags.map(JSONValue.string)) }
        input.merge(extra) { _, new in new }
        return try await create(.candidate, input)
    }

    func client(_ name: String = "Globex") async throws -> Record {
        try await create(.client, ["name": .string(name)])
    }

    func job(client: String, stages: [String]? = nil, title: String = "Engineer") async throws -> Record {
        var input: JSONObject = ["clientId": .string(client), "title": .string(title)]
        if let stages { input["pipelineStages"] = .array(stages.map(JSONValue.string)) }
        return try await create(.job, input)
    }

    func application(candidate: String, job: String, stage: String? = nil) async throws -> Record {
        var input: JSONObject = ["candidateId": .string(candidate), "jobId": .string(job)]
        if let stage { input["stage"] = .string(stage) }
        return try await create(.application, input)
    }

    func audit(_ entityID: String) async throws -> [AuditEntry] {
        try await store.auditLog(organizationID: org, query: AuditQuery(entityID: entityID, page: PageRequest(limit: 200))).items
    }
}

/// The `StoreError` code `body` throws, or nil when it succeeds or throws something else.
func storeErrorCode(_ body: () async throws -> Void) async -> StoreError.Code? {
    do {
        try await body()
        return nil
    } catch let error as StoreError {
        return error.code
    } catch {
        return nil
    }
}

func storeError(_ body: () async throws -> Void) async -> StoreError? {
    do {
        try await body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        return nil
    }
}
