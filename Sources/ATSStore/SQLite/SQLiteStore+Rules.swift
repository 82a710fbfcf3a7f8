import ATSDomain
import Foundation
import GRDB

extension SQLiteStore {
    /// A stage change that the write must record in the history.
    struct StageMove: Equatable {
        let from: String?
        let to: String
    }

    /// Fields of a kind that name users: single ids and arrays of ids.
    static func userReferenceFields(_ kind: EntityKind) -> [(name: String, isArray: Bool)] {
        EntitySchema.of(kind).fields.compactMap { field in
            guard !field.readOnly else { return nil }
            switch field.type {
            case .userReference: return (field.name, false)
            case .array(.userReference, _): return (field.name, true)
            default: return nil
            }
        }
    }

    /// The rules of a kind that the schema alone cannot say, checked inside the write
    /// transaction so what they read cannot change before the commit. Sets the read-only
    /// fields the store owns and returns the stage move to record, if any.
    static func applyRules(
        _ db: Database, _ kind: EntityKind, org: String, id: String, fields: inout JSONObject, old: Record?,
        actor: String, options: WriteOptions, now: String
    ) throws -> StageMove? {
        let schema = EntitySchema.of(kind)
        // Read-only fields are the store's: the caller's values never win.
        for field in schema.fields where field.readOnly {
            if options.systemFields, let value = fields[field.name] {
                if value.isNull { fields[field.name] = nil }
                continue
            }
            fields[field.name] = old?.fields[field.name]
        }

        // References must name rows of this organization.
        var errors: [FieldError] = []
        for (name, target) in schema.references where !(schema.field(name)?.readOnly ?? true) {
            guard let value = fields[name]?.stringValue, value != old?.fields[name]?.stringValue else { continue }
            if try !exists(db, target, org: org, id: value) {
                errors.append(FieldError(name, "no such \(target.singular)"))
            }
        }
        for (name, isArray) in userReferenceFields(kind) {
            guard let value = fields[name], value != old?.fields[name] else { continue }
            if isArray {
                for (index, item) in value.stringArray.enumerated() where try !userExists(db, org: org, id: item) {
                    errors.append(FieldError("\(name)[\(index)]", "no such user"))
                }
            } else if let userID = value.stringValue, try !userExists(db, org: org, id: userID) {
                errors.append(FieldError(name, "no such user"))
            }
        }
        if !errors.isEmpty {
            throw StoreError(.invalidReference, "a field names a row that does not exist", fieldErrors: errors)
        }

        switch kind {
        case .candidate:
            if !options.allowDuplicate { try checkDuplicates(db, org: org, id: id, fields: fields, old: old?.fields) }
        case .job:
            try checkPipeline(db, org: org, id: id, fields: fields, old: old?.fields)
        case .application:
            return try applicationRules(db, org: org, id: id, fields: &fields, old: old, now: now)
        case .interview:
            // The candidate and job come from the application, never from the caller.
            if let applicationID = fields["applicationId"]?.stringValue,
                let application = try fetchRecord(db, .application, org: org, id: applicationID)
            {
                fields["candidateId"] = application.fields["candidateId"]
                fields["jobId"] = application.fields["jobId"]
            }
        case .note:
            if fields["candidateId"] == nil && fields["applicationId"] == nil && fields["jobId"] == nil {
                let message = "a note needs a candidateId, an applicationId or a jobId"
                throw StoreError(
                    .validation, message,
                    fieldErrors: ["candidateId", "applicationId", "jobId"].map { FieldError($0, message) })
            }
            if old == nil, let userID = actor.actorUserID { fields["authorId"] = .string(userID) }
        case .savedSearch:
            if old == nil, let userID = actor.actorUserID { fields["ownerId"] = .string(userID) }
        case .message:
            if fields["status"]?.stringValue == "sent", fields["sentAt"] == nil { fields["sentAt"] = .string(now) }
        default:
            break
        }
        return nil
    }

