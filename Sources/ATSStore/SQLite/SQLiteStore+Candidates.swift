import ATSDomain
import Foundation
import GRDB

extension SQLiteStore {
    static let maxTags = 50

    public func bulkUpdateCandidates(organizationID: String, ids: [String], action: BulkAction, actor: String)
        async throws -> [BulkResult]
    {
        let now = StoreClock.now()
        return try await write { db in
            var results: [BulkResult] = []
            results.reserveCapacity(ids.count)
            for raw in ids {
                guard let id = Identifier.canonical(raw), let old = try Self.fetchRecord(db, .candidate, org: organizationID, id: id)
                else {
                    results.append(BulkResult(id: raw, outcome: .notFound))
                    continue
                }
                var fields = old.fields
                switch action {
                case .tag(let tags):
                    var current = fields["tags"]?.stringArray ?? []
                    var keys = Set(current.map(Self.tagKey))
                    for tag in tags {
                        let tag = tag.trimmingCharacters(in: .whitespacesAndNewlines)
                        guard !tag.isEmpty, tag.count <= 50, current.count < Self.maxTags else { continue }
                        if keys.insert(Self.tagKey(tag)).inserted { current.append(tag) }
                    }
                    fields["tags"] = .array(current.map(JSONValue.string))
                case .untag(let tags):
                    let removed = Set(tags.map(Self.tagKey))
                    let current = fields["tags"]?.stringArray ?? []
                    let kept = current.filter { !removed.contains(Self.tagKey($0)) }
                    if kept.count != current.count { fields["tags"] = .array(kept.map(JSONValue.string)) }
                case .archive:
                    fields["archived"] = .bool(true)
                case .unarchive:
                    fields["archived"] = .bool(false)
                }
                guard let change = Self.diff(old.fields, fields) else {
                    results.append(BulkResult(id: id, outcome: .unchanged))
                    continue
                }
                let record = Record(kind: .candidate, id: id, createdAt: old.createdAt, updatedAt: now, fields: fields)
                try Self.updateRow(db, record, org: organizationID, oldTags: old.fields["tags"])
                try Self.audit(
                    db, organizationID: organizationID, at: now, actor: actor, action: "bulk", entity: "candidate",
                    entityID: id, old: change.old, new: change.new)
                results.append(BulkResult(id: id, outcome: .updated))
            }
            return results
        }
    }

    public func mergeCandidates(organizationID: String, survivorID: String, duplicateID: String, actor: String)
        async throws -> Record
    {
        guard let survivorID = Identifier.canonical(survivorID), let duplicateID = Identifier.canonical(duplicateID) else {
            throw StoreError.notFound("candidate")
        }
        guard survivorID != duplicateID else {
            throw StoreError(.validation, "a candidate cannot be merged into itself")
        }
        let org = organizationID
        return try await write { db in
            guard let survivor = try Self.fetchRecord(db, .candidate, org: org, id: survivorID),
                let duplicate = try Self.fetchRecord(db, .candidate, org: org, id: duplicateID)
            else { throw StoreError.notFound("candidate") }
            let now = StoreClock.now()

            // Where both applied to one job, the survivor's application stays and takes the
            // duplicate's history, interviews and notes.
            let survivorApplications = Dictionary(
                try Row.fetchAll(
                    db, sql: "SELECT job_id, id FROM applications WHERE org_id = ? AND candidate_id = ?",
                    arguments: [org, survivorID]
                ).map { ($0[0] as String, $0[1] as String) }, uniquingKeysWith: { first, _ in first })
            let duplicateApplications = try Row.fetchAll(
                db, sql: "SELECT job_id, id FROM applications WHERE org_id = ? AND candidate_id = ?",
                arguments: [org, duplicateID])
            for row in duplicateApplications {
                let jobID: String = row[0]
                let applicationID: String = row[1]
                guard let keptID = survivorApplications[jobID] else { continue }
                try db.execute(
                    sql: "UPDATE stage_events SET application_id = ? WHERE org_id = ? AND application_id = ?",
                    arguments: [keptID, org, applicationID])
                for kind in [EntityKind.interview, .note] {
                    try Self.relink(
                        db, kind, org: org, column: "application_id", value: applicationID,
                        set: ["applicationId": .string(keptID), "candidateId": .string(survivorID)], now: now)
                }
                try db.execute(sql: "DELETE FROM applications WHERE org_id = ? AND id = ?", arguments: [org, applicationID])
            }
            for kind in [EntityKind.application, .interview, .note, .document, .message] {
                try Self.relink(
                    db, kind, org: org, column: "candidate_id", value: duplicateID,
                    set: ["candidateId": .string(survivorID)], now: now)
            }

            let fields = Self.mergeFields(survivor.fields, duplicate.fields, schema: EntitySchema.of(.candidate).fields)
            try Self.deleteTags(db, .candidate, org: org, id: duplicateID)
            try db.execute(sql: "DELETE FROM candidates WHERE org_id = ? AND id = ?", arguments: [org, duplicateID])
            var record = survivor
            var change = Self.diff(survivor.fields, fields) ?? ([:], [:])
            if fields != survivor.fields {
                record = Record(kind: .candidate, id: survivorID, createdAt: survivor.createdAt, updatedAt: now, fields: fields)
                try Self.updateRow(db, record, org: org, oldTags: survivor.fields["tags"])
            }
            change.new["mergedFrom"] = .string(duplicateID)
            try Self.audit(
                db, organizationID: org, at: now, actor: actor, action: "merge", entity: "candidate", entityID: survivorID,
                old: change.old, new: change.new)
            try Self.audit(
                db, organizationID: org, at: now, actor: actor, action: "delete", entity: "candidate",
                entityID: duplicateID, old: duplicate.document, new: ["mergedInto": .string(survivorID)])
            return record
        }
    }

