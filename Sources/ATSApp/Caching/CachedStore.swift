import ATSCache
import ATSDomain
import ATSStore
import ATSTelemetry
import Logging
import ServiceLifecycle
import Synchronization
import Tracing

/// The store as the server sees it: cache-aside for entity documents and list pages,
/// write-through on updates, and a span for every store call.
///
/// Invalidation is by generation numbers kept in the cache, never by scanning keys. A document's
/// key carries three generations of its organization: the organization's epoch (bumped by
/// writes that touch many kinds: merges, cascading deletes, bulk loads), the kind's (bulk
/// changes of one kind) and the document's shard of the kind (one of 64, by id), bumped by a
/// write of one document. A list page's key carries the epoch and the kind's list generation,
/// bumped by every write of that kind. A write commits first and bumps after, so a read that
/// saw the old generation can only fill a key nobody asks for again, and a read that saw the
/// new one started after the commit: no stale read after a write. Keys always begin with the
/// organization id, so tenants never share an entry.
///
/// Writes made by another process (`ats worker`, the CLI) are noticed through the store's
/// change mark, polled by `run()`: a change moves the local epoch, which every key carries.
public final class CachedStore: Store, Service {
    public let base: any Store
    let cache: any Cache
    let ttl: Duration
    let tracer: any Tracer
    let changeMark: (@Sendable () async throws -> Int64?)?
    let logger: Logger
    /// Moved when another process wrote; part of every key.
    let localEpoch = Atomic<UInt64>(0)
    static let shards = 64
    static let pollInterval: Duration = .milliseconds(250)

    public init(
        base: any Store, cache: any Cache, ttl: Duration, tracer: any Tracer,
        changeMark: (@Sendable () async throws -> Int64?)?, logger: Logger
    ) {
        self.base = base
        self.cache = cache
        self.ttl = ttl
        self.tracer = tracer
        self.changeMark = changeMark
        self.logger = logger
    }

    /// The local epoch: other caches keyed on the store (search results) carry it too.
    public var epoch: UInt64 { localEpoch.load(ordering: .relaxed) }