    static func checkDuplicates(_ db: Database, org: String, id: String, fields: JSONObject, old: JSONObject?) throws {
        if let email = fields["email"]?.stringValue, email != old?["email"]?.stringValue {
            let found = try String.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM candidates WHERE org_id = ? AND email_norm = ? AND id <> ? LIMIT 1"),
                arguments: [org, Normalize.email(email), id])
            if let found {
                throw StoreError(
                    .duplicate, "a candidate with the same email exists", existingID: found,
                    fieldErrors: [FieldError("email", "matches another candidate")])
            }
        }
        if let phone = fields["phone"]?.stringValue, phone != old?["phone"]?.stringValue {
            let normalized = Normalize.phone(phone)
            guard !normalized.isEmpty else { return }
            let found = try String.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM candidates WHERE org_id = ? AND phone_norm = ? AND id <> ? LIMIT 1"),
                arguments: [org, normalized, id])
            if let found {
                throw StoreError(
                    .duplicate, "a candidate with the same phone number exists", existingID: found,
                    fieldErrors: [FieldError("phone", "matches another candidate")])
            }
        }
    }

    static func checkPipeline(_ db: Database, org: String, id: String, fields: JSONObject, old: JSONObject?) throws {
        let stages = fields["pipelineStages"]?.stringArray ?? []
        if stages.isEmpty {
            throw StoreError(
                .validation, "a job needs at least one pipeline stage",
                fieldErrors: [FieldError("pipelineStages", "needs at least one stage")])
        }
        if Set(stages).count != stages.count {
            throw StoreError(
                .validation, "pipeline stages must be unique",
                fieldErrors: [FieldError("pipelineStages", "must not repeat a stage")])
        }
        guard let old, old["pipelineStages"] != fields["pipelineStages"] else { return }
        let kept = Set(stages)
        let occupied = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT stage, COUNT(*) FROM applications WHERE org_id = ? AND job_id = ? GROUP BY stage"),
            arguments: [org, id])
        let stranded = occupied.compactMap { row -> String? in
            let stage: String = row[0]
            let count: Int = row[1]
            return kept.contains(stage) ? nil : "\(stage) (\(count))"
        }
        if !stranded.isEmpty {
            throw StoreError(
                .invalidStage,
                "stages still hold applications: \(stranded.sorted().joined(separator: ", ")); move them first",
                fieldErrors: [FieldError("pipelineStages", "removes stages that hold applications")])
        }
    }

    /// A job's pipeline, or `.invalidReference` when the job is gone.
    static func pipeline(_ db: Database, org: String, jobID: String) throws -> [String] {
        guard let job = try fetchRecord(db, .job, org: org, id: jobID) else {
            throw StoreError(.invalidReference, "no such job", fieldErrors: [FieldError("jobId", "no such job")])
        }
        let stages = job.fields["pipelineStages"]?.stringArray ?? []
        return stages.isEmpty ? defaultPipelineStages : stages
    }

    static func applicationRules(
        _ db: Database, org: String, id: String, fields: inout JSONObject, old: Record?, now: String
    ) throws -> StageMove? {
        guard let candidateID = fields["candidateId"]?.stringValue, let jobID = fields["jobId"]?.stringValue else {
            throw StoreError(
                .validation, "an application needs a candidate and a job",
                fieldErrors: [FieldError("candidateId", "is required"), FieldError("jobId", "is required")])
        }
        if let old {
            // Interviews and history hang off the pair; a different pair is a new application.
            var errors: [FieldError] = []
            if old.fields["candidateId"]?.stringValue != candidateID {
                errors.append(FieldError("candidateId", "cannot change; create a new application"))
            }
            if old.fields["jobId"]?.stringValue != jobID {
                errors.append(FieldError("jobId", "cannot change; create a new application"))
            }
            if !errors.isEmpty { throw StoreError(.validation, "an application's candidate and job are fixed", fieldErrors: errors) }
        } else if let existing = try String.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM applications WHERE org_id = ? AND candidate_id = ? AND job_id = ?"),
            arguments: [org, candidateID, jobID])
        {
            throw StoreError(
                .conflict, "the candidate already has an application for this job", existingID: existing,
                fieldErrors: [FieldError("jobId", "the candidate already applied to this job")])
        }
        let stages = try pipeline(db, org: org, jobID: jobID)
        let oldStage = old?.fields["stage"]?.stringValue
        let stage = fields["stage"]?.stringValue ?? oldStage ?? stages[0]
        if stage != oldStage && !stages.contains(stage) {
            throw StoreError(
                .invalidStage, "\(stage) is not a stage of the job's pipeline (\(stages.joined(separator: ", ")))",
                fieldErrors: [FieldError("stage", "must be one of \(stages.joined(separator: ", "))")])
        }
        fields["stage"] = .string(stage)
        guard stage != oldStage else { return nil }
        fields["stageChangedAt"] = .string(now)
        return StageMove(from: oldStage, to: stage)
    }

    static func insertStageEvent(_ db: Database, org: String, _ event: StageEvent) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO stage_events (id, org_id, application_id, from_stage, to_stage, actor, at, reason)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            event.id, org, event.applicationID, event.fromStage, event.toStage, event.actor, event.at, event.reason,
        ])
    }
}
