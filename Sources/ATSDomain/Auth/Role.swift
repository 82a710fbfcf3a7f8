/// What a user or API key may do. Ordered: each role can do what the ones before it can.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    case viewer
    case hiringManager = "hiring_manager"
    case recruiter
    case admin

    var rank: Int {
        switch self {
        case .viewer: 0
        case .hiringManager: 1
        case .recruiter: 2
        case .admin: 3
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// Who is making a request: a signed-in user or an API key, always inside one organization.
public struct Principal: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case user(id: String)
        case apiKey(id: String)
    }

    public let organizationID: String
    public let organizationSlug: String
    public let role: Role
    public let kind: Kind

    public init(organizationID: String, organizationSlug: String, role: Role, kind: Kind) {
        self.organizationID = organizationID
        self.organizationSlug = organizationSlug
        self.role = role
        self.kind = kind
    }

    /// The user id, when a person (not a key) is acting.
    public var userID: String? {
        if case .user(let id) = kind { return id }
        return nil
    }

    /// How the audit log names the actor: `user:<id>` or `key:<id>`.
    public var actor: String {
        switch kind {
        case .user(let id): "user:\(id)"
        case .apiKey(let id): "key:\(id)"
        }
    }

    /// A key for rate limits and logs that names no person.
    public var rateLimitKey: String {
        switch kind {
        case .user(let id): "u:\(id)"
        case .apiKey(let id): "k:\(id)"
        }
    }
}
