import ATSDomain
import Foundation
import GRDB

extension SQLiteStore {
    // MARK: Reads

    public func record(_ kind: EntityKind, organizationID: String, id: String) async throws -> Record? {
        guard let id = Identifier.canonical(id) else { return nil }
        return try await read { db in try Self.fetchRecord(db, kind, org: organizationID, id: id) }
    }

    public func records(_ kind: EntityKind, organizationID: String, ids: [String]) async throws -> [Record] {
        let canonical = Array(Set(ids.compactMap { Identifier.canonical($0) }))
        guard !canonical.isEmpty else { return [] }
        let table = EntityTable.of(kind).name
        return try await read { db in
            var records: [Record] = []
            records.reserveCapacity(canonical.count)
            // SQLite's default limit is 32,766 arguments; 500 ids a statement stays far below.
            for start in stride(from: 0, to: canonical.count, by: 500) {
                let chunk = canonical[start..<min(start + 500, canonical.count)]
                let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                let rows = try Row.fetchCursor(
                    db.cachedStatement(
                        sql: "SELECT id, created_at, updated_at, doc FROM \(table) WHERE org_id = ? AND id IN (\(placeholders))"),
                    arguments: StatementArguments([organizationID] + Array(chunk)))
                while let row = try rows.next() {
                    records.append(Self.record(kind, id: row[0], createdAt: row[1], updatedAt: row[2], doc: row[3]))
                }
            }
            return records
        }
    }

    public func document(_ kind: EntityKind, organizationID: String, id: String) async throws -> String? {
        guard let id = Identifier.canonical(id) else { return nil }
        let sql = EntityTable.of(kind).selectDocSQL
        return try await quickRead { db in
            try String.fetchOne(db.cachedStatement(sql: sql), arguments: [organizationID, id])
        }
    }