    /// Watches the change mark until graceful shutdown.
    public func run() async throws {
        guard let changeMark else { return }
        var last = try? await changeMark()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: Self.pollInterval)
            guard let mark = try? await changeMark() else { continue }
            if mark != last {
                localEpoch.add(1, ordering: .relaxed)
                last = mark
            }
        }
    }

    // MARK: Keys

    enum Generation {
        case epoch
        case kind(EntityKind)
        case shard(EntityKind, Int)
        case list(EntityKind)

        func key(_ org: String) -> String {
            switch self {
            case .epoch: "g:\(org):e"
            case .kind(let kind): "g:\(org):k:\(kind.rawValue)"
            case .shard(let kind, let shard): "g:\(org):s:\(kind.rawValue):\(shard)"
            case .list(let kind): "g:\(org):l:\(kind.rawValue)"
            }
        }
    }

    static func shard(_ id: String) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in id.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int(hash % UInt32(shards))
    }

    func generation(_ generation: Generation, _ org: String) async throws -> UInt64 {
        try await cache.generation(generation.key(org))
    }

    func documentKey(_ kind: EntityKind, _ org: String, _ id: String) async throws -> String {
        let epoch = try await generation(.epoch, org)
        let kindGeneration = try await generation(.kind(kind), org)
        let shard = try await generation(.shard(kind, Self.shard(id)), org)
        return "d:\(org):\(kind.rawValue):\(localEpoch.load(ordering: .relaxed)).\(epoch).\(kindGeneration).\(shard):\(id)"
    }

    func listKey(_ kind: EntityKind, _ org: String, _ query: ListQuery) async throws -> String {
        let epoch = try await generation(.epoch, org)
        let list = try await generation(.list(kind), org)
        return "l:\(org):\(kind.rawValue):\(localEpoch.load(ordering: .relaxed)).\(epoch).\(list):\(Self.describe(query))"
    }

    /// A canonical text of everything that decides a page (filter values are the caller's text,
    /// kept whole: the key is never logged or exported).
    static func describe(_ query: ListQuery) -> String {
        // Every part length-prefixed: no value can pass for another part.
        func part(_ text: String) -> String { "\(text.utf8.count):\(text)" }
        var text = "\(query.sort.descending ? "-" : "+")\(query.sort.key.rawValue)|\(query.page.limit)|"
        text += part(query.page.cursor.map { $0.value + "," + $0.id } ?? "")
        text += part(query.tag ?? "") + part(query.updatedSince ?? "")
        for (field, value) in query.equals.sorted(by: { $0.key < $1.key }) {
            text += part(field) + part(value)
        }
        return text
    }

    /// Makes the writes of `kinds` visible: call after the write committed. Returns the new
    /// shard generation of each document, for its write-through.
    @discardableResult
    func invalidate(
        _ org: String, documents: [(EntityKind, String)] = [], kinds: [EntityKind] = [], lists: [EntityKind] = [],
        everything: Bool = false
    ) async -> [String: UInt64] {
        var shards: [String: UInt64] = [:]
        do {
            if everything { try await cache.bumpGeneration(Generation.epoch.key(org)) }
            for kind in kinds { try await cache.bumpGeneration(Generation.kind(kind).key(org)) }
            for (kind, id) in documents {
                shards[id] = try await cache.bumpGeneration(Generation.shard(kind, Self.shard(id)).key(org))
            }
            for kind in Set(lists + kinds + documents.map(\.0)) {
                try await cache.bumpGeneration(Generation.list(kind).key(org))
            }
        } catch {
            // A cache that cannot be told is a cache that must not be trusted: move the local
            // epoch, which every key of this process carries.
            localEpoch.add(1, ordering: .relaxed)
            logger.warning("cache invalidation failed; local epoch moved", metadata: ["error_type": "\(type(of: error))"])
            return [:]
        }
        return shards
    }

    /// Stores a document just written under the key of the generation this write moved its
    /// shard to. A later write moves it further, so an earlier write's value landing late
    /// sits under a key nobody reads.
    func writeThrough(_ kind: EntityKind, _ org: String, _ record: Record, shard: UInt64?) async {
        guard let shard else { return }
        do {
            let epoch = try await generation(.epoch, org)
            let kindGeneration = try await generation(.kind(kind), org)
            let key = "d:\(org):\(kind.rawValue):\(localEpoch.load(ordering: .relaxed)).\(epoch).\(kindGeneration).\(shard):\(record.id)"
            try await cache.set(key, Array(record.json.utf8), ttl: ttl)
        } catch {
            // Nothing cached: the next read loads it.
        }
    }

    // MARK: Spans

    /// Whether the current request is traced: an unsampled one gets no child spans at all,
    /// not even non-recording ones (the cached read is the hot path).
    static var isTraced: Bool { ServiceContext.current?.w3cTraceContext?.isSampled ?? false }

    func traced<T>(_ operation: String, kind: EntityKind? = nil, _ body: () async throws -> T) async throws -> T {
        guard Self.isTraced else { return try await body() }
        return try await tracer.withSpan("db." + operation, ofKind: .client) { span in
            if span.isRecording {
                span.attributes["db.system.name"] = "sqlite"
                span.attributes["db.operation.name"] = operation
                if let kind { span.attributes["ats.entity"] = kind.rawValue }
            }
            return try await body()
        }
    }

    func cached(_ key: String, _ load: @escaping @Sendable () async throws -> [UInt8]?) async throws -> [UInt8]? {
        let cache = self.cache
        let ttl = self.ttl
        guard Self.isTraced else { return try await cache.fetch(key, ttl: ttl, loader: load) }
        return try await tracer.withSpan("cache.fetch", ofKind: .internal) { span in
            let loaded = Atomic<Bool>(false)
            let value = try await cache.fetch(key, ttl: ttl) {
                loaded.store(true, ordering: .relaxed)
                return try await load()
            }
            // Whether this call started a load (a miss, or an early refresh it triggered); a
            // caller that waited for another's load did not.
            if span.isRecording { span.attributes["ats.cache.loaded"] = loaded.load(ordering: .relaxed) }
            return value
        }
    }

    // MARK: Cached reads

    public func document(_ kind: EntityKind, organizationID: String, id: String) async throws -> String? {
        let key = try await documentKey(kind, organizationID, id)
        let base = self.base
        let tracer = self.tracer
        let bytes = try await cached(key) {
            guard Self.isTraced else { return try await base.document(kind, organizationID: organizationID, id: id).map { Array($0.utf8) } }
            return try await tracer.withSpan("db.document", ofKind: .client) { span in
                if span.isRecording {
                    span.attributes["db.system.name"] = "sqlite"
                    span.attributes["ats.entity"] = kind.rawValue
                }
                return try await base.document(kind, organizationID: organizationID, id: id).map { Array($0.utf8) }
            }
        }
        return bytes.map { String(decoding: $0, as: UTF8.self) }
    }

    public func list(_ kind: EntityKind, organizationID: String, query: ListQuery) async throws -> Page<StoredDocument> {
        let key = try await listKey(kind, organizationID, query)
        let base = self.base
        let tracer = self.tracer
        let bytes = try await cached(key) {
            guard Self.isTraced else { return PageCoding.encode(try await base.list(kind, organizationID: organizationID, query: query)) }
            return try await tracer.withSpan("db.list", ofKind: .client) { span in
                if span.isRecording {
                    span.attributes["db.system.name"] = "sqlite"
                    span.attributes["ats.entity"] = kind.rawValue
                }
                return PageCoding.encode(try await base.list(kind, organizationID: organizationID, query: query))
            }
        }
        guard let bytes, let page = PageCoding.decode(bytes) else {
            return try await traced("list", kind: kind) { try await base.list(kind, organizationID: organizationID, query: query) }
        }
        return page
    }

    // MARK: Entity writes

    public func create(_ kind: EntityKind, organizationID: String, fields: JSONObject, actor: String, options: WriteOptions)
        async throws -> Record
    {
        let record = try await traced("create", kind: kind) {
            try await base.create(kind, organizationID: organizationID, fields: fields, actor: actor, options: options)
        }
        let shards = await invalidate(organizationID, documents: [(kind, record.id)])
        await writeThrough(kind, organizationID, record, shard: shards[record.id])
        return record
    }

    public func record(_ kind: EntityKind, organizationID: String, id: String) async throws -> Record? {
        try await traced("record", kind: kind) { try await base.record(kind, organizationID: organizationID, id: id) }
    }

    public func records(_ kind: EntityKind, organizationID: String, ids: [String]) async throws -> [Record] {
        try await traced("records", kind: kind) { try await base.records(kind, organizationID: organizationID, ids: ids) }
    }

    public func update(
        _ kind: EntityKind, organizationID: String, id: String, actor: String, options: WriteOptions,
        change: @Sendable (Record) throws -> JSONObject
    ) async throws -> Record {
        let record = try await traced("update", kind: kind) {
            try await base.update(kind, organizationID: organizationID, id: id, actor: actor, options: options, change: change)
        }
        let shards = await invalidate(organizationID, documents: [(kind, id)])
        await writeThrough(kind, organizationID, record, shard: shards[id])
        return record
    }

    public func delete(_ kind: EntityKind, organizationID: String, id: String, actor: String) async throws {
        try await traced("delete", kind: kind) {
            try await base.delete(kind, organizationID: organizationID, id: id, actor: actor)
        }
        // A deleted candidate takes its applications, notes, documents and interviews along; a
        // deleted application its notes and interviews.
        await invalidate(organizationID, documents: [(kind, id)], everything: kind == .candidate || kind == .application)
    }

    public func moveApplication(organizationID: String, id: String, to stage: String, actor: String, reason: String?)
        async throws -> Record
    {
        let record = try await traced("move_application", kind: .application) {
            try await base.moveApplication(organizationID: organizationID, id: id, to: stage, actor: actor, reason: reason)
        }
        let shards = await invalidate(organizationID, documents: [(.application, id)])
        await writeThrough(.application, organizationID, record, shard: shards[id])
        return record
    }

    public func bulkUpdateCandidates(organizationID: String, ids: [String], action: BulkAction, actor: String)
        async throws -> [BulkResult]
    {
        let results = try await traced("bulk_update", kind: .candidate) {
            try await base.bulkUpdateCandidates(organizationID: organizationID, ids: ids, action: action, actor: actor)
        }
        await invalidate(organizationID, kinds: [.candidate])
        return results
    }

    public func mergeCandidates(organizationID: String, survivorID: String, duplicateID: String, actor: String)
        async throws -> Record
    {
        let record = try await traced("merge", kind: .candidate) {
            try await base.mergeCandidates(organizationID: organizationID, survivorID: survivorID, duplicateID: duplicateID, actor: actor)
        }
        await invalidate(organizationID, everything: true)
        return record
    }

    public func importRecords(organizationID: String, records: [Record], stageEvents: [StageEvent]) async throws {
        try await traced("import_records") {
            try await base.importRecords(organizationID: organizationID, records: records, stageEvents: stageEvents)
        }
        await invalidate(organizationID, everything: true)
    }

    public func createMany(_ kind: EntityKind, organizationID: String, fields: [JSONObject], actor: String, options: WriteOptions)
        async throws -> [Result<Record, StoreError>]
    {
        let results = try await traced("create_many", kind: kind) {
            try await base.createMany(kind, organizationID: organizationID, fields: fields, actor: actor, options: options)
        }
        await invalidate(organizationID, lists: [kind])
        return results
    }

    // MARK: Pass-through (traced, not cached)

    public func createOrganization(slug: String, name: String) async throws -> Organization {
        try await traced("create_organization") { try await base.createOrganization(slug: slug, name: name) }
    }

    public func organization(slug: String) async throws -> Organization? {
        try await traced("organization") { try await base.organization(slug: slug) }
    }

    public func organization(id: String) async throws -> Organization? {
        try await traced("organization") { try await base.organization(id: id) }
    }

    public func organizations() async throws -> [Organization] {
        try await traced("organizations") { try await base.organizations() }
    }

    public func updateOrganization(id: String, name: String?, settings: JSONObject?, actor: String) async throws -> Organization {
        try await traced("update_organization") {
            try await base.updateOrganization(id: id, name: name, settings: settings, actor: actor)
        }
    }

    public func createUser(organizationID: String, email: String, name: String, role: Role, passwordHash: String, actor: String)
        async throws -> User
    {
        try await traced("create_user") {
            try await base.createUser(
                organizationID: organizationID, email: email, name: name, role: role, passwordHash: passwordHash, actor: actor)
        }
    }

    public func user(organizationID: String, id: String) async throws -> User? {
        try await traced("user") { try await base.user(organizationID: organizationID, id: id) }
    }

    public func user(organizationID: String, email: String) async throws -> User? {
        try await traced("user") { try await base.user(organizationID: organizationID, email: email) }
    }

    public func users(organizationID: String, role: Role?, page: PageRequest) async throws -> Page<User> {
        try await traced("users") { try await base.users(organizationID: organizationID, role: role, page: page) }
    }

    public func updateUser(organizationID: String, id: String, change: UserChange, actor: String) async throws -> User {
        try await traced("update_user") {
            try await base.updateUser(organizationID: organizationID, id: id, change: change, actor: actor)
        }
    }

    public func deleteUser(organizationID: String, id: String, actor: String) async throws {
        try await traced("delete_user") { try await base.deleteUser(organizationID: organizationID, id: id, actor: actor) }
    }

    public func createAPIKey(organizationID: String, name: String, role: Role, secretHash: String, prefix: String, actor: String)
        async throws -> APIKey
    {
        try await traced("create_api_key") {
            try await base.createAPIKey(
                organizationID: organizationID, name: name, role: role, secretHash: secretHash, prefix: prefix, actor: actor)
        }
    }

    public func apiKey(secretHash: String) async throws -> (key: APIKey, organization: Organization)? {
        try await traced("api_key") { try await base.apiKey(secretHash: secretHash) }
    }

    public func apiKey(organizationID: String, id: String) async throws -> APIKey? {
        try await traced("api_key") { try await base.apiKey(organizationID: organizationID, id: id) }
    }

    public func apiKeys(organizationID: String, page: PageRequest) async throws -> Page<APIKey> {
        try await traced("api_keys") { try await base.apiKeys(organizationID: organizationID, page: page) }
    }

    public func revokeAPIKey(organizationID: String, id: String, actor: String) async throws -> APIKey {
        try await traced("revoke_api_key") { try await base.revokeAPIKey(organizationID: organizationID, id: id, actor: actor) }
    }

    public func touchAPIKey(id: String, at: String) async throws {
        try await traced("touch_api_key") { try await base.touchAPIKey(id: id, at: at) }
    }

    public func createSession(organizationID: String, userID: String, tokenHash: String, expiresAt: String) async throws {
        try await traced("create_session") {
            try await base.createSession(organizationID: organizationID, userID: userID, tokenHash: tokenHash, expiresAt: expiresAt)
        }
    }

    public func session(tokenHash: String, now: String) async throws -> (user: User, organization: Organization)? {
        try await traced("session") { try await base.session(tokenHash: tokenHash, now: now) }
    }

    public func deleteSession(tokenHash: String) async throws {
        try await traced("delete_session") { try await base.deleteSession(tokenHash: tokenHash) }
    }

    public func deleteExpiredSessions(now: String) async throws -> Int {
        try await traced("delete_expired_sessions") { try await base.deleteExpiredSessions(now: now) }
    }

    public func stageHistory(organizationID: String, applicationID: String) async throws -> [StageEvent] {
        try await traced("stage_history", kind: .application) {
            try await base.stageHistory(organizationID: organizationID, applicationID: applicationID)
        }
    }

    public func auditLog(organizationID: String, query: AuditQuery) async throws -> Page<AuditEntry> {
        try await traced("audit_log") { try await base.auditLog(organizationID: organizationID, query: query) }
    }

    public func changes(after sequence: Int64, limit: Int) async throws -> [EntityChange] {
        try await traced("changes") { try await base.changes(after: sequence, limit: limit) }
    }

    public func latestChangeSequence() async throws -> Int64 {
        try await traced("latest_change") { try await base.latestChangeSequence() }
    }

    public func readiness() async -> StoreReadiness { await base.readiness() }

    public var figures: StoreFigures { base.figures }

    public func analyticsFacts(organizationID: String, notesSince: String) async throws -> AnalyticsFacts {
        try await traced("analytics_facts") { try await base.analyticsFacts(organizationID: organizationID, notesSince: notesSince) }
    }

    public func saveAnalyticsSnapshot(_ snapshot: AnalyticsSnapshot) async throws {
        try await traced("save_analytics_snapshot") { try await base.saveAnalyticsSnapshot(snapshot) }
    }

    public func analyticsSnapshot(organizationID: String, name: String) async throws -> AnalyticsSnapshot? {
        try await traced("analytics_snapshot") { try await base.analyticsSnapshot(organizationID: organizationID, name: name) }
    }
}

