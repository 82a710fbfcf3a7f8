import Foundation

/// One problem with one field of a request, reported back to the client as it is.
public struct FieldError: Sendable, Hashable, Codable {
    /// A dotted path: `preferences.salaryMin`, `education[2].endYear`.
    public let field: String
    public let message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }
}

/// A request document that breaks the schema; carries every field error at once.
public struct ValidationError: Error, Sendable {
    public let errors: [FieldError]
    public init(_ errors: [FieldError]) { self.errors = errors }
    public init(_ field: String, _ message: String) { self.errors = [FieldError(field, message)] }
}

extension EntitySchema {
    /// Validates a create body: unknown and read-only fields are rejected, defaults applied,
    /// values normalized (trimmed strings, canonical dates and ids).
    public func validateCreate(_ input: JSONObject) throws(ValidationError) -> JSONObject {
        var errors: [FieldError] = []
        var output = Self.check(input, against: fields, path: "", errors: &errors, rejectReadOnly: true)
        for field in fields where output[field.name] == nil {
            if let value = field.defaultValue {
                output[field.name] = value
            } else if field.required && !errors.contains(where: { $0.field == field.name }) {
                errors.append(FieldError(field.name, "is required"))
            }
        }
        if errors.isEmpty { errors = documentErrors(output) }
        if !errors.isEmpty { throw ValidationError(errors) }
        return output
    }

    /// Applies a JSON merge patch (RFC 7396: `null` removes a field) to `existing` and
    /// validates the result; read-only fields of `existing` are kept as they were.
    public func validatePatch(_ patch: JSONObject, onto existing: JSONObject) throws(ValidationError) -> JSONObject {
        var errors: [FieldError] = []
        var merged = existing
        for (key, value) in patch {
            guard let field = field(key) else {
                errors.append(FieldError(key, "is not a field of \(kind.singular)"))
                continue
            }
            if field.readOnly {
                errors.append(FieldError(key, "is read-only"))
                continue
            }
            if value.isNull {
                if field.required {
                    errors.append(FieldError(key, "is required and cannot be removed"))
                } else {
                    merged[key] = nil
                }
                continue
            }
            if case .object(let nested) = field.type, let patchObject = value.objectValue,
                let current = existing[key]?.objectValue
            {
                var combined = current
                for (nestedKey, nestedValue) in patchObject {
                    combined[nestedKey] = nestedValue.isNull ? nil : nestedValue
                }
                merged[key] = .object(combined)
                _ = nested
            } else {
                merged[key] = value
            }
        }
        if !errors.isEmpty { throw ValidationError(errors) }
        var writable = merged.filter { key, _ in !(field(key)?.readOnly ?? false) }
        writable = Self.check(writable, against: fields, path: "", errors: &errors, rejectReadOnly: false)
        for field in fields where field.required && writable[field.name] == nil
            && !errors.contains(where: { $0.field == field.name })
        {
            errors.append(FieldError(field.name, "is required"))
        }
        // The rules between fields judge the merged record: a patch of `salaryMin` alone is
        // checked against the stored `salaryMax`.
        if errors.isEmpty { errors = documentErrors(writable) }
        if !errors.isEmpty { throw ValidationError(errors) }
        for field in fields where field.readOnly {
            if let value = existing[field.name] { writable[field.name] = value }
        }
        return writable
    }

    /// Rules between the fields of a whole, normalized document, which no single field's type
    /// can say: a salary band's low end is not above its high end (a job's band, and the band
    /// a candidate asks for).
    public func documentErrors(_ document: JSONObject) -> [FieldError] {
        var errors: [FieldError] = []
        func checkBand(_ object: JSONObject, prefix: String) {
            if let low = object["salaryMin"]?.doubleValue, let high = object["salaryMax"]?.doubleValue, low > high {
                errors.append(FieldError(prefix + "salaryMin", "must not be greater than \(prefix)salaryMax"))
            }
        }
        switch kind {
        case .job: checkBand(document, prefix: "")
        case .candidate:
            if let preferences = document["preferences"]?.objectValue { checkBand(preferences, prefix: "preferences.") }
        default: break
        }
        return errors
    }

