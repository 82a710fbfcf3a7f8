/// The searchable fields of each kind and their ranking weights: a hit in a name or title
/// must outrank one in a summary, so weights fall from 10 (name/title) to 1 (CV text).
public enum SearchSchema {
    /// One searchable field.
    public struct Field: Sendable, Hashable {
        public let name: String
        public let weight: Double
    }

    /// The fields of `kind`, in the order the index stores them.
    public static func fields(_ kind: SearchKind) -> [Field] {
        switch kind {
        case .candidate:
            [
                Field(name: "name", weight: 10), Field(name: "title", weight: 10),
                Field(name: "headline", weight: 4), Field(name: "skills", weight: 6),
                Field(name: "summary", weight: 2), Field(name: "cv", weight: 1),
            ]
        case .job:
            [
                Field(name: "title", weight: 10), Field(name: "skills", weight: 6),
                Field(name: "description", weight: 2), Field(name: "requirements", weight: 3),
            ]
        case .client:
            [
                Field(name: "name", weight: 10), Field(name: "industry", weight: 3),
                Field(name: "description", weight: 2),
            ]
        }
    }
}
