/// The type of one field of an entity document; drives validation and the OpenAPI schemas,
/// so what the API accepts and what it documents cannot drift apart.
public indirect enum FieldType: Sendable {
    case string(maxLength: Int)
    case email
    case phone
    case url
    case integer(min: Int64, max: Int64)
    case number(min: Double, max: Double)
    case boolean
    case enumeration([String])
    /// An RFC 3339 date-time, stored in canonical UTC form.
    case dateTime
    /// A calendar date `YYYY-MM-DD`.
    case date
    /// The id of another entity of the same organization.
    case reference(EntityKind)
    /// The id of a user of the same organization.
    case userReference
    case array(FieldType, maxItems: Int)
    case object([Field])
    /// Any JSON object (saved search filters, settings): bounded by size only.
    case freeform
}

/// One field of an entity: its JSON name, type and rules.
public struct Field: Sendable {
    public let name: String
    public let type: FieldType
    public let required: Bool
    /// Set by the server; rejected in input.
    public let readOnly: Bool
    /// Applied on create when the field is absent.
    public let defaultValue: JSONValue?
    public let summary: String

    public init(
        _ name: String, _ type: FieldType, required: Bool = false, readOnly: Bool = false,
        default defaultValue: JSONValue? = nil, _ summary: String = ""
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.readOnly = readOnly
        self.defaultValue = defaultValue
        self.summary = summary
    }
}

extension FieldType {
    /// A short phrase for error messages.
    public var expectation: String {
        switch self {
        case .string(let max): "a string of at most \(max) characters"
        case .email: "an email address"
        case .phone: "a phone number"
        case .url: "an http(s) URL"
        case .integer(let min, let max): "an integer from \(min) to \(max)"
        case .number(let min, let max): "a number from \(min) to \(max)"
        case .boolean: "true or false"
        case .enumeration(let values): "one of \(values.joined(separator: ", "))"
        case .dateTime: "an RFC 3339 date-time"
        case .date: "a date YYYY-MM-DD"
        case .reference(let kind): "the id of a \(kind.singular)"
        case .userReference: "the id of a user"
        case .array(let element, let max): "an array of at most \(max) items, each \(element.expectation)"
        case .object: "an object"
        case .freeform: "a JSON object"
        }
    }
}
