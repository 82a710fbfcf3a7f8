import ATSDomain
import ATSStore
import ATSWork
import Hummingbird

/// Create, read, update, delete and list for every agency entity, from its schema.
extension RouteTable {
    func addEntityRoutes() {
        for kind in EntityKind.allCases {
            addEntityRoutes(kind)
        }
    }

    func addEntityRoutes(_ kind: EntityKind) {
        let schema = EntitySchema.of(kind)
        let gateway = self.gateway
        let base = "/api/v1/\(kind.pathSegment)"
        let name = kind.schemaName
        let tag = kind.pathSegment
        let writeRole: Role = (kind == .note) ? .hiringManager : .recruiter
        let idParameter = ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "The \(kind.singular)'s id.")

        add(
            Operation(
                method: .get, path: base, operationID: "list\(name)s", summary: "List \(kind.singular)s.", tag: tag,
                access: .role(.viewer), parameters: Self.listParameters(for: schema),
                success: (200, JSONSchema.ref("\(name)List"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let query = try Self.listQuery(QueryReader(request), schema: schema)
                let page = try await gateway.store.list(kind, organizationID: principal.organizationID, query: query)
                return gateway.page(page.items.map(\.json), next: page.nextCursor)
            })

        var createParameters: [ParameterDoc] = []
        if kind == .candidate {
            createParameters.append(
                ParameterDoc(
                    name: "allowDuplicate", location: .query, schema: JSONSchema.boolean,
                    summary: "Create even when a candidate with the same email or phone exists."))
        }
        add(
            Operation(
                method: .post, path: base, operationID: "create\(name)", summary: "Create a \(kind.singular).", tag: tag,
                access: .role(writeRole), parameters: createParameters, requestBody: JSONSchema.ref("\(name)Create"),
                success: (201, JSONSchema.ref(name), "application/json"), errors: [409]
            ) { request, context in
                let principal = try gateway.principal(context)
                let input = try await gateway.jsonObject(request)
                let allowDuplicate = try QueryReader(request).bool("allowDuplicate") ?? false
                let record = try await gateway.create(kind, input: input, principal: principal, allowDuplicate: allowDuplicate)
                return gateway.json(record.json, status: .created, headers: [.location: "\(base)/\(record.id)"])
            })

        add(
            Operation(
                method: .get, path: "\(base)/{id}", operationID: "get\(name)", summary: "Read a \(kind.singular).", tag: tag,
                access: .role(.viewer), parameters: [idParameter], success: (200, JSONSchema.ref(name), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                guard let document = try await gateway.store.document(kind, organizationID: principal.organizationID, id: id)
                else { throw Problem.notFound("This \(kind.singular)") }
                return gateway.json(document)
            })

        add(
            Operation(
                method: .patch, path: "\(base)/{id}", operationID: "update\(name)",
                summary: "Change some fields of a \(kind.singular) (JSON merge patch: null removes a field).", tag: tag,
                access: .role(kind == .interview ? .hiringManager : .recruiter),
                parameters: [idParameter] + createParameters, requestBody: JSONSchema.ref("\(name)Update"),
                success: (200, JSONSchema.ref(name), "application/json"), errors: [409]
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let patch = try await gateway.jsonObject(request)
                let allowDuplicate = try QueryReader(request).bool("allowDuplicate") ?? false
                if kind == .interview && principal.role == .hiringManager {
                    try await gateway.checkInterviewFeedback(id: id, patch: patch, principal: principal)
                }
                let record = try await gateway.store.update(
                    kind, organizationID: principal.organizationID, id: id, actor: principal.actor,
                    options: WriteOptions(allowDuplicate: allowDuplicate)
                ) { current in
                    let merged = try schema.validatePatch(patch, onto: current.fields)
                    try Gateway.checkRules(kind, merged)
                    return merged
                }
                return gateway.json(record.json)
            })

        add(
            Operation(
                method: .delete, path: "\(base)/{id}", operationID: "delete\(name)", summary: "Delete a \(kind.singular).",
                tag: tag, access: .role(.recruiter), parameters: [idParameter], success: (204, nil, "application/json"),
                errors: [409]
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                try await gateway.store.delete(kind, organizationID: principal.organizationID, id: id, actor: principal.actor)
                return gateway.noContent()
            })
    }

    static func listParameters(for schema: EntitySchema) -> [ParameterDoc] {
        var parameters = [
            ParameterDoc(
                name: "limit", location: .query,
                schema: .object(["type": "integer", "minimum": 1, "maximum": .int(Int64(PageRequest.maxLimit))]),
                summary: "Page size (default \(PageRequest.defaultLimit))."),
            ParameterDoc(name: "cursor", location: .query, schema: JSONSchema.string, summary: "From `nextCursor`."),
            ParameterDoc(
                name: "sort", location: .query, schema: JSONSchema.enumeration(SortOrder.allParameters),
                summary: "Order; `-` for descending (default `-createdAt`)."),
            ParameterDoc(
                name: "updatedSince", location: .query, schema: JSONSchema.dateTime,
                summary: "Only rows updated at or after this time."),
        ]
        for filter in schema.filters {
            parameters.append(ParameterDoc(name: filter.name, location: .query, schema: JSONSchema.of(filter.type), summary: "Filter."))
        }
        if schema.hasTags {
            parameters.append(ParameterDoc(name: "tag", location: .query, schema: .object(["type": "string", "maxLength": 50]), summary: "Rows with this tag."))
        }
        return parameters
    }

    static func listQuery(_ query: QueryReader, schema: EntitySchema) throws -> ListQuery {
        var result = ListQuery(page: try query.page())
        if let raw = query["sort"] {
            guard let sort = SortOrder(parameter: raw) else {
                throw Problem.badRequest("invalid-parameter", "`sort` must be one of \(SortOrder.allParameters.joined(separator: ", ")).")
            }
            result.sort = sort
        }
        if let raw = query["updatedSince"] {
            guard let time = Timestamp.canonical(raw) else {
                throw Problem.badRequest("invalid-parameter", "`updatedSince` must be an RFC 3339 date-time.")
            }
            result.updatedSince = time
        }
        for filter in schema.filters {
            guard let raw = query[filter.name] else { continue }
            var errors: [FieldError] = []
            guard let value = EntitySchema.normalize(.string(raw), as: Self.queryType(filter.type), path: filter.name, errors: &errors)
            else {
                throw Problem.badRequest("invalid-parameter", "`\(filter.name)` must be \(filter.type.expectation).")
            }
            switch value {
            case .string(let text): result.equals[filter.field] = text
            case .bool(let flag): result.equals[filter.field] = flag ? "true" : "false"
            default: result.equals[filter.field] = raw
            }
        }
        if schema.hasTags, let tag = query["tag"] {
            guard tag.count <= 50 else { throw Problem.badRequest("invalid-parameter", "`tag` is at most 50 characters.") }
            result.tag = tag.trimmingCharacters(in: .whitespaces)
        }
        return result
    }

    /// Query strings carry text: booleans are read as text first.
    static func queryType(_ type: FieldType) -> FieldType {
        if case .boolean = type { return .enumeration(["true", "false"]) }
        return type
    }
}

extension Gateway {
    /// Validates and creates, with the role rules that depend on the document (a hiring
    /// manager writes notes on their own jobs only) and the fields the server sets.
    func create(_ kind: EntityKind, input: JSONObject, principal: Principal, allowDuplicate: Bool) async throws -> Record {
        let fields = try EntitySchema.of(kind).validateCreate(input)
        try Self.checkRules(kind, fields)
        if kind == .note && principal.role == .hiringManager {
            try await checkHiringManagerNote(fields, principal: principal)
        }
        return try await store.create(
            kind, organizationID: principal.organizationID, fields: fields, actor: principal.actor,
            options: WriteOptions(allowDuplicate: allowDuplicate))
    }

    /// Rules of a validated document that need more than the schema: an email template's
    /// `{{` syntax and variable names, reported with the field and the place.
    static func checkRules(_ kind: EntityKind, _ fields: JSONObject) throws(ValidationError) {
        guard kind == .emailTemplate else { return }
        var errors: [FieldError] = []
        for name in ["subject", "body"] {
            if let text = fields[name]?.stringValue, let fault = EmailTemplate(text).firstFault() {
                errors.append(FieldError(name, fault.located))
            }
        }
        if !errors.isEmpty { throw ValidationError(errors) }
    }

    /// Whether the job is one the hiring manager is named on.
    func isHiringManager(of jobID: String, principal: Principal) async throws -> Bool {
        guard let userID = principal.userID,
            let job = try await store.record(.job, organizationID: principal.organizationID, id: jobID)
        else { return false }
        return job["hiringManagerIds"]?.stringArray.contains(userID) ?? false
    }

    /// A hiring manager writes only about what their own jobs touch, and every field of the
    /// note that names something must pass on its own: the job is one of theirs, the
    /// application is on one of their jobs, the candidate has an application on one of their
    /// jobs (the rule of `POST /candidates/{id}/notes`). Naming one of their jobs must not
    /// open another field to any candidate of the organization.
    func checkHiringManagerNote(_ fields: JSONObject, principal: Principal) async throws {
        let org = principal.organizationID
        let refusal = Problem.forbidden("Hiring managers write notes on candidates, applications and jobs of their own jobs only.")
        var named = false
        if let job = fields["jobId"]?.stringValue {
            named = true
            guard try await isHiringManager(of: job, principal: principal) else { throw refusal }
        }
        if let applicationID = fields["applicationId"]?.stringValue {
            named = true
            guard let application = try await store.record(.application, organizationID: org, id: applicationID),
                let job = application["jobId"]?.stringValue, try await isHiringManager(of: job, principal: principal)
            else { throw refusal }
        }
        if let candidateID = fields["candidateId"]?.stringValue {
            named = true
            guard try await hasApplicationOnOwnJob(candidateID: candidateID, principal: principal) else { throw refusal }
        }
        guard named else { throw refusal }
    }

    /// Whether the candidate has an application on a job the hiring manager is named on.
    func hasApplicationOnOwnJob(candidateID: String, principal: Principal) async throws -> Bool {
        var query = ListQuery(equals: ["candidateId": candidateID], page: PageRequest(limit: PageRequest.maxLimit))
        while true {
            let page = try await store.list(.application, organizationID: principal.organizationID, query: query)
            for item in page.items {
                if let object = JSONCoding.decodeObject(Array(item.json.utf8)), let job = object["jobId"]?.stringValue,
                    try await isHiringManager(of: job, principal: principal)
                {
                    return true
                }
            }
            guard let next = page.nextCursor else { return false }
            query.page = PageRequest(limit: PageRequest.maxLimit, cursor: next)
        }
    }

    func checkInterviewFeedback(id: String, patch: JSONObject, principal: Principal) async throws {
        let allowed: Set<String> = ["feedback", "rating", "recommendation", "status"]
        guard patch.keys.allSatisfy(allowed.contains) else {
            throw Problem.forbidden("Hiring managers may change only feedback, rating, recommendation and status.")
        }
        guard let interview = try await store.record(.interview, organizationID: principal.organizationID, id: id) else {
            throw Problem.notFound("This interview")
        }
        guard let job = interview["jobId"]?.stringValue, try await isHiringManager(of: job, principal: principal) else {
            throw Problem.forbidden("Hiring managers give feedback on interviews of their own jobs only.")
        }
    }
}