    static func check(
        _ input: JSONObject, against fields: [Field], path: String, errors: inout [FieldError], rejectReadOnly: Bool
    ) -> JSONObject {
        var output: JSONObject = [:]
        for (key, value) in input {
            let name = path.isEmpty ? key : "\(path).\(key)"
            guard let field = fields.first(where: { $0.name == key }) else {
                errors.append(FieldError(name, "is not a known field"))
                continue
            }
            if field.readOnly && rejectReadOnly {
                errors.append(FieldError(name, "is read-only"))
                continue
            }
            if value.isNull { continue }
            if let normalized = normalize(value, as: field.type, path: name, errors: &errors) {
                if case .string(let text) = normalized, text.isEmpty, field.required {
                    errors.append(FieldError(name, "must not be empty"))
                    continue
                }
                output[key] = normalized
            }
        }
        return output
    }

    /// The normalized value, or nil with an error appended.
    public static func normalize(_ value: JSONValue, as type: FieldType, path: String, errors: inout [FieldError]) -> JSONValue? {
        func fail() -> JSONValue? {
            errors.append(FieldError(path, "must be \(type.expectation)"))
            return nil
        }
        switch type {
        case .string(let maxLength):
            guard let text = value.stringValue else { return fail() }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard trimmed.count <= maxLength else { return fail() }
            let multiline = maxLength >= TextRules.multilineFromLength
            if TextRules.hasForbiddenControl(trimmed, multiline: multiline) {
                errors.append(FieldError(path, TextRules.controlMessage(multiline: multiline)))
                return nil
            }
            return .string(trimmed)
        case .email:
            guard let text = value.stringValue?.trimmingCharacters(in: .whitespaces), Normalize.isEmail(text)
            else { return fail() }
            return .string(text)
        case .phone:
            guard let text = value.stringValue?.trimmingCharacters(in: .whitespaces), Normalize.isPhone(text)
            else { return fail() }
            return .string(text)
        case .url:
            guard let text = value.stringValue?.trimmingCharacters(in: .whitespaces), text.count <= 2000,
                !TextRules.hasForbiddenControl(text, multiline: false), let url = URL(string: text), let scheme = url.scheme?.lowercased(),
                scheme == "http" || scheme == "https", url.host?.isEmpty == false
            else { return fail() }
            return .string(text)
        case .integer(let min, let max):
            guard let number = value.intValue, number >= min, number <= max else { return fail() }
            return .int(number)
        case .number(let min, let max):
            guard let number = value.doubleValue, number.isFinite, number >= min, number <= max else { return fail() }
            return value
        case .boolean:
            guard value.boolValue != nil else { return fail() }
            return value
        case .enumeration(let allowed):
            guard let text = value.stringValue, allowed.contains(text) else { return fail() }
            return value
        case .dateTime:
            guard let text = value.stringValue, let canonical = Timestamp.canonical(text) else { return fail() }
            return .string(canonical)
        case .date:
            guard let text = value.stringValue, Timestamp.isDay(text) else { return fail() }
            return value
        case .reference, .userReference:
            guard let text = value.stringValue, let id = Identifier.canonical(text) else { return fail() }
            return .string(id)
        case .array(let element, let maxItems):
            guard let items = value.arrayValue, items.count <= maxItems else { return fail() }
            var result: [JSONValue] = []
            var seen = Set<JSONValue>()
            for (index, item) in items.enumerated() {
                guard let normalized = normalize(item, as: element, path: "\(path)[\(index)]", errors: &errors) else {
                    continue
                }
                // Lists of names (skills, tags, stages) are sets to a recruiter: drop repeats.
                if case .string(let text) = normalized, text.isEmpty { continue }
                if case .object = normalized {
                    result.append(normalized)
                } else if seen.insert(normalized).inserted {
                    result.append(normalized)
                }
            }
            return .array(result)
        case .object(let fields):
            guard let object = value.objectValue else { return fail() }
            return .object(check(object, against: fields, path: path, errors: &errors, rejectReadOnly: true))
        case .freeform:
            guard let object = value.objectValue, JSONCoding.encode(object).utf8.count <= 16_384 else { return fail() }
            if let location = TextRules.firstForbiddenControl(in: value, path: path) {
                errors.append(FieldError(location, TextRules.controlMessage(multiline: true)))
                return nil
            }
            return value
        }
    }
}
