import ATSDomain
import ATSStore
import Hummingbird

/// Pipelines, notes on things, bulk actions and merges: the recruiter's daily work.
extension RouteTable {
    func addWorkflowRoutes() {
        let gateway = self.gateway
        let idParameter = ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "")

        add(
            Operation(
                method: .post, path: "/api/v1/applications/{id}/move", operationID: "moveApplication",
                summary: "Move an application to another stage of its job's pipeline.", tag: "applications",
                access: .role(.recruiter), parameters: [idParameter],
                requestBody: JSONSchema.strict(
                    ["stage": .object(["type": "string", "minLength": 1, "maxLength": 60]), "reason": .object(["type": "string", "maxLength": 500])],
                    required: ["stage"]),
                success: (200, JSONSchema.ref("Application"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let body = try await gateway.jsonObject(request)
                var errors: [FieldError] = []
                for key in body.keys where key != "stage" && key != "reason" { errors.append(FieldError(key, "is not a known field")) }
                let stage = body["stage"]?.stringValue?.trimmingCharacters(in: .whitespaces) ?? ""
                if stage.isEmpty || stage.count > 60 { errors.append(FieldError("stage", "must be a stage name")) }
                let reason = body["reason"]
                if let reason, reason.stringValue == nil || reason.stringValue!.count > 500 {
                    errors.append(FieldError("reason", "must be a string of at most 500 characters"))
                } else if let text = reason?.stringValue, TextRules.hasForbiddenControl(text, multiline: true) {
                    errors.append(FieldError("reason", TextRules.controlMessage(multiline: true)))
                }
                if !errors.isEmpty { throw Problem.validation(errors) }
                let record = try await gateway.store.moveApplication(
                    organizationID: principal.organizationID, id: id, to: stage, actor: principal.actor,
                    reason: reason?.stringValue)
                return gateway.json(record.json)
            })

        add(
            Operation(
                method: .get, path: "/api/v1/applications/{id}/history", operationID: "applicationHistory",
                summary: "Every stage move of an application, oldest first.", tag: "applications",
                access: .role(.viewer), parameters: [idParameter], success: (200, JSONSchema.ref("StageHistory"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let events = try await gateway.store.stageHistory(organizationID: principal.organizationID, applicationID: id)
                return gateway.json(["items": .array(events.map { .object($0.document) })])
            })

        for (kind, field) in [(EntityKind.candidate, "candidateId"), (.application, "applicationId"), (.job, "jobId")] {
            let path = "/api/v1/\(kind.pathSegment)/{id}/notes"
            let name = kind.schemaName
            add(
                Operation(
                    method: .get, path: path, operationID: "list\(name)Notes", summary: "Notes on a \(kind.singular), newest first.",
                    tag: "notes", access: .role(.viewer),
                    parameters: [idParameter] + Self.listParameters(for: EntitySchema.of(.note)).filter { $0.name == "limit" || $0.name == "cursor" },
                    success: (200, JSONSchema.ref("NoteList"), "application/json")
                ) { request, context in
                    let principal = try gateway.principal(context)
                    let id = try gateway.id(context)
                    guard try await gateway.store.record(kind, organizationID: principal.organizationID, id: id) != nil else {
                        throw Problem.notFound("This \(kind.singular)")
                    }
                    let query = ListQuery(equals: [field: id], page: try QueryReader(request).page())
                    let page = try await gateway.store.list(.note, organizationID: principal.organizationID, query: query)
                    return gateway.page(page.items.map(\.json), next: page.nextCursor)
                })
            add(
                Operation(
                    method: .post, path: path, operationID: "create\(name)Note", summary: "Add a note to a \(kind.singular).",
                    tag: "notes", access: .role(.hiringManager), parameters: [idParameter],
                    requestBody: JSONSchema.strict(
                        [
                            "body": .object(["type": "string", "minLength": 1, "maxLength": 10000]),
                            "type": JSONSchema.enumeration(["note", "call", "email", "meeting", "task"]),
                            "pinned": JSONSchema.boolean,
                        ], required: ["body"]),
                    success: (201, JSONSchema.ref("Note"), "application/json")
                ) { request, context in
                    let principal = try gateway.principal(context)
                    let id = try gateway.id(context)
                    var input = try await gateway.jsonObject(request)
                    for key in ["candidateId", "applicationId", "jobId"] where input[key] != nil {
                        throw Problem.validation([FieldError(key, "is set by the URL")])
                    }
                    input[field] = .string(id)
                    let record: Record
                    do {
                        record = try await gateway.create(.note, input: input, principal: principal, allowDuplicate: false)
                    } catch let error as StoreError where error.code == .invalidReference {
                        throw Problem.notFound("This \(kind.singular)")
                    }
                    return gateway.json(record.json, status: .created, headers: [.location: "/api/v1/notes/\(record.id)"])
                })
        }

        add(
            Operation(
                method: .post, path: "/api/v1/candidates/bulk", operationID: "bulkCandidates",
                summary: "Tag, untag, archive or unarchive many candidates; each id gets its own result.",
                tag: "candidates", access: .role(.recruiter),
                requestBody: JSONSchema.strict(
                    [
                        "action": JSONSchema.enumeration(["tag", "untag", "archive", "unarchive"]),
                        "ids": .object(["type": "array", "items": JSONSchema.id, "minItems": 1, "maxItems": 500]),
                        "tags": .object(["type": "array", "items": .object(["type": "string", "minLength": 1, "maxLength": 50]), "maxItems": 50]),
                    ], required: ["action", "ids"]),
                success: (200, JSONSchema.ref("BulkResults"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let body = try await gateway.jsonObject(request)
                let (action, ids) = try Self.bulkAction(body)
                let results = try await gateway.store.bulkUpdateCandidates(
                    organizationID: principal.organizationID, ids: ids, action: action, actor: principal.actor)
                let items: [JSONValue] = results.map { .object(["id": .string($0.id), "outcome": .string($0.outcome.rawValue)]) }
                let updated = results.filter { $0.outcome == .updated }.count
                return gateway.json(["results": .array(items), "updated": .int(Int64(updated))])
            })

        add(
            Operation(
                method: .post, path: "/api/v1/candidates/{id}/merge", operationID: "mergeCandidates",
                summary: "Merge a duplicate into this candidate: its applications, notes and documents move here.",
                tag: "candidates", access: .role(.recruiter), parameters: [idParameter],
                requestBody: JSONSchema.strict(["duplicateId": JSONSchema.id], required: ["duplicateId"]),
                success: (200, JSONSchema.ref("Candidate"), "application/json"), errors: [409]
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let body = try await gateway.jsonObject(request)
                guard body.count == 1, let raw = body["duplicateId"]?.stringValue, let duplicate = Identifier.canonical(raw) else {
                    throw Problem.validation([FieldError("duplicateId", "must be the id of the candidate to merge into this one")])
                }
                guard duplicate != id else {
                    throw Problem.validation([FieldError("duplicateId", "must differ from the surviving candidate")])
                }
                let record = try await gateway.store.mergeCandidates(
                    organizationID: principal.organizationID, survivorID: id, duplicateID: duplicate, actor: principal.actor)
                return gateway.json(record.json)
            })
    }

    static func bulkAction(_ body: JSONObject) throws -> (BulkAction, [String]) {
        var errors: [FieldError] = []
        for key in body.keys where !["action", "ids", "tags"].contains(key) { errors.append(FieldError(key, "is not a known field")) }
        var ids: [String] = []
        if let items = body["ids"]?.arrayValue, (1...500).contains(items.count) {
            for (index, item) in items.enumerated() {
                if let id = item.stringValue.flatMap(Identifier.canonical) { ids.append(id) } else { errors.append(FieldError("ids[\(index)]", "must be an id")) }
            }
        } else {
            errors.append(FieldError("ids", "must be an array of 1 to 500 ids"))
        }
        var tags: [String] = []
        if let raw = body["tags"] {
            if let items = raw.arrayValue, items.count <= 50,
                items.allSatisfy({
                    ($0.stringValue?.trimmingCharacters(in: .whitespaces).count ?? 0) > 0 && $0.stringValue!.count <= 50
                        && !TextRules.hasForbiddenControl($0.stringValue!, multiline: false)
                })
            {
                tags = items.compactMap { $0.stringValue?.trimmingCharacters(in: .whitespaces) }
            } else {
                errors.append(FieldError("tags", "must be an array of at most 50 tags of 1 to 50 characters, without control characters"))
            }
        }
        let action: BulkAction?
        switch body["action"]?.stringValue {
        case "tag": action = .tag(tags)
        case "untag": action = .untag(tags)
        case "archive": action = .archive
        case "unarchive": action = .unarchive
        default: action = nil; errors.append(FieldError("action", "must be one of tag, untag, archive, unarchive"))
        }
        if case .tag = action, tags.isEmpty { errors.append(FieldError("tags", "is required to tag")) }
        if case .untag = action, tags.isEmpty { errors.append(FieldError("tags", "is required to untag")) }
        guard errors.isEmpty, let action else { throw Problem.validation(errors) }
        return (action, ids)
    }

    static let workflowSchemas: [(String, JSONValue)] = [
        (
            "StageEvent",
            JSONSchema.strict(
                [
                    "id": JSONSchema.id, "applicationId": JSONSchema.id,
                    "fromStage": .object(["type": .array(["string", "null"])]), "toStage": JSONSchema.string,
                    "actor": JSONSchema.string, "at": JSONSchema.dateTime,
                    "reason": .object(["type": .array(["string", "null"])]),
                ], required: ["id", "applicationId", "fromStage", "toStage", "actor", "at"])
        ),
        (
            "StageHistory",
            JSONSchema.strict(["items": .object(["type": "array", "items": JSONSchema.ref("StageEvent")])], required: ["items"])
        ),
        (
            "BulkResults",
            JSONSchema.strict(
                [
                    "updated": JSONSchema.integer,
                    "results": .object([
                        "type": "array",
                        "items": JSONSchema.strict(
                            ["id": JSONSchema.id, "outcome": JSONSchema.enumeration(["updated", "unchanged", "not_found"])],
                            required: ["id", "outcome"]),
                    ]),
                ], required: ["results", "updated"])
        ),
    ]
}

extension StageEvent {
    var document: JSONObject {
        [
            "id": .string(id), "applicationId": .string(applicationID), "fromStage": fromStage.map(JSONValue.string) ?? .null,
            "toStage": .string(toStage), "actor": .string(actor), "at": .string(at), "reason": reason.map(JSONValue.string) ?? .null,
        ]
    }
}
