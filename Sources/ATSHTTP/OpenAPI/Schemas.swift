import ATSDomain
import ATSStore

/// JSON Schema (OpenAPI 3.1 dialect) for the entity schemas of `ATSDomain`: the same
/// definitions that validate requests describe them.
enum JSONSchema {
    static func ref(_ name: String) -> JSONValue { .object(["$ref": .string("#/components/schemas/\(name)")]) }

    static let id: JSONValue = .object([
        "type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
        "description": "A ULID.",
    ])
    static let dateTime: JSONValue = .object(["type": "string", "format": "date-time"])
    static let string: JSONValue = .object(["type": "string"])
    static let boolean: JSONValue = .object(["type": "boolean"])
    static let integer: JSONValue = .object(["type": "integer"])

    static func of(_ type: FieldType) -> JSONValue {
        switch type {
        case .string(let maxLength):
            return .object(["type": "string", "maxLength": .int(Int64(maxLength))])
        case .email:
            return .object(["type": "string", "format": "email", "maxLength": 254])
        case .phone:
            return .object(["type": "string", "pattern": "^[0-9+()./ -]{5,40}$", "maxLength": 40])
        case .url:
            return .object(["type": "string", "format": "uri", "maxLength": 2000])
        case .integer(let min, let max):
            return .object(["type": "integer", "minimum": .int(min), "maximum": .int(max)])
        case .number(let min, let max):
            return .object(["type": "number", "minimum": .double(min), "maximum": .double(max)])
        case .boolean:
            return boolean
        case .enumeration(let values):
            return .object(["type": "string", "enum": .array(values.map(JSONValue.string))])
        case .dateTime:
            return dateTime
        case .date:
            return .object(["type": "string", "format": "date"])
        case .reference, .userReference:
            return id
        case .array(let element, let maxItems):
            return .object(["type": "array", "items": of(element), "maxItems": .int(Int64(maxItems))])
        case .object(let fields):
            return object(fields, required: [], additional: false)
        case .freeform:
            return .object(["type": "object"])
        }
    }

    static func object(_ fields: [Field], required: [String], additional: Bool, nullable: Bool = false) -> JSONValue {
        var properties: JSONObject = [:]
        for field in fields {
            var schema = of(field.type)
            // Required text must say something: "" and "   " are rejected.
            if field.required, case .string = field.type, case .object(var object) = schema {
                object["minLength"] = 1
                object["pattern"] = "\\S"
                schema = .object(object)
            }
            if !field.summary.isEmpty, case .object(var object) = schema {
                object["description"] = .string(field.summary)
                schema = .object(object)
            }
            if nullable && !field.required { schema = .object(["anyOf": .array([schema, .object(["type": "null"])])]) }
            properties[field.name] = schema
        }
        var schema: JSONObject = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        if !additional { schema["additionalProperties"] = false }
        return .object(schema)
    }

    /// The three schemas of an entity: what the API returns, what create takes, what PATCH takes.
    static func components(for schema: EntitySchema) -> [(String, JSONValue)] {
        let writable = schema.fields.filter { !$0.readOnly }
        var output = schema.fields.map { field in field }
        output.append(Field("id", .reference(schema.kind)))
        output.append(Field("createdAt", .dateTime))
        output.append(Field("updatedAt", .dateTime))
        let requiredOut = ["id", "createdAt", "updatedAt"] + schema.fields.filter(\.required).map(\.name)
        var outputSchema = object(output, required: requiredOut, additional: false)
        if case .object(var object) = outputSchema {
            object["description"] = .string(schema.kind == .candidate ? schema.summary + " Field names follow the Emineon schema." : schema.summary)
            outputSchema = .object(object)
        }
        return [
            (schema.kind.schemaName, outputSchema),
            (schema.kind.schemaName + "Create", object(writable, required: writable.filter(\.required).map(\.name), additional: false)),
            (schema.kind.schemaName + "Update", object(writable, required: [], additional: false, nullable: true)),
            (schema.kind.schemaName + "List", list(of: schema.kind.schemaName)),
        ]
    }

    static func list(of name: String) -> JSONValue {
        .object([
            "type": "object", "required": ["items", "nextCursor"], "additionalProperties": false,
            "properties": .object([
                "items": .object(["type": "array", "items": ref(name)]),
                "nextCursor": .object([
                    "type": .array(["string", "null"]),
                    "description": "Pass as `cursor` to read the next page; null on the last page.",
                ]),
            ]),
        ])
    }

    static let problem: JSONValue = .object([
        "type": "object", "required": ["type", "title", "status", "detail"],
        "description": "RFC 9457 problem details. `type` is stable: branch on it.",
        "properties": .object([
            "type": string, "title": string, "status": integer, "detail": string, "instance": string,
            "requestId": string, "existingId": id,
            "errors": .object([
                "type": "array",
                "items": .object([
                    "type": "object", "required": ["field", "message"],
                    "properties": .object(["field": string, "message": string]),
                ]),
            ]),
        ]),
    ])

    static func strict(_ properties: JSONObject, required: [String]) -> JSONValue {
        .object([
            "type": "object", "properties": .object(properties), "required": .array(required.map(JSONValue.string)),
            "additionalProperties": false,
        ])
    }

    static func enumeration(_ values: [String]) -> JSONValue {
        .object(["type": "string", "enum": .array(values.map(JSONValue.string))])
    }
}