/// A page of documents as cache bytes: the cursor, then each id and JSON text. JSON text never
/// holds a raw control character, so 0x1E and 0x1F separate safely.
enum PageCoding {
    static let record: UInt8 = 0x1E
    static let unit: UInt8 = 0x1F

    static func encode(_ page: Page<StoredDocument>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(page.items.reduce(64) { $0 + $1.json.utf8.count + 32 })
        if let cursor = page.nextCursor {
            bytes.append(UInt8(ascii: "1"))
            bytes.append(contentsOf: cursor.value.utf8)
            bytes.append(unit)
            bytes.append(contentsOf: cursor.id.utf8)
        } else {
            bytes.append(UInt8(ascii: "0"))
        }
        for item in page.items {
            bytes.append(record)
            bytes.append(contentsOf: item.id.utf8)
            bytes.append(unit)
            bytes.append(contentsOf: item.json.utf8)
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> Page<StoredDocument>? {
        let parts = bytes.split(separator: record, omittingEmptySubsequences: false)
        guard let head = parts.first, let flag = head.first else { return nil }
        var cursor: Cursor?
        if flag == UInt8(ascii: "1") {
            let fields = head.dropFirst().split(separator: unit, omittingEmptySubsequences: false)
            guard fields.count == 2 else { return nil }
            cursor = Cursor(value: String(decoding: fields[0], as: UTF8.self), id: String(decoding: fields[1], as: UTF8.self))
        }
        var items: [StoredDocument] = []
        items.reserveCapacity(parts.count - 1)
        for part in parts.dropFirst() {
            guard let split = part.firstIndex(of: unit) else { return nil }
            items.append(
                StoredDocument(
                    id: String(decoding: part[part.startIndex..<split], as: UTF8.self),
                    json: String(decoding: part[(split + 1)...], as: UTF8.self)))
        }
        return Page(items: items, nextCursor: cursor)
    }
}
