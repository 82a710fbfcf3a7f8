import ATSDomain
import Foundation
import GRDB

extension SQLiteStore {
    /// Appends one audit entry inside the caller's transaction, so it commits with the change.
    static func audit(
        _ db: Database, organizationID: String, at: String, actor: String, action: String, entity: String,
        entityID: String, old: JSONObject?, new: JSONObject?, newJSON: String? = nil
    ) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO audit_log (id, org_id, at, actor, action, entity, entity_id, old, new) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        try statement.execute(arguments: [
            Identifier.make(), organizationID, at, actor, action, entity, entityID, old.map(JSONCoding.encode),
            newJSON ?? new.map(JSONCoding.encode),
        ])
    }

    /// The changed fields of `old` -> `new`, each side with its value (`null` where absent);
    /// nil when nothing changed.
    static func diff(_ old: JSONObject, _ new: JSONObject) -> (old: JSONObject, new: JSONObject)? {
        var before: JSONObject = [:]
        var after: JSONObject = [:]
        for key in Set(old.keys).union(new.keys) where old[key] != new[key] {
            before[key] = old[key] ?? .null
            after[key] = new[key] ?? .null
        }
        return before.isEmpty ? nil : (before, after)
    }

    public func auditLog(organizationID: String, query: AuditQuery) async throws -> Page<AuditEntry> {
        let limit = query.page.limit
        var sql = "SELECT seq, id, at, actor, action, entity, entity_id, old, new FROM audit_log WHERE org_id = ?"
        var arguments: StatementArguments = [organizationID]
        if let entity = query.entity {
            // Any spelling of a kind (`clientContact`, `client_contacts`) means its audit name.
            sql += " AND entity = ?"
            _ = arguments.append(contentsOf: [EntityKind(auditEntity: entity)?.auditEntity ?? entity])
        }
        if let entityID = query.entityID {
            sql += " AND entity_id = ?"
            _ = arguments.append(contentsOf: [Identifier.canonical(entityID) ?? entityID])
        }
        if let actor = query.actor {
            sql += " AND actor = ?"
            _ = arguments.append(contentsOf: [actor])
        }
        if let cursor = query.page.cursor {
            guard let seq = Int64(cursor.value) else { throw StoreError(.validation, "the cursor is not valid here") }
            sql += " AND seq < ?"
            _ = arguments.append(contentsOf: [seq])
        }
        sql += " ORDER BY seq DESC LIMIT \(limit + 1)"
        let statementSQL = sql
        let args = arguments
        return try await read { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: statementSQL), arguments: args)
            let entries = rows.prefix(limit).map { row in
                AuditEntry(
                    id: row["id"], at: row["at"], actor: row["actor"], action: row["action"], entity: row["entity"],
                    entityID: row["entity_id"],
                    old: (row["old"] as String?).flatMap { JSONCoding.decodeObject(Data($0.utf8)) },
                    new: (row["new"] as String?).flatMap { JSONCoding.decodeObject(Data($0.utf8)) })
            }
            var next: ATSDomain.Cursor?
            if rows.count > limit {
                let last = rows[limit - 1]
                next = ATSDomain.Cursor(value: String(last["seq"] as Int64), id: last["id"])
            }
            return Page(items: Array(entries), nextCursor: next)
        }
    }

    public func changes(after sequence: Int64, limit: Int) async throws -> [EntityChange] {
        let limit = max(1, min(limit, 10_000))
        return try await quickRead { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT seq, org_id, entity, entity_id, action,
                               CASE WHEN entity IN ('application', 'note', 'document', 'interview')
                                    THEN coalesce(new, old) END AS body,
                               CASE WHEN entity = 'application'
                                    THEN (SELECT a.candidate_id FROM applications a
                                          WHERE a.org_id = audit_log.org_id AND a.id = audit_log.entity_id) END AS owner
                        FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?
                        """),
                arguments: [sequence, limit]
            ).map { row in
                let body: String? = row["body"]
                // An update's entry holds the changed fields only (a stage move: the stage); the
                // application's row names its candidate while it exists.
                let candidate = body.flatMap { JSONCoding.decodeObject(Data($0.utf8))?["candidateId"]?.stringValue }
                    ?? (row["owner"] as String?)
                return EntityChange(
                    sequence: row["seq"], organizationID: row["org_id"], entity: row["entity"], entityID: row["entity_id"],
                    action: row["action"], candidateID: candidate)
            }
        }
    }

    public func latestChangeSequence() async throws -> Int64 {
        try await quickRead { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM audit_log")) ?? 0
        }
    }
}