    /// Rewrites the rows of `kind` whose `column` equals `value`: the given document fields
    /// change and the promoted columns follow.
    static func relink(
        _ db: Database, _ kind: EntityKind, org: String, column: String, value: String, set: JSONObject, now: String
    ) throws {
        let table = EntityTable.of(kind)
        let rows = try Row.fetchAll(
            db, sql: "SELECT id, created_at, doc FROM \(table.name) WHERE org_id = ? AND \(column) = ?",
            arguments: [org, value])
        for row in rows {
            let old = record(kind, id: row[0], createdAt: row[1], updatedAt: now, doc: row[2])
            var fields = old.fields
            for (key, value) in set where EntitySchema.of(kind).field(key) != nil { fields[key] = value }
            try updateRow(
                db, Record(kind: kind, id: old.id, createdAt: old.createdAt, updatedAt: now, fields: fields), org: org,
                oldTags: fields["tags"])
        }
    }

    /// The survivor's fields with its empty ones filled from the duplicate and its lists united.
    static func mergeFields(_ survivor: JSONObject, _ duplicate: JSONObject, schema: [Field]) -> JSONObject {
        var merged = survivor
        for field in schema where !field.readOnly {
            guard let theirs = duplicate[field.name], !isEmpty(theirs) else { continue }
            guard let mine = survivor[field.name], !isEmpty(mine) else {
                merged[field.name] = theirs
                continue
            }
            switch (field.type, mine, theirs) {
            case (.array(_, let maxItems), .array(let ours), .array(let others)):
                var united = ours
                var seen = Set(ours)
                for item in others where united.count < maxItems && seen.insert(item).inserted { united.append(item) }
                merged[field.name] = .array(united)
            case (.object(let nested), .object(let ours), .object(let others)):
                merged[field.name] = .object(mergeFields(ours, others, schema: nested))
            default:
                break
            }
        }
        return merged
    }

    static func isEmpty(_ value: JSONValue) -> Bool {
        switch value {
        case .null: true
        case .string(let text): text.isEmpty
        case .array(let items): items.isEmpty
        case .object(let object): object.isEmpty
        default: false
        }
    }

    // MARK: Import

    public func importRecords(organizationID: String, records: [Record], stageEvents: [StageEvent]) async throws {
        let org = organizationID
        // Interviews carry their application's candidate and job, as on create.
        var batchApplications: [String: Record] = [:]
        for record in records where record.kind == .application { batchApplications[record.id] = record }
        let applications = batchApplications
        // Encoding is the costly part: do it on every core, outside the single writer.
        let documents = await Self.encodeConcurrently(records)
        let pending = records
        try await write { db in
            try Self.requireOrganization(db, org)
            // References may point forward within the batch: check them at commit.
            try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
            for (index, var record) in pending.enumerated() {
                var json = documents[index]
                if record.kind == .interview, record.fields["candidateId"] == nil || record.fields["jobId"] == nil,
                    let applicationID = record.fields["applicationId"]?.stringValue,
                    let application = try applications[applicationID]
                        ?? Self.fetchRecord(db, .application, org: org, id: applicationID)
                {
                    var fields = record.fields
                    fields["candidateId"] = application.fields["candidateId"]
                    fields["jobId"] = application.fields["jobId"]
                    record = Record(kind: .interview, id: record.id, createdAt: record.createdAt, updatedAt: record.updatedAt, fields: fields)
                    json = record.json
                }
                try Self.insert(db, record, org: org, json: json)
            }
            for event in stageEvents {
                try Self.insertStageEvent(db, org: org, event)
            }
        }
    }

    static func encodeConcurrently(_ records: [Record]) async -> [String] {
        let chunk = 2_000
        guard records.count > chunk else { return records.map(\.json) }
        let parts = await withTaskGroup(of: (Int, [String]).self) { group in
            for start in stride(from: 0, to: records.count, by: chunk) {
                let slice = Array(records[start..<min(start + chunk, records.count)])
                group.addTask { (start, slice.map(\.json)) }
            }
            var parts: [(Int, [String])] = []
            for await part in group { parts.append(part) }
            return parts
        }
        return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
    }
}