    static func fetchRecord(_ db: Database, _ kind: EntityKind, org: String, id: String) throws -> Record? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: EntityTable.of(kind).selectRowSQL), arguments: [org, id])
        else { return nil }
        return record(kind, id: id, createdAt: row[0], updatedAt: row[1], doc: row[2])
    }

    static func record(_ kind: EntityKind, id: String, createdAt: String, updatedAt: String, doc: String) -> Record {
        var fields = JSONCoding.decodeObject(Data(doc.utf8)) ?? [:]
        fields["id"] = nil
        fields["createdAt"] = nil
        fields["updatedAt"] = nil
        return Record(kind: kind, id: id, createdAt: createdAt, updatedAt: updatedAt, fields: fields)
    }

    public func list(_ kind: EntityKind, organizationID: String, query: ListQuery) async throws -> Page<StoredDocument> {
        let table = EntityTable.of(kind)
        let sortColumn = query.sort.key == .createdAt ? "created_at" : "updated_at"
        let direction = query.sort.descending ? "DESC" : "ASC"
        var sql = "SELECT id, \(sortColumn), doc FROM \(table.name) WHERE org_id = ?"
        var arguments: [(any DatabaseValueConvertible)?] = [organizationID]
        var errors: [FieldError] = []
        for (key, value) in query.equals.sorted(by: { $0.key < $1.key }) {
            guard let column = table.filterColumn(key) else {
                errors.append(FieldError(key, "is not a filter of \(kind.singular)"))
                continue
            }
            if column.isBoolean {
                guard let flag = Bool(value.lowercased()) else {
                    errors.append(FieldError(key, "must be true or false"))
                    continue
                }
                sql += " AND \(column.name) = ?"
                arguments.append(flag ? 1 : 0)
            } else {
                sql += " AND \(column.name) = ?"
                arguments.append(column.name.hasSuffix("_id") ? (Identifier.canonical(value) ?? value) : value)
            }
        }
        if let tag = query.tag {
            sql += " AND id IN (SELECT entity_id FROM entity_tags WHERE org_id = ? AND kind = ? AND tag = ?)"
            arguments += [organizationID, kind.rawValue, Self.tagKey(tag)]
        }
        if let since = query.updatedSince {
            guard let canonical = Timestamp.canonical(since) else {
                throw StoreError(
                    .validation, "invalid updatedSince",
                    fieldErrors: [FieldError("updatedSince", "must be an RFC 3339 date-time")])
            }
            sql += " AND updated_at >= ?"
            arguments.append(canonical)
        }
        if !errors.isEmpty { throw StoreError(.validation, "invalid list filters", fieldErrors: errors) }
        if let cursor = query.page.cursor {
            sql += " AND (\(sortColumn), id) \(query.sort.descending ? "<" : ">") (?, ?)"
            arguments += [cursor.value, cursor.id]
        }
        sql += " ORDER BY \(sortColumn) \(direction), id \(direction) LIMIT \(query.page.limit + 1)"
        let statementSQL = sql
        let args = StatementArguments(arguments)
        let limit = query.page.limit
        return try await quickRead { db in
            var items: [StoredDocument] = []
            var last: (value: String, id: String)?
            var more = false
            let rows = try Row.fetchCursor(db.cachedStatement(sql: statementSQL), arguments: args)
            while let row = try rows.next() {
                if items.count == limit {
                    more = true
                    break
                }
                let id: String = row[0]
                items.append(StoredDocument(id: id, json: row[2]))
                last = (row[1], id)
            }
            let next = more ? last.map { ATSDomain.Cursor(value: $0.value, id: $0.id) } : nil
            return Page(items: items, nextCursor: next)
        }
    }

    // MARK: Writes

    public func create(
        _ kind: EntityKind, organizationID: String, fields: JSONObject, actor: String, options: WriteOptions
    ) async throws -> Record {
        let now = StoreClock.now()
        let id = Identifier.make()
        return try await write { db in
            try Self.requireOrganization(db, organizationID)
            var fields = fields
            let move = try Self.applyRules(
                db, kind, org: organizationID, id: id, fields: &fields, old: nil, actor: actor, options: options, now: now)
            let record = Record(kind: kind, id: id, createdAt: now, updatedAt: now, fields: fields)
            // Encoded once: the stored document and the audit entry's new value are the same text.
            let json = record.json
            try Self.insert(db, record, org: organizationID, json: json)
            if let move {
                try Self.insertStageEvent(
                    db, org: organizationID,
                    StageEvent(id: Identifier.make(), applicationID: id, fromStage: move.from, toStage: move.to, actor: actor, at: now))
            }
            try Self.audit(
                db, organizationID: organizationID, at: now, actor: actor, action: "create", entity: kind.auditEntity,
                entityID: id, old: nil, new: nil, newJSON: json)
            return record
        }
    }

    public func update(
        _ kind: EntityKind, organizationID: String, id: String, actor: String, options: WriteOptions,
        change: @Sendable (Record) throws -> JSONObject
    ) async throws -> Record {
        guard let id = Identifier.canonical(id) else { throw StoreError.notFound(kind.singular) }
        return try await write { db in
            try Self.update(
                db, kind, org: organizationID, id: id, actor: actor, options: options, reason: nil, change: change)
        }
    }

    /// One update inside the caller's transaction: rules, row, tags, stage history, audit.
    static func update(
        _ db: Database, _ kind: EntityKind, org: String, id: String, actor: String, options: WriteOptions,
        reason: String?, change: (Record) throws -> JSONObject
    ) throws -> Record {
        guard let old = try fetchRecord(db, kind, org: org, id: id) else { throw StoreError.notFound(kind.singular) }
        var fields = try change(old)
        let now = StoreClock.now()
        let move = try applyRules(db, kind, org: org, id: id, fields: &fields, old: old, actor: actor, options: options, now: now)
        guard let changed = diff(old.fields, fields) else { return old }
        let record = Record(kind: kind, id: id, createdAt: old.createdAt, updatedAt: now, fields: fields)
        try updateRow(db, record, org: org, oldTags: old.fields["tags"])
        if let move {
            try insertStageEvent(
                db, org: org,
                StageEvent(
                    id: Identifier.make(), applicationID: id, fromStage: move.from, toStage: move.to, actor: actor,
                    at: now, reason: reason))
        }
        try audit(
            db, organizationID: org, at: now, actor: actor, action: move == nil ? "update" : "move",
            entity: kind.auditEntity, entityID: id, old: changed.old, new: changed.new)
        return record
    }

    public func delete(_ kind: EntityKind, organizationID: String, id: String, actor: String) async throws {
        guard let id = Identifier.canonical(id) else { throw StoreError.notFound(kind.singular) }
        try await write { db in
            guard let old = try Self.fetchRecord(db, kind, org: organizationID, id: id) else {
                throw StoreError.notFound(kind.singular)
            }
            try Self.checkUnreferenced(db, kind, org: organizationID, id: id)
            var oldDocument: JSONObject? = old.document
            switch kind {
            case .candidate:
                // GDPR erasure: what belongs to the candidate goes (foreign key cascades), and
                // the audit trail keeps who did what and when but no longer the personal data.
                try Self.eraseAuditPayloads(db, org: organizationID, candidateID: id)
                oldDocument = nil
            case .emailTemplate:
                try Self.clearTemplateLinks(db, org: organizationID, templateID: id)
            default:
                break
            }
            try Self.deleteTags(db, kind, org: organizationID, id: id)
            try db.cachedStatement(sql: EntityTable.of(kind).deleteSQL).execute(arguments: [organizationID, id])
            try Self.audit(
                db, organizationID: organizationID, at: StoreClock.now(), actor: actor, action: "delete",
                entity: kind.auditEntity, entityID: id, old: oldDocument, new: nil)
        }
    }

    // MARK: Rows

    static func insert(_ db: Database, _ record: Record, org: String, json: String? = nil) throws {
        let table = EntityTable.of(record.kind)
        var arguments: [DatabaseValue] = [
            record.id.databaseValue, org.databaseValue, record.createdAt.databaseValue,
            record.updatedAt.databaseValue, (json ?? record.json).databaseValue,
        ]
        arguments += table.values(record.fields)
        try db.cachedStatement(sql: table.insertSQL).execute(arguments: StatementArguments(arguments))
        if let tags = record.fields["tags"] {
            try insertTags(db, record.kind, org: org, id: record.id, tags: tags.stringArray)
        }
    }

    static func updateRow(_ db: Database, _ record: Record, org: String, oldTags: JSONValue?) throws {
        let table = EntityTable.of(record.kind)
        var arguments: [DatabaseValue] = [record.updatedAt.databaseValue, record.json.databaseValue]
        arguments += table.values(record.fields)
        arguments += [org.databaseValue, record.id.databaseValue]
        try db.cachedStatement(sql: table.updateSQL).execute(arguments: StatementArguments(arguments))
        if record.fields["tags"] != oldTags {
            try deleteTags(db, record.kind, org: org, id: record.id)
            try insertTags(db, record.kind, org: org, id: record.id, tags: record.fields["tags"]?.stringArray ?? [])
        }
    }

    /// Tags match case-insensitively: `Swift` and `swift` are one tag to a recruiter.
    static func tagKey(_ tag: String) -> String { tag.trimmingCharacters(in: .whitespaces).lowercased() }

    static func insertTags(_ db: Database, _ kind: EntityKind, org: String, id: String, tags: [String]) throws {
        guard !tags.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO entity_tags (org_id, kind, tag, entity_id) VALUES (?, ?, ?, ?)")
        for tag in tags {
            try statement.execute(arguments: [org, kind.rawValue, tagKey(tag), id])
        }
    }

    static func deleteTags(_ db: Database, _ kind: EntityKind, org: String, id: String) throws {
        guard EntitySchema.of(kind).hasTags else { return }
        try db.cachedStatement(sql: "DELETE FROM entity_tags WHERE org_id = ? AND kind = ? AND entity_id = ?")
            .execute(arguments: [org, kind.rawValue, id])
    }

    static func exists(_ db: Database, _ kind: EntityKind, org: String, id: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: EntityTable.of(kind).existsSQL), arguments: [org, id]) == true
    }

    static func userExists(_ db: Database, org: String, id: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM users WHERE org_id = ? AND id = ?"), arguments: [org, id])
            == true
    }

    /// Who still points at a client, project or job; deleting it would strand them.
    static let referrers: [EntityKind: [(kind: EntityKind, column: String)]] = [
        .client: [(.clientContact, "client_id"), (.project, "client_id"), (.job, "client_id")],
        .project: [(.job, "project_id")],
        .job: [(.application, "job_id"), (.interview, "job_id"), (.note, "job_id")],
    ]

    static func checkUnreferenced(_ db: Database, _ kind: EntityKind, org: String, id: String) throws {
        guard let referrers = referrers[kind] else { return }
        var uses: [String] = []
        for referrer in referrers {
            let count =
                try Int.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT COUNT(*) FROM \(referrer.kind.table) WHERE org_id = ? AND \(referrer.column) = ?"),
                    arguments: [org, id]) ?? 0
            if count > 0 { uses.append("\(count) \(referrer.kind.singular)\(count == 1 ? "" : "s")") }
        }
        if !uses.isEmpty {
            throw StoreError(
                .conflict, "the \(kind.singular) is still referenced by \(uses.joined(separator: ", "))")
        }
    }

    static func eraseAuditPayloads(_ db: Database, org: String, candidateID: String) throws {
        try db.execute(
            sql: """
                UPDATE audit_log SET old = NULL, new = NULL WHERE org_id = :org AND entity_id IN (
                    SELECT :id
                    UNION ALL SELECT id FROM applications WHERE org_id = :org AND candidate_id = :id
                    UNION ALL SELECT id FROM interviews WHERE org_id = :org AND candidate_id = :id
                    UNION ALL SELECT id FROM notes WHERE org_id = :org AND (candidate_id = :id OR application_id IN
                        (SELECT id FROM applications WHERE org_id = :org AND candidate_id = :id))
                    UNION ALL SELECT id FROM documents WHERE org_id = :org AND candidate_id = :id
                    UNION ALL SELECT id FROM messages WHERE org_id = :org AND candidate_id = :id
                    UNION ALL SELECT e.id FROM stage_events e JOIN applications a
                        ON a.org_id = e.org_id AND a.id = e.application_id
                        WHERE a.org_id = :org AND a.candidate_id = :id
                )
                """,
            arguments: ["org": org, "id": candidateID])
    }

    /// Messages outlive the template they were written from; only their link goes.
    static func clearTemplateLinks(_ db: Database, org: String, templateID: String) throws {
        let rows = try Row.fetchAll(
            db, sql: "SELECT id, created_at, updated_at, doc FROM messages WHERE org_id = ? AND template_id = ?",
            arguments: [org, templateID])
        for row in rows {
            let old = record(.message, id: row[0], createdAt: row[1], updatedAt: row[2], doc: row[3])
            var fields = old.fields
            fields["templateId"] = nil
            try updateRow(
                db, Record(kind: .message, id: old.id, createdAt: old.createdAt, updatedAt: old.updatedAt, fields: fields),
                org: org, oldTags: nil)
        }
    }
}
