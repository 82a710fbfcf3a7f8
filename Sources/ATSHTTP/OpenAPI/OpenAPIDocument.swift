import ATSDomain

/// Builds `/openapi.json` (OpenAPI 3.1) from the route table and the entity schemas.
enum OpenAPIDocument {
    /// Statuses any route can answer, and those that depend on what the route does.
    static let common: [Int] = [429, 500]

    static func build(operations: [Operation], extraSchemas: [(String, JSONValue)]) -> JSONObject {
        var paths: [String: JSONObject] = [:]
        for operation in operations {
            var item = paths[operation.path] ?? [:]
            item[operation.method.rawValue.lowercased()] = .object(describe(operation))
            paths[operation.path] = item
        }
        var schemas: JSONObject = ["Problem": JSONSchema.problem]
        for kind in EntityKind.allCases {
            for (name, schema) in JSONSchema.components(for: EntitySchema.of(kind)) { schemas[name] = schema }
        }
        for (name, schema) in extraSchemas { schemas[name] = schema }
        return [
            "openapi": "3.1.0",
            "info": .object([
                "title": "Emineon ATS appliance API",
                "version": "1.0.0",
                "description": """
                    The JSON API of the agency applicant tracking system. Authenticate with \
                    `Authorization: Bearer <key>` (an API key from `ats token create`, or a session token \
                    from `POST /api/v1/auth/login`). Errors are RFC 9457 `application/problem+json`. \
                    Lists page with opaque cursors (`limit` at most 200).
                    """,
            ]),
            "servers": .array([.object(["url": "/"])]),
            "paths": .object(paths.mapValues { .object($0) }),
            "components": .object([
                "schemas": .object(schemas),
                "securitySchemes": .object([
                    "bearer": .object(["type": "http", "scheme": "bearer", "description": "An API key or a session token."])
                ]),
            ]),
        ]
    }

    static func describe(_ operation: Operation) -> JSONObject {
        var doc: JSONObject = [
            "operationId": .string(operation.operationID),
            "summary": .string(operation.summary),
            "tags": .array([.string(operation.tag)]),
        ]
        var parameters: [JSONValue] = []
        for parameter in operation.parameters {
            var entry: JSONObject = [
                "name": .string(parameter.name), "in": .string(parameter.location.rawValue),
                "required": .bool(parameter.required), "schema": parameter.schema,
            ]
            if !parameter.summary.isEmpty { entry["description"] = .string(parameter.summary) }
            parameters.append(.object(entry))
        }
        if !parameters.isEmpty { doc["parameters"] = .array(parameters) }
        if let body = operation.requestBody {
            doc["requestBody"] = .object([
                "required": true, "content": .object([operation.requestContentType: .object(["schema": body])]),
            ])
        }
        var statuses = Set(common).union(operation.errors)
        if case .role = operation.access {
            doc["security"] = .array([.object(["bearer": .array([])])])
            statuses.formUnion([401, 403])
        }
        if operation.requestBody != nil { statuses.formUnion([400, 413, 422]) }
        if operation.parameters.contains(where: { $0.location == .path }) { statuses.formUnion([400, 404]) }
        if operation.parameters.contains(where: { $0.location == .query }) { statuses.insert(400) }
        var responses: JSONObject = [:]
        var success: JSONObject = ["description": "Success."]
        if let schema = operation.success.schema {
            success["content"] = .object([operation.success.contentType: .object(["schema": schema])])
        }
        responses[String(operation.success.status)] = .object(success)
        for status in statuses.sorted() {
            responses[String(status)] = .object([
                "description": .string(description(of: status)),
                "content": .object(["application/problem+json": .object(["schema": JSONSchema.ref("Problem")])]),
            ])
        }
        doc["responses"] = .object(responses)
        return doc
    }

    static func description(of status: Int) -> String {
        switch status {
        case 400: "Malformed request: bad JSON, parameter or id."
        case 401: "No valid credentials."
        case 403: "The role does not allow this."
        case 404: "No such resource in this organization."
        case 409: "Conflicts with stored data (duplicate, still referenced ...)."
        case 413: "Body over the limit."
        case 422: "Invalid fields; `errors` lists each."
        case 429: "Rate limited; see Retry-After."
        case 500: "Unexpected server error (never for bad input)."
        case 503: "Not ready or store unavailable."
        default: "Error."
        }
    }
}
